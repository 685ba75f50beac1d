"""The runner: models and prediction folders through one path, errors as entries, task
dispatch, and a new task plugged in with one registered evaluation (no runner or CLI edit)."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tamperscope import registry
from tamperscope.api import Detector
from tamperscope.cli import app
from tamperscope.data import base
from tamperscope.data.base import ForgeryDataset, InMemoryDataset, PairDataset
from tamperscope.errors import ImageReadError, TamperscopeError
from tamperscope.evaluate import (
    Accumulator,
    CopyMoveSummary,
    Curves,
    DatasetInfo,
    EvaluationResult,
    EvaluationSettings,
    FolderSource,
    ModelSource,
    PredictionError,
    SettingError,
    SummaryTable,
    TaskEvaluation,
    TaskMismatchError,
    check_task,
    evaluate,
    evaluation_for,
    folder_predictions,
    model_predictions,
    register_evaluation,
    task_for_dataset,
    unregister_evaluation,
    write_result,
)
from tamperscope.io import write_image
from tamperscope.models.base import TamperModel
from tamperscope.models.outputs import CopyMoveOutput, PairOutput
from tamperscope.registry import Task

H, W = 16, 20


class Bright(torch.nn.Module):
    """Copy-move test double: bright pixels are the copy (target), nothing is the source."""

    def forward(self, x: torch.Tensor) -> CopyMoveOutput:
        bright = (x.mean(1) > 0.8).float()
        logits = torch.stack([1 - bright, torch.zeros_like(bright), bright], 1) * 10
        return CopyMoveOutput(mask_logits=logits, score_logit=bright.flatten(1).mean(1) * 20 - 1)


class BrightPair(torch.nn.Module):
    def forward(self, probe: torch.Tensor, donor: torch.Tensor) -> PairOutput:
        def logits(x: torch.Tensor) -> torch.Tensor:
            bright = (x.mean(1, keepdim=True) > 0.8).float()
            return torch.cat([torch.zeros_like(bright), (bright - 0.5) * 20], 1)

        return PairOutput(probe_logits=logits(probe), donor_logits=logits(donor))


def _detector(model: torch.nn.Module, task: Task, name: str = "bright") -> Detector:
    return Detector(model, name, None, torch.device("cpu"), long_side=None, task=task)


def _samples() -> list[dict]:
    out = []
    for i in range(3):
        image = np.full((H, W, 3), 40, np.uint8)
        mask = np.zeros((H, W), np.uint8)
        if i < 2:
            image[2:8, 3:9] = 250
            mask[2:8, 3:9] = 2
        out.append(
            {
                "image": image,
                "mask": mask,
                "mask_kind": "three_class",
                "label": int(i < 2),
                "name": f"s{i}",
                "path": f"s{i}.png",
            }
        )
    return out


class Flaky(InMemoryDataset):
    """Sample 1 cannot be decoded."""

    def load(self, index: int) -> dict:
        if index == 1:
            raise ImageReadError(f"s{index}.png", "file is empty")
        return super().load(index)


class Pairs(PairDataset):
    kind = "test-pairs"

    def __init__(self, n: int = 2) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def names(self) -> list[str]:
        return [f"p{i}" for i in range(self.n)]

    def load(self, index: int) -> dict:
        image = np.full((32, 32, 3), 30, np.uint8)
        image[8:24, 8:24] = 250
        mask = np.zeros((32, 32), np.uint8)
        mask[8:24, 8:24] = 1
        return {
            "probe": image,
            "donor": image,
            "probe_mask": mask,
            "donor_mask": mask,
            "label": 1,
            "pair_type": "foreground",
            "name": f"p{index}",
            "probe_path": "",
            "donor_path": "",
        }


def test_a_model_is_scored_and_a_bad_sample_is_an_entry():
    ds = Flaky(_samples(), "three_class")
    result = evaluate(ds, _detector(Bright(), Task.COPY_MOVE))
    assert isinstance(result.summary, CopyMoveSummary) and result.task == Task.COPY_MOVE
    assert result.summary.pixel["union"]["per_image"]["f1"] == 1.0
    assert [e.name for e in result.errors] == ["s1"]
    assert result.errors[0].reason.startswith("cannot load the sample (")
    assert result.source == ModelSource("bright", None, {"long_side": None})
    assert result.to_dict()["settings"]["model"] == {
        "name": "bright",
        "weights_sha256": None,
        "long_side": None,
    }


def test_a_folder_goes_through_the_same_path(tmp_path):
    samples = _samples()
    for s in samples[:2]:
        write_image(tmp_path / f"{s['name']}.png", (s["mask"] != 0).astype(np.uint8) * 255)
    ds = InMemoryDataset(samples, "three_class")
    result = evaluate(ds, tmp_path, settings=EvaluationSettings(threshold=0.4))
    assert result.source == FolderSource(tmp_path)
    assert result.to_dict()["settings"]["pred_dir"] == str(tmp_path.resolve())
    assert result.settings.threshold == 0.4 and result.summary.counts["n_errors"] == 1
    assert "no prediction file s2.png or s2.npy" in result.errors[0].reason
    items = list(folder_predictions(ds, tmp_path))
    assert isinstance(items[2], PredictionError) and items[0][0]["name"] == "s0"
    with pytest.raises(PredictionError, match="prediction folder does not exist"):
        evaluate(ds, tmp_path / "nope")


def test_pairs_dispatch_on_the_task_and_record_the_size():
    result = evaluate(Pairs(), _detector(BrightPair(), Task.PAIR), size=32)
    assert result.task == Task.PAIR and result.summary.localization["iou"] == 1.0
    assert result.to_dict()["settings"]["model"]["size"] == 32
    assert result.dataset.kind == "test-pairs" and result.summary.rows_name == "per_pair"
    items = list(model_predictions(Pairs(1), _detector(BrightPair(), Task.PAIR), size=32))
    assert items[0][1].shape == (32, 32) and 0.0 <= items[0][3] <= 1.0
    with pytest.raises(SettingError, match="border applies to single images"):
        evaluate(Pairs(), _detector(BrightPair(), Task.PAIR), settings=EvaluationSettings(border=1))


def test_task_checks():
    images = InMemoryDataset(_samples(), "three_class")
    assert task_for_dataset(images) == Task.COPY_MOVE and task_for_dataset(Pairs()) == Task.PAIR
    with pytest.raises(TaskMismatchError, match="holds single images; it needs a single-image"):
        evaluate(images, _detector(BrightPair(), Task.PAIR))
    with pytest.raises(TaskMismatchError) as info:
        check_task(Pairs(), Task.COPY_MOVE)
    assert info.value.holds == "pairs" and "probe/donor model" in info.value.needs
    with pytest.raises(TamperscopeError, match="no evaluation for task 'inpainting_box'"):
        evaluation_for(Task.INPAINTING_BOX)
    with pytest.raises(ValueError, match="task 'pair' given for a 'copy_move' model"):
        evaluate(images, _detector(Bright(), Task.COPY_MOVE), task=Task.PAIR)


def test_write_result(tmp_path):
    result = evaluate(
        InMemoryDataset(_samples(), "three_class"), _detector(Bright(), Task.COPY_MOVE)
    )
    paths = write_result(result, tmp_path / "out", roc_title="ROC: test")
    assert set(paths) == {"metrics", "rows", "roc"}
    assert json.loads(paths["metrics"].read_text()) == json.loads(json.dumps(result.to_dict()))
    with open(paths["rows"], newline="") as fh:
        assert next(csv.reader(fh)) == list(result.summary.columns)


# ------------------------------------------------------------------ a task plugged in from outside


@dataclass(frozen=True)
class MeanSummary:
    rows_name: ClassVar[str] = "per_image"
    columns: ClassVar[tuple[str, ...]] = ("name", "mean", "error")
    protocol_notes: ClassVar[Mapping[str, str]] = {"mean": "mean forgery probability"}
    label: ClassVar[str] = "localization"

    mean: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean}

    def settings_dict(self, settings: EvaluationSettings) -> dict[str, Any]:
        return {"threshold": settings.threshold}

    def table(self) -> SummaryTable:
        return SummaryTable(("metric", "value", "-"), (("mean probability", self.mean, None),))


class MeanAccumulator(Accumulator):
    task = Task.LOCALIZATION

    def update(self, sample: Mapping[str, Any], prob: np.ndarray) -> None:  # type: ignore[override]
        self.rows.append({"name": sample["name"], "mean": float(prob.mean())})

    def compute(self) -> EvaluationResult:
        means = [r["mean"] for r in self.rows if "mean" in r]
        return EvaluationResult(
            task=self.task,
            settings=self.settings,
            dataset=DatasetInfo(getattr(self.dataset, "kind", None), len(self.rows), "binary"),
            summary=MeanSummary(float(np.mean(means)) if means else None),
            rows=tuple(self.rows),
            errors=tuple(self.errors),
            curves=Curves(),
        )


class SigmoidMap(TamperModel):
    """Test double of a binary localizer: the sigmoid of the grey image."""

    classes = ("manipulated",)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)


def _predict_mean(detector: Any, sample: Mapping[str, Any]) -> tuple:
    x = torch.from_numpy(sample["image"]).float().div(255).mean(-1)
    return sample, detector.model(x).numpy()


class Images(ForgeryDataset):
    kind = "test-images"

    def __init__(self, root: Path) -> None:
        self.samples = _samples()

    def __len__(self) -> int:
        return len(self.samples)

    def names(self) -> list[str]:
        return [s["name"] for s in self.samples]

    def load(self, index: int) -> dict:
        return self.samples[index]


@pytest.fixture
def mean_task(monkeypatch):
    base.list_datasets()
    monkeypatch.setitem(base._DATASETS, "test-images", Images)
    monkeypatch.setitem(base._DATASETS, "test-pairs", lambda root: Pairs())
    registry.register_model("test-mean", task="localization", trainable=False)(
        lambda **kw: SigmoidMap()
    )
    built_in = evaluation_for(Task.LOCALIZATION)  # replaced for the test, then restored
    unregister_evaluation(Task.LOCALIZATION)
    register_evaluation(
        TaskEvaluation(
            Task.LOCALIZATION,
            MeanAccumulator,
            predict=_predict_mean,
            read=lambda folder, name, sample: (sample, folder.load(name)),
        )
    )
    yield "test-mean"
    unregister_evaluation(Task.LOCALIZATION)
    register_evaluation(built_in)
    registry.unregister_model("test-mean")


def test_a_new_task_needs_only_its_evaluation(tmp_path, mean_task):
    out = tmp_path / "out"
    args = ["evaluate", "--dataset", "test-images", "--root", str(tmp_path), "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--model", mean_task, "--weights", "none"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mean"] == pytest.approx(float(torch.sigmoid(torch.tensor(0.5))), abs=0.1)
    assert metrics["settings"] == {
        "threshold": 0.5,
        "model": {"name": "test-mean", "weights_sha256": None},
    }
    assert metrics["protocol_notes"] == {"mean": "mean forgery probability"}
    assert (out / "per_image.csv").read_text().splitlines()[0] == "name,mean,error"
    assert "(localization)" in res.output and "mean probability" in res.output
    # the registered task still decides which datasets fit
    pairs = ["evaluate", "--dataset", "test-pairs", "--root", str(tmp_path), "--out", str(out)]
    res = CliRunner().invoke(app, [*pairs, "--model", mean_task, "--weights", "none"])
    assert res.exit_code == 2
    assert "the dataset holds pairs; --model needs a probe/donor model" in res.output
