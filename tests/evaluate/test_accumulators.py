"""The accumulators' update/compute on tiny cases, against the numbers of the scoring loop they
replace (``metrics.evaluation.evaluate_predictions`` / ``evaluate_pair_predictions`` of
tamperscope 0.1.0 on the same inputs), and the typed result they return."""

from __future__ import annotations

import numpy as np
import pytest

from tamperscope.data.base import InMemoryDataset
from tamperscope.evaluate import (
    PROTOCOL_NOTES,
    CopyMoveAccumulator,
    CopyMoveSummary,
    EvaluationSettings,
    PairAccumulator,
    PairSummary,
    PredictionError,
    SettingError,
    evaluate_pair_predictions,
    evaluate_predictions,
)
from tamperscope.registry import Task

H, W = 4, 6


def _copy_move_case():
    """A 3-class forgery, an authentic image with a 1-class map, the forgery with swapped
    source/target probabilities; the first has a given score."""
    mask = np.zeros((H, W), np.uint8)
    mask[0:2, 0:2] = 1
    mask[2:4, 4:6] = 2
    rng = np.random.default_rng(3)
    good = np.round(rng.random((3, H, W)) * 0.3, 2).astype(np.float32)
    good[1] += 0.8 * (mask == 1)
    good[2] += 0.8 * (mask == 2)
    good /= good.sum(0)
    authentic = np.round(rng.random((H, W)) * 0.7, 2).astype(np.float32)

    def sample(name, m, label):
        return {
            "image": np.zeros((H, W, 3), np.uint8),
            "mask": m,
            "mask_kind": "three_class",
            "label": label,
            "name": name,
            "path": name,
        }

    samples = [sample("a", mask, 1), sample("b", np.zeros_like(mask), 0), sample("c", mask, 1)]
    return samples, [good, authentic, good[[0, 2, 1]]], [0.9, None, None]


def _pair_case():
    gt = np.zeros((H, W), np.uint8)
    gt[1:3, 1:4] = 1
    rng = np.random.default_rng(5)
    p = np.round(rng.random((H, W)) * 0.6, 2).astype(np.float32) + 0.4 * gt
    q = np.round(rng.random((H, W)) * 0.6, 2).astype(np.float32)
    empty = np.zeros_like(gt)
    return [
        (
            {"name": "pos", "label": 1, "probe_mask": gt, "donor_mask": gt, "pair_type": "fg"},
            p,
            p[::-1].copy(),
        ),
        ({"name": "neg", "label": 0, "probe_mask": empty, "donor_mask": empty}, q, q * 0.5),
        ({"name": "half", "label": 1, "probe_mask": gt, "donor_mask": empty}, p, q, 0.3),
    ]


@pytest.mark.parametrize(
    ("empty", "expected"),
    [
        (
            "skip",
            {
                "per_image_f1": 0.5161290322580645,
                "pooled_f1": 0.5161290322580645,
                "pooled_auc": 0.90625,
                "best_per_image": 0.8421052631578947,
                "border": (0.3333333333333333, 0.3333333333333333),
                "union_only": 0,
            },
        ),
        (
            "count",
            {
                "per_image_f1": 0.3440860215053763,
                "pooled_f1": 0.47058823529411764,
                "pooled_auc": 0.9464285714285714,
                "best_per_image": 0.8947368421052632,
                "border": (0.2222222222222222, 0.26666666666666666),
                "union_only": 1,
            },
        ),
    ],
)
def test_copy_move_accumulator_matches_the_former_loop(empty, expected):
    samples, probs, scores = _copy_move_case()
    acc = CopyMoveAccumulator(
        EvaluationSettings(empty=empty, border=1), dataset=InMemoryDataset(samples, "three_class")
    )
    for sample, prob, score in zip(samples, probs, scores, strict=True):
        acc.update(sample, prob, score)
    result = acc.compute()
    summary = result.summary
    assert isinstance(summary, CopyMoveSummary) and result.task == Task.COPY_MOVE
    union = summary.pixel["union"]
    assert union["per_image"]["f1"] == expected["per_image_f1"]
    assert union["pooled"]["f1"] == expected["pooled_f1"]
    assert union["pooled"]["auc"] == expected["pooled_auc"]
    assert union["per_image"]["auc"] == 0.90625
    assert summary.pixel["per_class"]["source"]["per_image"]["f1"] == 0.25
    best = summary.f1_conventions["dataset_best_threshold"]
    assert best["per_image"] == {"f1": expected["best_per_image"], "threshold": 0.77}
    assert best["pooled"] == {"f1": 0.8421052631578947, "threshold": 0.77}
    border = summary.f1_conventions["border_excluded"]
    assert (border["per_image"], border["pooled"]) == expected["border"]
    assert summary.image["auc"] == 1.0
    assert summary.discernibility["correct"] == 1 and summary.discernibility["wrong"] == 1
    assert summary.counts["gt_empty_pred_forged"] == 1
    assert summary.counts["three_class_scored"] == 2
    assert summary.counts["union_only_prediction"] == expected["union_only"]
    assert [r["score"] for r in result.rows][0] == 0.9 and result.errors == ()
    # The dict form is the typed result's, item for item.
    items = list(zip(samples, probs, scores, strict=True))
    as_dict = evaluate_predictions(
        InMemoryDataset(samples, "three_class"), items, authentic=empty, border=1
    )
    assert as_dict.keys() == result.to_dict(rows=True, curves=True).keys()
    assert as_dict["f1_conventions"] == summary.f1_conventions
    assert as_dict["per_image"] == result.formatted_rows()


@pytest.mark.parametrize("empty", ["skip", "count"])
def test_pair_accumulator_matches_the_former_loop(empty):
    acc = PairAccumulator(EvaluationSettings(empty=empty))
    for item in _pair_case():
        acc.update(*item)
    result = acc.compute()
    summary = result.summary
    assert isinstance(summary, PairSummary) and result.task == Task.PAIR
    positive = {
        "iou": 0.5714285714285714,
        "mcc": 0.6515837655350015,
        "nmm": 0.16666666666666666,
        "n_pairs": 2,
    }
    every = {
        "iou": 0.4523809523809524,
        "mcc": 0.4924585494341675,
        "nmm": -0.08333333333333333,
        "n_pairs": 3,
    }
    assert summary.localization_conventions == {"positive_pairs": positive, "all_pairs": every}
    assert summary.localization == (positive if empty == "skip" else every)
    assert summary.detection["auc"] == 1.0 and summary.detection["f1"] == 0.6666666666666666
    assert summary.pixel_auc == 0.9444444444444444
    assert summary.counts["negative_pred_shared"] == 1 and summary.counts["given_scores"] == 1
    rows = result.formatted_rows()
    assert [r["score"] for r in rows] == [0.872, 0.263333, 0.3]
    assert [r["iou_all"] for r in rows] == [0.571429, 0.5, 0.285714]
    assert rows[1]["iou"] == "" and rows[2]["score_source"] == "given"
    assert result.dataset.n_samples == 3 and result.dataset.kind is None
    assert evaluate_pair_predictions(_pair_case(), empty=empty)["localization"] == (
        summary.localization
    )


def test_errors_are_rows_and_the_json_keeps_its_keys():
    samples, probs, _ = _copy_move_case()
    acc = CopyMoveAccumulator(dataset=InMemoryDataset(samples, "three_class"))
    acc.add((samples[0], probs[0], None))
    acc.add(PredictionError("b", "no prediction file"))
    acc.add((samples[2], probs[2] * 3.0, None))
    result = acc.compute()
    assert [e.name for e in result.errors] == ["b", "c"] and result.n_scored == 1
    assert "probabilities must be in [0, 1]" in result.errors[1].reason
    out = result.to_dict()
    assert list(out) == [
        "tamperscope_version",
        "dataset",
        "settings",
        "protocol_notes",
        "counts",
        "pixel",
        "f1_conventions",
        "image",
        "combined_f1",
        "combined_f1_mvss",
        "discernibility",
        "errors",
    ]
    assert out["settings"] == {
        "threshold": 0.5,
        "border_px": 0,
        "authentic": "skip",
        "histogram_bins": 1001,
    }
    assert out["protocol_notes"] == PROTOCOL_NOTES
    assert out["errors"][0] == {"name": "b", "reason": "no prediction file"}
    assert out["dataset"] == {"kind": "memory", "n_samples": 3, "mask_kind": "three_class"}
    named = result.with_dataset(name="m", root="/r", options={})
    assert named.to_dict()["dataset"]["name"] == "m" and result.dataset.name is None


def test_summary_tables():
    samples, probs, scores = _copy_move_case()
    acc = CopyMoveAccumulator(dataset=InMemoryDataset(samples, "three_class"))
    for item in zip(samples, probs, scores, strict=True):
        acc.add(item)
    table = acc.compute().summary.table()
    assert table.columns == ("metric", "per-image (B)", "pooled (A)")
    labels = [r[0] for r in table.rows]
    assert labels[:2] == ["pixel f1", "pixel precision"] and "F1 source" in labels
    assert ("combined F1", acc.compute().summary.combined_f1, "") in table.rows
    pairs = PairAccumulator()
    for item in _pair_case():
        pairs.add(item)
    rows = {r[0]: r[1:] for r in pairs.compute().summary.table().rows}
    assert rows["pairs localized"] == ("2", "3") and rows["detection auc"] == ("", 1.0)


def test_settings_are_checked():
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\], got 1.5"):
        EvaluationSettings(threshold=1.5)
    with pytest.raises(ValueError, match="border must be >= 0 pixels"):
        EvaluationSettings(border=-1)
    with pytest.raises(ValueError, match="empty-mask rule must be one of"):
        EvaluationSettings(empty="drop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 2 bins"):
        EvaluationSettings(bins=1)
    with pytest.raises(SettingError, match="border applies to single images, not to pairs"):
        PairAccumulator(EvaluationSettings(border=2))
    with pytest.raises(ValueError, match="no pairs to score"):
        PairAccumulator().compute()
