"""``tamperscope train`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from _engine_helpers import TINY, tiny_config
from safetensors import safe_open
from typer.testing import CliRunner

from tamperscope.cli import app
from tamperscope.engine.config import config_to_dict

runner = CliRunner()


def _recipe(tmp_path: Path, train_root: Path) -> Path:
    values = config_to_dict(tiny_config(train_root))
    values["data"]["train_roots"] = []  # given on the command line below
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_train_two_steps_then_resume(generated_set: Path, tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, generated_set)
    run_dir = tmp_path / "runs" / "tiny"
    args = ["train", "--config", str(recipe), "--set", f"data.train_roots=[{generated_set}]"]
    result = runner.invoke(
        app,
        [
            *args,
            "--set",
            "optim.lr_generator=5e-4",
            "--run-dir",
            str(run_dir),
            "--device",
            "cpu",
            "--max-steps",
            "2",
        ],
    )
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
    result = runner.invoke(
        app,
        [
            "train",
            "--config",
            str(recipe),
            "--set",
            "optim.lr_gen=1",
            "--run-dir",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 2
    assert "unknown config key 'optim.lr_gen'" in result.output
    assert "lr_generator, lr_backbone, lr_discriminator" in result.output


def test_user_errors_exit_with_a_message(generated_set: Path, tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, generated_set)
    result = runner.invoke(
        app, ["train", "--config", str(recipe), "--run-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 2 and "no training data" in result.output
    result = runner.invoke(
        app,
        [
            "train",
            "--config",
            str(recipe),
            "--set",
            "model.name=doagan-nope",
            "--set",
            f"data.train_roots=[{generated_set}]",
            "--run-dir",
            str(tmp_path / "r2"),
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 2 and "unknown model 'doagan-nope'" in result.output
    result = runner.invoke(
        app, ["train", "--resume", "--config", str(recipe), "--run-dir", str(tmp_path / "r3")]
    )
    assert result.exit_code == 2 and "no checkpoint to resume from" in result.output
