"""End to end: the shipped DOA-GAN model in the engine; training on sets generated from
real photos (``../shared/data``, skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _engine_helpers import bsds500_photos, tiny_config, write_generated_set

from tamperscope.engine import export_weights, load_checkpoint, train


@pytest.mark.slow
def test_doagan_effnet_lite0_trains_and_reloads(tmp_path: Path) -> None:
    root = write_generated_set(tmp_path / "gen", 4, negatives=1)
    kwargs = {"num_classes": 3, "aspp_channels": 16, "head_channels": 16}
    cfg = tiny_config(
        root,
        model={"name": "doagan-effnet-lite0", "kwargs": kwargs},
        doagan={"discriminator_kwargs": {}},
        data={"image_size": 64, "val_fraction": 0.0},
    )
    summary = train(cfg, tmp_path / "run", max_steps=1)
    assert summary["step"] == 1
    out = export_weights(summary["checkpoint"], tmp_path / "doagan.safetensors")
    model = load_checkpoint(out)
    assert model.config["aspp_channels"] == 16
    with torch.no_grad():
        result = model(torch.rand(1, 3, 64, 64))
    assert result.mask_logits.shape == (1, 3, 64, 64)
    assert torch.isfinite(result.mask_logits).all()


@pytest.mark.realdata
def test_training_on_copy_moves_generated_from_bsds500(tmp_path: Path) -> None:
    photos = bsds500_photos("val")
    from tamperscope.synth.generate import generate_copy_move

    out = tmp_path / "cm"
    generate_copy_move(
        out,
        6,
        seed=0,
        images=str(photos),
        regions="bsds500",
        negatives=0.34,
        max_side=96,
        random_attacks=0.5,
    )
    cfg = tiny_config(
        out, data={"image_size": 64, "val_fraction": 0.0, "attacks": ["jpeg"], "attack_prob": 0.5}
    )
    summary = train(cfg, tmp_path / "run", max_steps=2)
    assert summary["step"] == 2
    assert (Path(summary["checkpoint"]) / "model.safetensors").is_file()
