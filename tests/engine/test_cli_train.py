"""``tamperscope train`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from _engine_helpers import TINY, tiny_config
from safetensors import safe_open
from safetensors.torch import load_file
from typer.testing import CliRunner, Result

from tamperscope.cli import app
from tamperscope.engine.config import config_to_dict

runner = CliRunner()


def _recipe(tmp_path: Path, train_root: Path) -> Path:
    values = config_to_dict(tiny_config(train_root))
    values["data"]["train_roots"] = []  # given on the command line below
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _train(recipe: Path, run_dir: Path, *options: str, sets: tuple[str, ...] = ()) -> Result:
    """``tamperscope train --config RECIPE [--set S]... --run-dir RUN_DIR [OPTIONS]``."""
    overrides = [word for value in sets for word in ("--set", value)]
    return runner.invoke(
        app, ["train", "--config", str(recipe), *overrides, "--run-dir", str(run_dir), *options]
    )


def test_train_two_steps_then_resume(generated_set: Path, tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, generated_set)
    run_dir = tmp_path / "runs" / "tiny"
    sets = (f"data.train_roots=[{generated_set}]", "optim.lr_generator=5e-4")
    result = _train(recipe, run_dir, "--device", "cpu", "--max-steps", "2", sets=sets)
    assert result.exit_code == 0, result.output
    assert "trained 2 steps" in result.output
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["optim"]["lr_generator"] == 5e-4 and saved["model"]["name"] == TINY
    assert (run_dir / "checkpoints" / "step_00000002" / "model.safetensors").is_file()

    # --resume without --config reads the run's own config.yaml.
    out = tmp_path / "tiny.safetensors"
    result = runner.invoke(
        app,
        ["train", "--resume", "--run-dir", str(run_dir), "--max-steps", "3", "--export", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "trained 3 steps" in result.output
    assert json.loads((run_dir / "summary.json").read_text())["step"] == 3
    with safe_open(str(out), framework="pt") as fh:
        assert fh.metadata()["model"] == TINY


def test_bad_key_is_named_with_the_known_keys(generated_set: Path, tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, generated_set)
    result = _train(recipe, tmp_path / "r", sets=("optim.lr_gen=1",))
    assert result.exit_code == 2
    assert "unknown config key 'optim.lr_gen'" in result.output
    assert "lr_generator, lr_backbone, lr_discriminator" in result.output


def test_user_errors_exit_with_a_message(generated_set: Path, tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, generated_set)
    result = _train(recipe, tmp_path / "r")
    assert result.exit_code == 2 and "no training data" in result.output
    sets = ("model.name=doagan-nope", f"data.train_roots=[{generated_set}]")
    result = _train(recipe, tmp_path / "r2", "--device", "cpu", sets=sets)
    assert result.exit_code == 2 and "unknown model 'doagan-nope'" in result.output
    result = _train(recipe, tmp_path / "r3", "--resume")
    assert result.exit_code == 2 and "no checkpoint to resume from" in result.output


def test_weights_trained_without_running_stats_analyze_through_the_cli(
    generated_set: Path, tmp_path: Path
) -> None:
    # BatchNorm without running statistics: the exported file has no running_mean buffers and
    # says so in its metadata; the inference side must rebuild the model the same way.
    recipe = _recipe(tmp_path, generated_set)
    run_dir, weights = tmp_path / "runs" / "nobn", tmp_path / "nobn.safetensors"
    sets = (f"data.train_roots=[{generated_set}]", "model.bn_track_running_stats=false")
    options = ("--device", "cpu", "--max-steps", "2", "--export", str(weights))
    result = _train(recipe, run_dir, *options, sets=sets)
    assert result.exit_code == 0, result.output
    assert f"weights exported to {weights}" in result.output
    with safe_open(str(weights), framework="pt") as fh:
        assert fh.metadata()["bn_track_running_stats"] == "false"
        assert not any("running_mean" in key for key in fh.keys())

    image = generated_set / "images" / "000000.png"
    out = tmp_path / "analysis"
    result = runner.invoke(
        app,
        ["analyze", str(image), "--weights", str(weights), "--out", str(out), "--device", "cpu"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "000000.json").read_text())
    assert report["model"] == TINY

    import tamperscope

    detector = tamperscope.load_model(weights=weights, device="cpu")
    assert detector.name == TINY
    assert detector.model.backbone[1].running_mean is None
    trained = load_file(str(weights))
    for key, value in detector.model.state_dict().items():
        assert torch.equal(value, trained[key]), key
