"""The MVSS recipe: binary data from generated sets, the loss terms, the Bayar constraint,
validation, exact resume, export and the config errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from _engine_helpers import (
    merge_sections,
    tiny_config,
    train_with_resume,
    write_generated_set,
    write_image_set,
)
from safetensors.torch import load_file
from typer.testing import CliRunner

import tamperscope
from tamperscope.cli import app
from tamperscope.engine import (
    ConfigError,
    ExperimentConfig,
    MvssRecipe,
    Trainer,
    TrainingError,
    config_to_dict,
    export_weights,
    load_config,
    train,
)
from tamperscope.engine.recipes import recipe_for
from tamperscope.engine.recipes.mvss import MVSS_VALIDATION_KEYS, boundary_band
from tamperscope.models.layers.bayar import BayarConv2d
from tamperscope.models.outputs import LocalizationOutput

ROOT = Path(__file__).resolve().parents[2]
MODEL_KWARGS = {"num_stages": 2, "fpn_channels": 8, "ppm_channels": 8, "edge_channels": 4}


def write_binary_set(root: Path, n: int, seed: int = 0, size: int = 64) -> Path:
    """A set in the layout of ``tamperscope synth inpainting``: binary 0/255 masks."""
    rng = np.random.default_rng(seed)

    def samples() -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        for i in range(n):
            image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            mask = np.zeros((size, size), dtype=np.uint8)
            label = int(i < n - 1)
            if label:
                y, x = rng.integers(0, size // 2, 2)
                mask[y : y + size // 3, x : x + size // 3] = 255
                image[mask > 0] = image[mask > 0] // 4
            yield image, mask, label

    return write_image_set(
        root, samples(), kind="inpainting", mask_kind="binary", seed=seed, originals=False
    )


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A copy-move set (3-class masks) and an inpainting-like set (binary masks)."""
    base = tmp_path_factory.mktemp("mvss")
    return [write_generated_set(base / "cm", 4, seed=1), write_binary_set(base / "inp", 4, seed=2)]


def mvss_config(roots: list[Path], **sections: Any) -> ExperimentConfig:
    """A tiny MVSS run: 2-stage EfficientNet-Lite0, 32 x 32 images, batch 2, 6 + 2 samples."""
    values: dict[str, Any] = {
        "model": {"name": "mvss-effnet-lite0", "kwargs": dict(MODEL_KWARGS)},
        "data": {"train_roots": [str(r) for r in roots], "val_fraction": 0.25},
        "optim": {"lr_generator": 1e-3, "lr_backbone": 1e-3},
        "train": {"monitor": "f1", "epochs": 2},
        "recipe": "",
    }
    cfg = tiny_config(roots[0], **merge_sections(values, sections))
    cfg.data.train_roots = [str(r) for r in roots]
    return cfg


def _bayar(trainer: Trainer) -> BayarConv2d:
    layers = [m for m in trainer.model.modules() if isinstance(m, BayarConv2d)]
    assert len(layers) == 1
    return layers[0]


def _assert_constrained(layer: BayarConv2d) -> None:
    c = layer.centre
    w = layer.weight.detach()
    assert bool((w[:, :, c, c] == -1.0).all())
    off = w.sum(dim=(2, 3)) - w[:, :, c, c]
    torch.testing.assert_close(off, torch.ones_like(off))


def test_boundary_band() -> None:
    mask = torch.zeros(1, 8, 8, dtype=torch.int64)
    mask[0, 2:6, 2:6] = 1
    band = boundary_band(mask, 3)
    assert band.dtype == torch.int64 and band.shape == (1, 8, 8)
    expected = torch.zeros(8, 8, dtype=torch.int64)
    expected[1:7, 1:7] = 1
    expected[3:5, 3:5] = 0
    assert torch.equal(band[0], expected)
    assert not boundary_band(torch.ones(2, 5, 5, dtype=torch.int64), 3).any()
    assert not boundary_band(torch.zeros(2, 5, 5, dtype=torch.int64), 5).any()
    assert not boundary_band(mask, 1).any()
    with pytest.raises(ValueError, match="odd and >= 1"):
        boundary_band(mask, 2)


def test_localization_models_select_the_mvss_recipe(sets: list[Path]) -> None:
    cfg = mvss_config(sets)
    assert cfg.recipe == "" and recipe_for(cfg) is MvssRecipe
    assert cfg.mvss.alpha == 0.04 and cfg.mvss.beta == 0.16 and cfg.mvss.edge_weight == 0.8


def test_training_steps_on_copy_move_and_inpainting_sets(sets: list[Path], tmp_path: Path) -> None:
    # Validation on a forged and a pristine image: every quantity is defined.
    val = write_binary_set(tmp_path / "val", 2, seed=5)
    trainer = Trainer(mvss_config(sets, data={"val_roots": [str(val)]}), tmp_path / "run")
    recipe = trainer.recipe
    assert isinstance(recipe, MvssRecipe) and trainer.config.recipe == "mvss"
    # The 3-class copy-move masks and the 0/255 binary masks both arrive as {0, 1}.
    for i in range(len(trainer.train_data)):
        item = trainer.train_data[i]
        assert set(item["mask"].unique().tolist()) <= {0, 1}
        assert (item["mask"].sum() > 0) == bool(item["label"])
    assert recipe.mask_classes() == ["manipulated"]
    bayar = _bayar(trainer)
    _assert_constrained(bayar)
    batch = next(iter(torch.utils.data.DataLoader(trainer.train_data, batch_size=2)))
    before = bayar.weight.detach().clone()
    stats = trainer.train_step(batch)
    assert set(stats) == {"total", "det", "seg"}
    assert all(np.isfinite(v) for v in stats.values())
    torch.testing.assert_close(
        torch.tensor(stats["total"]), torch.tensor(0.04 * stats["det"] + 0.16 * stats["seg"])
    )
    assert not torch.equal(bayar.weight.detach(), before)  # it learns ...
    _assert_constrained(bayar)  # ... within the constraint

    summary = trainer.fit()
    assert summary["step"] == 8 and summary["recipe"] == "mvss"
    record = summary["last_validation"]
    assert np.isfinite(record["val/loss"]) and record["val/loss"] > 0
    for key in ("val/f1", "val/auc"):
        assert isinstance(record[key], float) and 0.0 <= record[key] <= 1.0, key
    _assert_constrained(bayar)
    run = tmp_path / "run"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["recipe"] == "mvss" and saved["mvss"]["beta"] == 0.16
    tags = {json.loads(line)["tag"] for line in (run / "scalars.jsonl").read_text().splitlines()}
    assert {"train/total", "train/det", "train/seg", "val/loss", "val/f1", "val/auc"} <= tags


@pytest.mark.parametrize("edge_loss", ["dice", "bce"])
def test_edge_branch_adds_the_edge_loss(sets: list[Path], tmp_path: Path, edge_loss: str) -> None:
    cfg = mvss_config(
        sets,
        model={"kwargs": {**MODEL_KWARGS, "edge_branch": True}},
        mvss={"edge_loss": edge_loss, "edge_weight": 0.5},
    )
    trainer = Trainer(cfg, tmp_path / "run")
    batch = next(iter(torch.utils.data.DataLoader(trainer.train_data, batch_size=2)))
    stats = trainer.train_step(batch)
    assert set(stats) == {"total", "det", "seg", "edge"}
    assert all(np.isfinite(v) for v in stats.values())
    expected = 0.04 * stats["det"] + 0.16 * stats["seg"] + 0.5 * stats["edge"]
    assert stats["total"] == pytest.approx(expected, rel=1e-5)


def test_losses_of_a_perfect_prediction() -> None:
    # Near-certain logits that agree with the targets give near-zero Dice and BCE terms.
    cfg = load_config(None, ["model.name=mvss-effnet-lite0"])
    recipe = MvssRecipe(cfg, device=torch.device("cpu"), dist=None)  # type: ignore[arg-type]
    mask = torch.zeros(2, 16, 16, dtype=torch.int64)
    mask[0, 4:12, 4:12] = 1
    logits = (mask.float() * 2 - 1).unsqueeze(1) * 50
    edge = (boundary_band(mask, 3).float() * 2 - 1).unsqueeze(1) * 50
    out = LocalizationOutput(logits, torch.tensor([50.0, -50.0]), edge)
    terms = recipe.losses(out, {"mask": mask, "label": torch.tensor([1.0, 0.0])})
    for key in ("det", "seg", "edge", "total"):
        assert float(terms[key]) < 0.02, key


def test_resume_continues_exactly(sets: list[Path], tmp_path: Path) -> None:
    # 6 training samples, batch 2: 3 steps per epoch; the resume lands mid-epoch and the run
    # crosses an epoch end (validation, plateau scheduler, best checkpoint).
    cfg = mvss_config(sets, model={"kwargs": {**MODEL_KWARGS, "edge_branch": True}})
    one_go, resumed = train_with_resume(cfg, tmp_path, steps=5, stop=2)
    a, b = Path(one_go["checkpoint"]), Path(resumed["checkpoint"])
    for name in ("model", "optimizer"):
        in_a = load_file(str(a / f"{name}.safetensors"))
        in_b = load_file(str(b / f"{name}.safetensors"))
        assert in_a.keys() == in_b.keys()
        for key in in_a:
            assert torch.equal(in_a[key], in_b[key]), f"{name}: {key} differs after resume"
    assert not (a / "discriminator.safetensors").exists()
    state_a = json.loads((a / "state.json").read_text())
    state_b = json.loads((b / "state.json").read_text())
    for key in ("step", "epoch", "batch_in_epoch", "best_metric", "rng", "history", "schedulers"):
        assert state_a[key] == state_b[key], key
    assert state_b["recipe"] == "mvss" and state_b["classes"] == ["manipulated"]


def test_export_loads_as_a_working_model(sets: list[Path], tmp_path: Path) -> None:
    summary = train(mvss_config(sets, data={"val_fraction": 0.0}), tmp_path / "run", max_steps=2)
    weights = export_weights(summary["checkpoint"], tmp_path / "mvss.safetensors")
    _assert_working_export(weights, Path(summary["checkpoint"]))


def test_cli_train_exports_weights(sets: list[Path], tmp_path: Path) -> None:
    values = config_to_dict(mvss_config(sets))
    del values["recipe"]  # the registered task of the model (localization) picks the recipe
    config = tmp_path / "mvss.yaml"
    config.write_text(yaml.safe_dump(values))
    run_dir, weights = tmp_path / "runs" / "mvss", tmp_path / "mvss.safetensors"
    res = CliRunner().invoke(
        app,
        ["train", "--config", str(config), "--run-dir", str(run_dir), "--max-steps", "2"]
        + ["--export", str(weights)],
    )
    assert res.exit_code == 0, res.output
    assert "trained 2 steps" in res.output
    _assert_working_export(weights, run_dir / "checkpoints" / "step_00000002")


def _assert_working_export(weights: Path, checkpoint: Path) -> None:
    detector = tamperscope.load_model(weights=weights, device="cpu")
    assert detector.name == "mvss-effnet-lite0" and detector.long_side == 32
    assert detector.model.config == {**detector.model.config, **MODEL_KWARGS}
    trained = load_file(str(checkpoint / "model.safetensors"))
    for key, value in detector.model.state_dict().items():
        assert torch.equal(value, trained[key]), key
    with torch.no_grad():
        out = detector.model(torch.rand(1, 3, 48, 40))
    assert isinstance(out, LocalizationOutput) and out.mask_logits.shape == (1, 1, 48, 40)
    assert torch.isfinite(out.mask_logits).all() and torch.isfinite(out.score_logit).all()


@pytest.mark.parametrize(
    ("sections", "pattern"),
    [
        ({"mvss": {"edge_loss": "focal"}}, "mvss.edge_loss must be one of"),
        ({"mvss": {"edge_width": 4}}, "mvss.edge_width must be an odd number"),
        ({"mvss": {"beta": -1.0}}, r"mvss.beta must be >= 0"),
        ({"mvss": {"dice_smooth": 0.0}}, r"mvss.dice_smooth must be > 0"),
        ({"train": {"monitor": "f1_union"}}, "not a validation quantity of the mvss recipe"),
        ({"recipe": "doagan"}, "recipe 'doagan' trains copy_move models"),
    ],
)
def test_config_errors(sets: list[Path], tmp_path: Path, sections: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        Trainer(mvss_config(sets, **sections), tmp_path / "run")


def test_no_training_data_names_the_synth_command(tmp_path: Path) -> None:
    cfg = mvss_config([tmp_path])
    cfg.data.train_roots = []
    with pytest.raises(TrainingError, match="tamperscope synth copy-move"):
        Trainer(cfg, tmp_path / "run")


def test_shipped_config_loads() -> None:
    cfg = load_config(ROOT / "configs" / "mvss_effnet_lite0.yaml")
    assert cfg.model.name == "mvss-effnet-lite0" and recipe_for(cfg) is MvssRecipe
    assert cfg.train.monitor in MVSS_VALIDATION_KEYS
    roots = " ".join(cfg.data.train_roots)
    for source in ("mvss-sp-", "mvss-cm-", "mvss-inp-", "face-manipulations:"):
        assert source in roots, source  # splices, copy-moves, inpainting and real faces
    assert "split=val" in " ".join(cfg.data.val_roots) and "split=train" in roots
    MvssRecipe.check_config(cfg)
