"""The model registry: tasks as data, filtering, errors, and the ``models`` command."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from tamperscope.cli import app
from tamperscope.models.base import TamperModel
from tamperscope.registry import (
    Task,
    create_model,
    list_models,
    model_info,
    model_task,
    register_model,
    unregister_model,
)


def test_every_model_declares_a_task():
    names = list_models()
    assert names == sorted(names) and names
    by_task = {task: list_models(task) for task in Task}
    assert sorted(n for group in by_task.values() for n in group) == names
    assert "dmac-effnet-lite0" in by_task[Task.PAIR]
    assert "doagan-effnet-lite0" in list_models("copy_move")
    assert model_task("keypoint-doagan") is Task.COPY_MOVE
    assert not model_info("keypoint-cmfd").trainable
    assert "training-free" in model_info("keypoint-cmfd").not_trainable_reason


def test_registration_errors():
    with pytest.raises(ValueError, match="already registered"):
        register_model("doagan-effnet-lite0", task="copy_move")(lambda: None)
    with pytest.raises(ValueError, match="splicing"):
        register_model("new-model", task="splicing")
    with pytest.raises(ValueError):
        list_models("splicing")
    with pytest.raises(KeyError, match="did you mean doagan-effnet-lite0"):
        create_model("doagan-effnet-lite")


class Constant(TamperModel):
    classes = ("manipulated",)

    def __init__(self, value: float = 1.0) -> None:
        super().__init__()
        self.value = value


def test_register_and_unregister():
    register_model("registry-test-model", task=Task.LOCALIZATION, trainable=False)(Constant)
    register_model("registry-test-plain", task=Task.LOCALIZATION)(torch.nn.Identity)
    try:
        assert "registry-test-model" in list_models(Task.LOCALIZATION)
        assert "registry-test-model" not in list_models(Task.COPY_MOVE)
        assert create_model("registry-test-model", value=2.0).config == {"value": 2.0}
        with pytest.raises(TypeError, match="returns Identity, not a .*TamperModel"):
            create_model("registry-test-plain")
    finally:
        unregister_model("registry-test-model")
        unregister_model("registry-test-plain")
    assert "registry-test-model" not in list_models()


def test_models_command_prints_tasks_and_weights():
    runner = CliRunner()
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines() if "│" in line}
    assert "pair" in lines["dmac-effnet-lite0"]
    assert "doagan-effnet-lite0.stage2, doagan-effnet-lite0.stage1" in lines["doagan-effnet-lite0"]
    assert "training-free" in lines["keypoint-cmfd"]
    only = runner.invoke(app, ["models", "--task", "pair"])
    assert only.exit_code == 0 and "doagan" not in only.output and "dmac-vgg16" in only.output
    bad = runner.invoke(app, ["models", "--task", "splicing"])
    assert bad.exit_code == 2 and "unknown task 'splicing'" in bad.output
