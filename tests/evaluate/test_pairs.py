"""Scoring probe/donor pairs: the pair scoring loop, ``tamperscope evaluate`` on pair
datasets (prediction folders and models), the summary table and the raw splice transform."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from _pair_helpers import TINY_PAIR, make_pair_set, photos
from tamperscope.cli import app
from tamperscope.data.base import open_dataset
from tamperscope.evaluate import PER_PAIR_COLUMNS, PredictionError, evaluate_pair_predictions
from tamperscope.inference.pairs import pair_score
from tamperscope.io import read_mask, write_image
from tamperscope.metrics.tables import format_pair_table, main, pair_summary_row, read_pair_rows

runner = CliRunner()


@pytest.fixture(scope="module")
def pair_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six 64x64 splice pairs (two foreground, two background, two negative)."""
    return make_pair_set(tmp_path_factory.mktemp("eval-pairs") / "sp", n=6, seed=9)


def _gt(size: int = 8) -> np.ndarray:
    gt = np.zeros((size, size), np.uint8)
    gt[:4, :4] = 1
    return gt


def _pair(name: str, label: int, gt: np.ndarray) -> dict:
    return {"name": name, "label": label, "probe_mask": gt, "donor_mask": gt}


# ----------------------------------------------------------------------------- scoring


def test_conventions_by_hand() -> None:
    gt, empty = _gt(), np.zeros((8, 8), np.uint8)
    perfect = gt.astype(np.float32)
    spurious = np.zeros((8, 8), np.float32)
    spurious[6:, 6:] = 0.9
    result = evaluate_pair_predictions(
        [
            (_pair("pos", 1, gt), perfect, perfect),
            (_pair("neg-quiet", 0, empty), np.zeros((8, 8), np.float32), spurious * 0),
            (_pair("neg-noisy", 0, empty), spurious, np.zeros((8, 8), np.float32)),
        ]
    )
    pos = result["localization_conventions"]["positive_pairs"]
    every = result["localization_conventions"]["all_pairs"]
    assert pos == {"iou": 1.0, "mcc": 1.0, "nmm": 1.0, "n_pairs": 1}
    assert result["localization"] == pos  # the default headline: positive pairs only
    # All pairs: the noisy negative scores (0 + 1) / 2 on IoU (its donor is quiet) and
    # (-1 + 1) / 2 on NMM.
    assert every["n_pairs"] == 3
    assert every["iou"] == pytest.approx((1.0 + 1.0 + 0.5) / 3)
    assert every["nmm"] == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    assert result["counts"]["negative_pred_shared"] == 1
    assert result["counts"]["negative_pred_empty"] == 1
    # DMAC's pair score: mean over both maps of the mean probability above 0.5.
    noisy = next(r for r in result["per_pair"] if r["name"] == "neg-noisy")
    assert noisy["score"] == pytest.approx(0.45) and noisy["mask_case"] == "negative_pred_shared"
    assert noisy["predicted_label"] == 0 and noisy["score_source"] == "maps"
    det = result["detection"]
    assert det["tp"] == 1 and det["fp"] == 0 and det["f1"] == 1.0 and det["auc"] == 1.0
    count = evaluate_pair_predictions(
        [(_pair("pos", 1, gt), perfect, perfect)], empty="count", threshold=0.5
    )
    assert count["localization"]["n_pairs"] == 1


def test_pair_evaluation_by_hand():
    gt = np.zeros((4, 4), np.uint8)
    gt[:2, :2] = 1
    pos = {"name": "p", "label": 1, "probe_mask": gt, "donor_mask": gt}
    neg = {
        "name": "n",
        "label": 0,
        "probe_mask": np.zeros_like(gt),
        "donor_mask": np.zeros_like(gt),
    }
    perfect = gt.astype(np.float32)
    quiet = np.zeros((4, 4), np.float32)
    r = evaluate_pair_predictions([(pos, perfect, perfect), (neg, quiet, quiet)])
    assert r["localization"] == {"iou": 1.0, "mcc": 1.0, "nmm": 1.0, "n_pairs": 1}
    assert r["detection"]["auc"] == 1.0 and r["detection"]["accuracy"] == 1.0
    with pytest.raises(ValueError, match="no pairs to score"):
        evaluate_pair_predictions([])


def test_auc_matches_sklearn_and_given_scores_win() -> None:
    rng = np.random.default_rng(4)
    gt = _gt()
    items, labels, scores = [], [], []
    for i in range(12):
        label = int(i % 2)
        pa = rng.random((8, 8)).astype(np.float32)
        pb = rng.random((8, 8)).astype(np.float32)
        mask = gt if label else np.zeros_like(gt)
        items.append((_pair(f"p{i}", label, mask), pa, pb))
        labels.append(label)
        scores.append(pair_score(pa, pb))
    result = evaluate_pair_predictions(items)
    assert result["detection"]["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert result["curves"]["image_roc"] is not None and result["pixel_auc"] is not None
    with_scores = [(*it, float(lab)) for it, lab in zip(items, labels, strict=True)]
    given = evaluate_pair_predictions(with_scores)
    assert given["detection"]["auc"] == 1.0 and given["counts"]["given_scores"] == 12
    assert {r["score_source"] for r in given["per_pair"]} == {"given"}


def test_failures_are_recorded_and_scoring_goes_on() -> None:
    gt = _gt()
    good = (_pair("good", 1, gt), gt.astype(np.float32), gt.astype(np.float32))
    result = evaluate_pair_predictions(
        [
            good,
            PredictionError("missing", "no prediction file"),
            (_pair("logits", 1, gt), gt * 5.0, gt.astype(np.float32)),
            (_pair("rgb", 1, gt), np.zeros((3, 8, 8), np.float32), gt.astype(np.float32)),
        ]
    )
    reasons = {e["name"]: e["reason"] for e in result["errors"]}
    assert reasons["missing"] == "no prediction file"
    assert "probabilities must be in [0, 1]" in reasons["logits"]
    assert "pair predictions must be (H, W) maps" in reasons["rgb"]
    assert result["n_pairs"] == 1 and result["counts"]["n_errors"] == 3
    with pytest.raises(ValueError, match="no pairs to score"):
        evaluate_pair_predictions([])
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        evaluate_pair_predictions([good], threshold=1.5)
    with pytest.raises(ValueError, match="unknown empty-mask rule|empty"):
        evaluate_pair_predictions([good], empty="maybe")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the CLI


def _write_predictions(pair_set: Path, pred: Path, skip: str | None = None) -> None:
    """Ground-truth masks as predictions: .npy for the probe, grey PNG for the donor."""
    pred.mkdir(parents=True, exist_ok=True)
    for name in open_dataset("generated-pairs", pair_set).names():
        if name == skip:
            continue
        probe = read_mask(pair_set / "probe_masks" / f"{name}.png").astype(np.float32) / 255
        np.save(pred / f"{name}_probe.npy", probe)
        write_image(pred / f"{name}_donor.png", read_mask(pair_set / "donor_masks" / f"{name}.png"))


def test_cli_scores_a_prediction_folder(pair_set: Path, tmp_path: Path) -> None:
    pred, out = tmp_path / "pred", tmp_path / "out"
    _write_predictions(pair_set, pred)
    # A given score overrides DMAC's rule for one pair: a correlated pair scored 0.1.
    (pred / "scores.json").write_text(json.dumps({"000000": 0.1}))
    args = ["evaluate", "--dataset", "generated-pairs", "--root", str(pair_set)]
    res = runner.invoke(app, [*args, "--pred", str(pred), "--out", str(out)])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    conv = metrics["localization_conventions"]
    assert conv["positive_pairs"] == {"iou": 1.0, "mcc": 1.0, "nmm": 1.0, "n_pairs": 4}
    assert conv["all_pairs"]["n_pairs"] == 6 and conv["all_pairs"]["iou"] == 1.0
    det = metrics["detection"]
    assert det["tp"] == 3 and det["fn"] == 1 and det["recall"] == 0.75 and det["precision"] == 1.0
    assert metrics["dataset"]["name"] == "generated-pairs" and metrics["counts"]["n_errors"] == 0
    assert "positive_pairs" in metrics["protocol_notes"]
    with open(out / "per_pair.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(PER_PAIR_COLUMNS) and len(rows) == 6
    assert rows[0]["score_source"] == "given" and rows[2]["pair_type"] == "negative"
    assert (out / "roc.png").read_bytes()[:4] == b"\x89PNG"
    assert "pair iou" in res.output and "detection auc" in res.output


def test_cli_lists_missing_pair_predictions(pair_set: Path, tmp_path: Path) -> None:
    pred = tmp_path / "pred"
    _write_predictions(pair_set, pred, skip="000001")
    (pred / "000002_probe.npy").unlink()
    np.save(pred / "000002_probe.npy", np.zeros((3, 64, 64), np.float32))
    args = ["evaluate", "--dataset", "generated", "--root", str(pair_set), "--pred", str(pred)]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert res.exit_code == 1
    text = " ".join(res.output.split())
    assert "2 of 6 pairs could not be scored" in text
    assert "no prediction file 000001_probe.png or 000001_probe.npy" in text
    assert "probe prediction must be an (H, W) probability map" in text
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["n_pairs"] == 4


def test_cli_scores_a_pair_model(pair_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["evaluate", "--dataset", "generated-pairs", "--root", str(pair_set)]
    res = runner.invoke(
        app,
        [*args, "--model", TINY_PAIR, "--weights", "none", "--device", "cpu", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["model"]["name"] == TINY_PAIR
    assert metrics["n_pairs"] == 6 and metrics["detection"]["n_images"] == 6
    scores = [r["score"] for r in metrics_rows(out)]
    assert all(0.0 <= float(s) <= 1.0 for s in scores)


def metrics_rows(out: Path) -> list[dict]:
    with open(out / "per_pair.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "keypoint-cmfd"], "the dataset holds pairs; --model needs a probe/donor"),
        (["--model", "dmac-vgg16"], "ships no trained weights"),
        (["--model", "dmac-vgg61"], "unknown model 'dmac-vgg61'"),
        (["--pred", "PRED", "--border", "3"], "--border applies to single images"),
    ],
)
def test_cli_pair_usage_errors(pair_set: Path, tmp_path: Path, extra: list, message: str) -> None:
    (tmp_path / "PRED").mkdir()
    extra = [str(tmp_path / x) if x == "PRED" else x for x in extra]
    args = ["evaluate", "--dataset", "generated-pairs", "--root", str(pair_set)]
    res = runner.invoke(app, [*args, *extra, "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())


def test_cli_refuses_a_pair_model_on_single_images(tmp_path: Path) -> None:
    from tamperscope.synth.generate import generate_copy_move

    images = tmp_path / "cm"
    generate_copy_move(images, n=1, seed=0, images=str(photos(tmp_path / "ph")), groups="Easy")
    res = runner.invoke(
        app,
        ["evaluate", "--dataset", "generated", "--root", str(images), "--model", TINY_PAIR]
        + ["--weights", "none", "--out", str(tmp_path / "out")],
    )
    assert res.exit_code == 2
    assert "the dataset holds single images; --model needs a single-image model" in res.output


def test_cli_long_side_reaches_a_single_image_model(tmp_path: Path) -> None:
    from tamperscope.synth.generate import generate_copy_move

    images = tmp_path / "cm"
    generate_copy_move(images, n=2, seed=0, images=str(photos(tmp_path / "ph")), groups="Easy")
    for side in (64, 96):
        out = tmp_path / f"out{side}"
        res = runner.invoke(
            app,
            ["evaluate", "--dataset", "generated", "--root", str(images), "--model"]
            + ["doagan-effnet-lite0", "--weights", "none", "--device", "cpu"]
            + ["--long-side", str(side), "--out", str(out)],
        )
        assert res.exit_code == 0, res.output
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["settings"]["model"]["long_side"] == side
        assert metrics["counts"]["n_tampered"] + metrics["counts"]["n_authentic"] == 2


# ----------------------------------------------------------------------------- tables


def test_summary_table(pair_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pred = tmp_path / "pred"
    _write_predictions(pair_set, pred)
    folders = []
    for name in ("raw", "shift"):
        out = tmp_path / "eval" / name
        args = ["evaluate", "--dataset", "generated-pairs", "--root", str(pair_set)]
        assert runner.invoke(app, [*args, "--pred", str(pred), "--out", str(out)]).exit_code == 0
        folders.append(out)
    rows = read_pair_rows(folders)
    assert [r["set"] for r in rows] == ["raw", "shift"]
    assert rows[0]["iou"] == 1.0 and rows[0]["auc"] == 1.0 and rows[0]["pairs"] == 6
    table = format_pair_table(rows)
    assert table.splitlines()[0].split() == ["set", "pairs", "iou", "mcc", "nmm", "iou_all"] + [
        "mcc_all",
        "nmm_all",
        "f1",
        "auc",
        "eer",
    ]
    assert "1.0000" in table and table.splitlines()[2].startswith("raw ")
    assert main([str(f) for f in folders]) == 0
    assert "shift" in capsys.readouterr().out
    assert main([]) == 2
    assert "usage: python -m tamperscope.metrics.tables" in capsys.readouterr().err
    assert main([str(tmp_path / "nowhere")]) == 2
    assert "no metrics.json" in capsys.readouterr().err
    (tmp_path / "single").mkdir()
    (tmp_path / "single" / "metrics.json").write_text(json.dumps({"pixel": {}}))
    assert main([str(tmp_path / "single")]) == 2
    assert "not a pair evaluation" in capsys.readouterr().err
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.json").write_text("{oops")
    assert main([str(tmp_path / "broken")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    with pytest.raises(Exception, match="not a pair evaluation"):
        pair_summary_row("x", {})


# ----------------------------------------------------------------------------- test sets


def test_raw_transform_pastes_in_place(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    res = runner.invoke(
        app,
        ["synth", "splice-pairs", "--images", str(photos(tmp_path / "ph")), "--out", str(out)]
        + ["-n", "3", "--seed", "2", "--transform", "raw", "--groups", "Normal"]
        + ["--size", "64x64"],
    )
    assert res.exit_code == 0, res.output
    ds = open_dataset("generated-pairs", out, transform="raw")
    fg = ds[0]
    assert fg["pair_type"] == "foreground" and fg["meta"]["group"] == "Normal"
    assert fg["meta"]["params"]["transform"]["applied"] == []
    # Raw: same place, same pixels.
    np.testing.assert_array_equal(fg["probe_mask"], fg["donor_mask"])
    shared = fg["probe_mask"] > 0
    np.testing.assert_array_equal(fg["probe"][shared], fg["donor"][shared])


def test_scripts_are_valid_bash() -> None:
    import subprocess

    scripts = Path(__file__).resolve().parents[2] / "scripts"
    for name in ("make_pair_testsets.sh", "evaluate_pair_testsets.sh"):
        subprocess.run(["bash", "-n", str(scripts / name)], check=True)
        usage = subprocess.run(["bash", str(scripts / name)], capture_output=True, text=True)
        assert usage.returncode == 2 and "usage:" in usage.stderr
