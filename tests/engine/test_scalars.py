"""Scalar logs: JSONL always, TensorBoard when installed, a single notice when it is not."""

from __future__ import annotations

import builtins
import json
import logging
from pathlib import Path

import pytest

from tamperscope.engine import scalars
from tamperscope.engine.scalars import ScalarLogger


def test_jsonl_log_skips_missing_and_non_finite_values(tmp_path: Path) -> None:
    log = ScalarLogger(tmp_path, tensorboard=False)
    log.log({"train/loss": 0.5, "val/auc": None, "val/f1": float("nan")}, step=3)
    log.close()
    lines = [json.loads(x) for x in (tmp_path / "scalars.jsonl").read_text().splitlines()]
    assert lines == [{"tag": "train/loss", "value": 0.5, "step": 3}]


def test_disabled_logger_writes_nothing(tmp_path: Path) -> None:
    log = ScalarLogger(tmp_path / "rank1", enabled=False)
    log.log({"x": 1.0}, 1)
    log.close()
    assert not (tmp_path / "rank1").exists()


def test_missing_tensorboard_falls_back_with_one_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_import = builtins.__import__

    def no_tensorboard(name: str, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    monkeypatch.setattr(scalars, "_warned_no_tensorboard", False)
    with caplog.at_level(logging.WARNING, logger="tamperscope.engine.scalars"):
        first = ScalarLogger(tmp_path / "a")
        second = ScalarLogger(tmp_path / "b")
    assert not first.has_tensorboard and not second.has_tensorboard
    notices = [r for r in caplog.records if "tensorboard is not installed" in r.getMessage()]
    assert len(notices) == 1
    first.log({"x": 2.0}, 1)
    first.close()
    second.close()
    assert (tmp_path / "a" / "scalars.jsonl").read_text().strip()


def test_tensorboard_events(tmp_path: Path) -> None:
    log = ScalarLogger(tmp_path)
    log.log({"train/loss": 1.0}, 1)
    log.close()
    assert log.path.is_file()
    assert any((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
