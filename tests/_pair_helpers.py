"""Helpers of the pair tests: a tiny registered probe/donor model and tiny generated pair sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tamperscope.engine.config import ExperimentConfig, config_from_dict
from tamperscope.io import write_image
from tamperscope.models.base import TamperModel
from tamperscope.models.outputs import PAIR_CLASSES, PairOutput
from tamperscope.registry import list_models, register_model

TINY_PAIR = "pair-test-tiny"


class TinyPairModel(TamperModel):
    """A shared convolution, a correlation with the other image's mean feature, stride 8."""

    classes = PAIR_CLASSES
    output_stride = 8

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()
        )
        self.set_normalization([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
        self.head = nn.Conv2d(2 * width, 2, 1)

    def _logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        fa = F.avg_pool2d(self.features((a - self.mean) / self.std), 8)
        fb = F.avg_pool2d(self.features((b - self.mean) / self.std), 8)
        other = fb.mean(dim=(2, 3), keepdim=True).expand_as(fa)
        return self.head(torch.cat([fa, fa * other], 1))

    def forward(self, probe: torch.Tensor, donor: torch.Tensor) -> PairOutput:
        return PairOutput(
            probe_logits=self._logits(probe, donor), donor_logits=self._logits(donor, probe)
        )


if TINY_PAIR not in list_models():

    @register_model(TINY_PAIR, task="pair")
    def _tiny_pair(**kwargs: Any) -> TinyPairModel:
        return TinyPairModel(**kwargs)


def photos(folder: Path, count: int = 4, seed: int = 7, size: int = 96) -> Path:
    """Textured colour photos (smooth gradients plus noise) for the splice generator."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 150, size, dtype=np.float32)
    for i in range(count):
        noise = rng.integers(0, 100, (size, size, 3)).astype(np.float32)
        tint = rng.integers(0, 100, 3).astype(np.float32)
        image = noise + ramp[None, :, None] * (i % 2) + ramp[:, None, None] * (1 - i % 2) + tint
        write_image(folder / f"photo{i}.png", np.clip(image, 0, 255).astype(np.uint8))
    return folder


def make_pair_set(root: Path, n: int = 6, seed: int = 0, size: int = 64) -> Path:
    """``n`` splice pairs (DMAC's thirds) at ``size`` x ``size`` written by the generator."""
    from tamperscope.synth.generate import generate_splice_pairs

    generate_splice_pairs(
        root,
        n=n,
        seed=seed,
        images=str(photos(root.parent / f"photos-{root.name}")),
        size=(size, size),
    )
    return root


def tiny_pair_config(train_root: Path | None, **sections: dict[str, Any]) -> ExperimentConfig:
    """A config for fast CPU runs of the tiny pair model."""
    values: dict[str, Any] = {
        "recipe": "dmac",
        "model": {"name": TINY_PAIR, "kwargs": {"width": 8}},
        "data": {
            "reader": "generated-pairs",
            "train_roots": [str(train_root)] if train_root is not None else [],
            "val_fraction": 0.34,
            "image_size": 32,
            "batch_size": 2,
            "hflip": 0.5,
        },
        "pairs": {
            "pretrain_epochs": 1,
            "detector_kwargs": {"channels": [4, 8], "hidden": 16, "grid": 2},
            "discriminator_kwargs": {"channels": [4, 8], "grid": 2},
        },
        "train": {
            "epochs": 3,
            "checkpoint_every": 0,
            "log_every": 1,
            "device": "cpu",
            "progress": False,
            "seed": 5,
            "monitor": "iou",
        },
    }
    for section, extra in sections.items():
        if isinstance(extra, dict):
            values.setdefault(section, {}).update(extra)
        else:
            values[section] = extra
    return config_from_dict(values)
