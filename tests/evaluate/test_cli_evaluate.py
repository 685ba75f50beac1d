"""``tamperscope evaluate`` end to end: files written, errors listed, exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from tamperscope.cli import app
from tamperscope.cli.evaluate import parse_dataset_options
from tamperscope.data import base
from tamperscope.data.base import ForgeryDataset, PairDataset, open_dataset
from tamperscope.io import read_mask
from tamperscope.types import Sample

runner = CliRunner()
H, W = 20, 28


def _evaluate(dataset: str, root: Path, pred: Path, out: Path, *options: str) -> Result:
    """``tamperscope evaluate --dataset DATASET --root ROOT --pred PRED --out OUT [OPTIONS]``."""
    paths = ["--root", str(root), "--pred", str(pred), "--out", str(out)]
    return runner.invoke(app, ["evaluate", "--dataset", dataset, *paths, *options])


def _evaluate_label_maps(tmp_path: Path, *options: str) -> Result:
    """:func:`_evaluate` of the label maps in ``tmp_path / "gt"`` against the predictions in
    ``tmp_path / "pred"``, written to ``tmp_path / "out"``."""
    gt, pred, out = tmp_path / "gt", tmp_path / "pred", tmp_path / "out"
    return _evaluate("eval-test-labelmaps", gt, pred, out, *options)


def _metrics(out: Path) -> dict:
    """The ``metrics.json`` written to ``out``."""
    return json.loads((out / "metrics.json").read_text())


class LabelMapFolder(ForgeryDataset):
    """Test reader: every ``ROOT/*.png`` is a 3-class label map; all-zero maps are authentic."""

    kind = "eval-test-labelmaps"
    mask_kind = "three_class"

    def __init__(self, root: Path, limit: int | None = None) -> None:
        self.files = sorted(Path(root).glob("*.png"))[:limit]

    def __len__(self) -> int:
        return len(self.files)

    def names(self) -> list[str]:
        return [f.stem for f in self.files]

    def load(self, index: int) -> Sample:
        mask = read_mask(self.files[index])
        return {
            "image": np.zeros((*mask.shape, 3), np.uint8),
            "mask": mask,
            "mask_kind": "three_class",
            "label": int(mask.any()),
            "name": self.files[index].stem,
            "path": str(self.files[index]),
        }


class EmptyPairs(PairDataset):
    """Test reader returning a pair dataset, which ``evaluate`` refuses."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __len__(self) -> int:
        return 0


@pytest.fixture(autouse=True)
def _test_readers(monkeypatch):
    """Register the test readers for one test only, so the registry is left as found."""
    base.list_datasets()  # import the built-in readers first
    monkeypatch.setitem(base._DATASETS, "eval-test-labelmaps", LabelMapFolder)
    monkeypatch.setitem(base._DATASETS, "eval-test-pairs", EmptyPairs)


def _make_set(root: Path, rng: np.random.Generator, n: int = 4) -> list[np.ndarray]:
    root.mkdir(parents=True, exist_ok=True)
    masks = []
    for i in range(n):
        mask = np.zeros((H, W), np.uint8)
        if i < n - 1:
            y, x = rng.integers(0, 8, 2)
            mask[y : y + 6, x : x + 6] = 1
            mask[y + 6 : y + 12, x + 12 : x + 18] = 2
        Image.fromarray(mask).save(root / f"s{i}.png")
        masks.append(mask)
    return masks


def _write_rgb_predictions(pred: Path, masks: list[np.ndarray], rng) -> None:
    pred.mkdir(parents=True, exist_ok=True)
    for i, mask in enumerate(masks):
        rgb = np.zeros((H, W, 3), np.uint8)
        rgb[..., 0] = np.where(mask == 2, 220, 20)  # R = P(target)
        rgb[..., 1] = np.where(mask == 1, 220, 20)  # G = P(source)
        rgb[..., :2] = np.clip(rgb[..., :2].astype(int) + rng.integers(-10, 10, (H, W, 2)), 0, 255)
        Image.fromarray(rgb).save(pred / f"s{i}.png")


def test_evaluate_writes_outputs(tmp_path, rng):
    masks = _make_set(tmp_path / "gt", rng)
    _write_rgb_predictions(tmp_path / "pred", masks, rng)
    out = tmp_path / "out"
    res = _evaluate_label_maps(tmp_path, "--border", "1", "--authentic", "count")
    assert res.exit_code == 0, res.output
    metrics = _metrics(out)
    assert metrics["dataset"]["name"] == "eval-test-labelmaps"
    assert metrics["dataset"]["root"] == str((tmp_path / "gt").resolve())
    assert metrics["tamperscope_version"]
    assert metrics["settings"] == {
        "threshold": 0.5,
        "border_px": 1,
        "authentic": "count",
        "histogram_bins": 1001,
        "pred_dir": str((tmp_path / "pred").resolve()),
    }
    assert set(metrics["f1_conventions"]) == {
        "fixed_threshold",
        "per_image_best_threshold",
        "dataset_best_threshold",
        "inverted_max",
        "border_excluded",
        "all_forged_reference",
    }
    # predictions are the ground truth up to noise: perfect at 0.5
    assert metrics["f1_conventions"]["fixed_threshold"]["per_image"] == 1.0
    assert metrics["pixel"]["per_class"]["source"]["pooled"]["f1"] == 1.0
    assert metrics["discernibility"]["correct"] == 3
    assert metrics["counts"]["gt_empty_pred_empty"] == 1
    assert "protocol_notes" in metrics and "per_image" not in metrics
    with open(out / "per_image.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == ["s0", "s1", "s2", "s3"]
    assert rows[0]["discernibility"] == "correct" and rows[0]["f1_source"] == "1.0"
    assert (out / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "combined F1" in res.output


def test_missing_predictions_are_listed_and_exit_nonzero(tmp_path, rng):
    masks = _make_set(tmp_path / "gt", rng)
    _write_rgb_predictions(tmp_path / "pred", masks, rng)
    (tmp_path / "pred" / "s1.png").unlink()
    (tmp_path / "pred" / "s2.png").write_bytes(b"not a png")
    res = _evaluate_label_maps(tmp_path)
    assert res.exit_code == 1
    assert "2 of 4 images could not be scored" in res.output
    assert "s1: no prediction file s1.png or s1.npy" in res.output
    assert "s2:" in res.output
    metrics = _metrics(tmp_path / "out")
    assert [e["name"] for e in metrics["errors"]] == ["s1", "s2"]
    assert metrics["counts"]["n_scored"] == 2


def test_dataset_option_reaches_reader(tmp_path, rng):
    masks = _make_set(tmp_path / "gt", rng)
    _write_rgb_predictions(tmp_path / "pred", masks, rng)
    res = _evaluate_label_maps(tmp_path, "--dataset-option", "limit=2")
    assert res.exit_code == 0, res.output
    metrics = _metrics(tmp_path / "out")
    assert metrics["counts"]["n_samples"] == 2
    assert metrics["dataset"]["options"] == {"limit": 2}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "eval-test-labelmapz"], "unknown dataset reader 'eval-test-labelmapz'"),
        (["--authentic", "maybe"], "must be 'skip' or 'count', got 'maybe'"),
        (["--dataset-option", "novalue"], "expected key=value, got 'novalue'"),
        (["--pred", "DOES_NOT_EXIST"], "prediction folder does not exist"),
        (["--dataset-option", "bogus=1"], "cannot open dataset"),
        (["--dataset", "eval-test-pairs"], "is a probe/donor pair dataset"),
    ],
)
def test_usage_errors(tmp_path, rng, args, message):
    _make_set(tmp_path / "gt", rng)
    (tmp_path / "pred").mkdir()
    base = {
        "--dataset": "eval-test-labelmaps",
        "--root": str(tmp_path / "gt"),
        "--pred": str(tmp_path / "pred"),
        "--out": str(tmp_path / "out"),
    }
    extra = []
    for k, v in zip(args[::2], args[1::2], strict=True):
        if k in base:
            base[k] = str(tmp_path / v) if k == "--pred" else v
        else:
            extra += [k, v]
    argv = ["evaluate"] + [x for kv in base.items() for x in kv] + extra
    res = runner.invoke(app, argv)
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())


def test_parse_dataset_options_types():
    assert parse_dataset_options(["a=3", "b=true", "c=x y", "d=0.5", "e="]) == {
        "a": 3,
        "b": True,
        "c": "x y",
        "d": 0.5,
        "e": "",
    }


def test_evaluate_generated_reader(tmp_path, rng):
    root = tmp_path / "synth"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    lines, masks = [], []
    for i in range(3):
        mask = np.zeros((H, W), np.uint8)
        mask[2:8, 2:8] = 1
        mask[10:16, 14:20] = 2
        Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(
            root / "images" / f"{i}.png"
        )
        Image.fromarray(mask).save(root / "masks" / f"{i}.png")
        masks.append(mask)
        lines.append(
            {
                "kind": "copy-move",
                "index": i,
                "name": f"cm{i}",
                "image": f"images/{i}.png",
                "mask": f"masks/{i}.png",
                "label": 1,
                "mask_kind": "three_class",
            }
        )
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    pred = tmp_path / "pred"
    pred.mkdir()
    for i, mask in enumerate(masks):
        onehot = np.stack([mask == 0, mask == 1, mask == 2]).astype(np.float32)
        np.save(pred / f"cm{i}.npy", onehot)
    res = _evaluate("generated", root, pred, tmp_path / "out")
    assert res.exit_code == 0, res.output
    metrics = _metrics(tmp_path / "out")
    assert metrics["pixel"]["union"]["per_image"]["f1"] == 1.0
    assert metrics["discernibility"]["overall_accuracy"] == 1.0
    # all images tampered: no image ROC, the pixel ROC is drawn alone
    assert metrics["image"]["auc"] is None
    assert (tmp_path / "out" / "roc.png").exists()


def test_evaluate_manifest_reader(tmp_path, rng):
    root = tmp_path / "set"
    root.mkdir()
    rows = ["image,mask,label,mask_kind"]
    pred = tmp_path / "pred"
    pred.mkdir()
    for i in range(4):
        mask = np.zeros((H, W), np.uint8)
        if i % 2 == 0:
            mask[3:12, 5:15] = 255
        Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(root / f"im{i}.png")
        Image.fromarray(mask).save(root / f"m{i}.png")
        rows.append(f"im{i}.png,m{i}.png,{int(i % 2 == 0)},binary")
        Image.fromarray(np.where(mask > 0, 230, 10).astype(np.uint8)).save(pred / f"im{i}.png")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    (pred / "scores.json").write_text(json.dumps({f"im{i}": 0.9 - 0.2 * i for i in range(4)}))
    res = _evaluate("manifest", root, pred, tmp_path / "out")
    assert res.exit_code == 0, res.output
    metrics = _metrics(tmp_path / "out")
    assert metrics["pixel"]["union"]["per_image"]["f1"] == 1.0
    assert metrics["image"]["auc"] == pytest.approx(0.75)  # scores .9 .7 .5 .3, labels 1 0 1 0
    assert metrics["pixel"]["per_class"] is None


@pytest.mark.realdata
def test_real_copy_move_disambiguation_perfect_predictions(tmp_path, shared_data):
    root = shared_data / "real-dev" / "cm-disambiguation"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    ds = open_dataset("cm-disambiguation", root)
    pred = tmp_path / "pred"
    pred.mkdir()
    for sample in ds:
        m = sample["mask"]
        rgb = np.zeros((*m.shape, 3), np.uint8)
        rgb[..., 0] = (m == 2) * 255
        rgb[..., 1] = (m == 1) * 255
        Image.fromarray(rgb).save(pred / f"{sample['name']}.png")
    res = _evaluate("cm-disambiguation", root, pred, tmp_path / "out", "--border", "2")
    assert res.exit_code == 0, res.output
    metrics = _metrics(tmp_path / "out")
    assert metrics["f1_conventions"]["fixed_threshold"]["pooled"] == 1.0
    assert metrics["discernibility"]["correct"] == metrics["discernibility"]["n_scored"] == len(ds)
