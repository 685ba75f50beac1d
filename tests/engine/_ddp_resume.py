"""Run under ``torchrun --nproc_per_node 2``: ``argv[2]`` steps of the tiny DOA-GAN run in the
run folder ``argv[1]`` (on the generated sets beside it), resuming when ``argv[3]`` is given."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from _engine_helpers import tiny_config

from tamperscope.engine import train

torch.set_num_threads(1)
run = Path(sys.argv[1])
cfg = tiny_config(
    run.parent / "gen",
    data={"val_fraction": 0.0, "val_roots": [str(run.parent / "val")]},
    loss={"adversarial": "lsgan"},
    doagan={"warmup_epochs": 1},
)
train(cfg, run, max_steps=int(sys.argv[2]), resume=len(sys.argv) > 3)
