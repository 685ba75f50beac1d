"""Copy-move scoring: :class:`CopyMoveAccumulator` through ``evaluate_predictions``."""

from __future__ import annotations

import numpy as np
import pytest
from _evaluate_helpers import image_sample
from sklearn.metrics import f1_score, roc_auc_score

from tamperscope.data.base import InMemoryDataset, PairDataset
from tamperscope.evaluate import CopyMoveAccumulator, PredictionError, evaluate_predictions
from tamperscope.metrics.pixel import f1_fixed, three_class_labels

H, W = 24, 32


def _three_class_set(rng, n_forged=4, n_authentic=2):
    samples, preds = [], []
    for i in range(n_forged + n_authentic):
        mask = np.zeros((H, W), np.uint8)
        if i < n_forged:
            y, x = rng.integers(0, 10, 2)
            mask[y : y + 8, x : x + 6] = 1
            mask[y + 4 : y + 12, x + 14 : x + 20] = 2
        prob = rng.random((3, H, W)).astype(np.float32)
        prob[1] += 1.5 * (mask == 1)
        prob[2] += 1.5 * (mask == 2)
        prob /= prob.sum(0)
        samples.append(image_sample(f"img{i}", mask, int(i < n_forged)))
        preds.append(prob)
    return samples, preds


def _run(samples, preds, scores=None, **kw):
    ds = InMemoryDataset(samples, mask_kind="three_class")
    scores = scores or [None] * len(samples)
    items = zip(samples, preds, scores, strict=True)
    return evaluate_predictions(ds, [tuple(t) for t in items], **kw)


def test_skip_rule_matches_functional_and_sklearn(rng):
    samples, preds = _three_class_set(rng)
    r = _run(samples, preds)
    unions = [np.clip(p[1] + p[2], 0, 1) for p in preds]
    gts = [s["mask"] != 0 for s in samples]
    forged = [i for i, s in enumerate(samples) if s["label"] == 1]

    per_image = np.mean([f1_fixed(unions[i], gts[i]) for i in forged])
    conv = r["f1_conventions"]
    assert conv["fixed_threshold"]["per_image"] == pytest.approx(per_image)
    y = np.concatenate([gts[i].ravel() for i in forged])
    p = np.concatenate([unions[i].ravel() for i in forged])
    assert conv["fixed_threshold"]["pooled"] == pytest.approx(f1_score(y, p >= 0.5))
    assert r["pixel"]["union"]["pooled"]["auc"] == pytest.approx(roc_auc_score(y, p), abs=2e-3)
    assert r["pixel"]["union"]["per_image"]["n_images"] == 4

    src = np.mean(
        [f1_fixed(three_class_labels(preds[i]) == 1, samples[i]["mask"] == 1) for i in forged]
    )
    assert r["pixel"]["per_class"]["source"]["per_image"]["f1"] == pytest.approx(src)
    assert r["pixel"]["per_class"]["pristine"]["per_image"]["n_images"] == 4

    # oracle and dataset-best thresholds can only do better than the fixed one
    assert conv["per_image_best_threshold"]["per_image"] >= per_image - 1e-9
    assert (
        conv["dataset_best_threshold"]["pooled"]["f1"] >= conv["fixed_threshold"]["pooled"] - 2e-3
    )
    assert conv["inverted_max"]["per_image"] >= per_image - 1e-9
    assert conv["border_excluded"]["per_image"] == pytest.approx(per_image)  # border 0

    labels = [s["label"] for s in samples]
    img_scores = [float(u.max()) for u in unions]
    assert r["image"]["auc"] == pytest.approx(roc_auc_score(labels, img_scores))
    assert r["counts"]["gt_forged"] == 4
    assert r["counts"]["gt_empty_pred_forged"] + r["counts"]["gt_empty_pred_empty"] == 2
    assert r["discernibility"]["n_scored"] == 4
    assert r["discernibility"]["correct"] >= 3  # predictions lean to the right class
    assert len(r["per_image"]) == 6 and r["errors"] == []


def test_count_rule_includes_authentic_images(rng):
    samples, preds = _three_class_set(rng)
    preds[-1][:] = 0
    preds[-1][0] = 1.0  # perfect on one authentic image
    r = _run(samples, preds, authentic="count")
    unions = [np.clip(p[1] + p[2], 0, 1) for p in preds]
    gts = [s["mask"] != 0 for s in samples]
    y = np.concatenate([g.ravel() for g in gts])
    p = np.concatenate([u.ravel() for u in unions])
    assert r["f1_conventions"]["fixed_threshold"]["pooled"] == pytest.approx(f1_score(y, p >= 0.5))
    per_image = [f1_fixed(u, g, empty="count") for u, g in zip(unions, gts, strict=True)]
    assert per_image[-1] == 1.0
    assert r["pixel"]["union"]["per_image"]["f1"] == pytest.approx(np.mean(per_image))
    assert r["pixel"]["union"]["per_image"]["n_images"] == 6
    assert r["counts"]["gt_empty_pred_empty"] == 1
    assert r["per_image"][-1]["mask_case"] == "gt_empty_pred_empty"


def test_all_forged_reference_matches_sklearn(rng):
    samples, preds = _three_class_set(rng)
    r = _run(samples, preds)
    ref = r["f1_conventions"]["all_forged_reference"]
    gts = [s["mask"] != 0 for s in samples if s["mask"].any()]
    ones = [np.ones(g.size, bool) for g in gts]
    expected = [f1_score(g.ravel(), o) for g, o in zip(gts, ones, strict=True)]
    assert ref["per_image"] == pytest.approx(np.mean(expected))
    y = np.concatenate([g.ravel() for g in gts])
    assert ref["pooled"] == pytest.approx(f1_score(y, np.ones(y.size, bool)))
    assert "f1_all_forged_reference" in r["protocol_notes"]
    # by hand: a quarter of the image forged -> precision 0.25, recall 1, F1 = 0.4
    quarter = np.zeros((H, W), np.uint8)
    quarter[: H // 2, : W // 2] = 2
    one = _run([image_sample("q", quarter, 1)], [np.full((3, H, W), 1 / 3, np.float32)])
    assert one["f1_conventions"]["all_forged_reference"]["per_image"] == pytest.approx(0.4)


def test_given_scores_and_border(rng):
    samples, preds = _three_class_set(rng)
    scores = [0.9, 0.8, 0.3, 0.7, 0.1, 0.6]
    r = _run(samples, preds, scores=scores, border=2, threshold=0.5)
    assert r["image"]["auc"] == pytest.approx(roc_auc_score([1, 1, 1, 1, 0, 0], scores))
    assert r["image"]["tp"] == 3 and r["image"]["fp"] == 1
    assert r["f1_conventions"]["border_excluded"]["border_px"] == 2
    assert (
        r["f1_conventions"]["border_excluded"]["per_image"]
        != r["f1_conventions"]["fixed_threshold"]["per_image"]
    )


def test_errors_are_recorded_and_scoring_goes_on(rng):
    samples, preds = _three_class_set(rng, n_forged=2, n_authentic=0)
    items = [
        (samples[0], preds[0], None),
        PredictionError("ghost", "no prediction file"),
        (samples[1], np.full((H, W), 2.0), None),
    ]
    r = evaluate_predictions(InMemoryDataset(samples, "three_class"), items)
    assert [e["name"] for e in r["errors"]] == ["ghost", "img1"]
    assert "probabilities must be in [0, 1]" in r["errors"][1]["reason"]
    assert r["counts"]["n_scored"] == 1 and r["counts"]["n_errors"] == 2
    assert r["per_image"][1]["error"] == "no prediction file"


def test_binary_predictions_on_three_class_truth_skip_per_class(rng):
    samples, preds = _three_class_set(rng, n_forged=2, n_authentic=1)
    unions = [np.clip(p[1] + p[2], 0, 1) for p in preds]
    r = _run(samples, unions)
    assert r["pixel"]["per_class"] is None and r["discernibility"] is None
    assert r["counts"]["union_only_prediction"] == 2


def test_unknown_label_and_missing_mask(rng):
    mask = np.zeros((H, W), np.uint8)
    mask[:5, :5] = 1
    samples = [
        image_sample("a", mask, 1, "binary"),
        {**image_sample("b", mask, -1, "binary"), "mask": None},
        image_sample("c", np.zeros_like(mask), 0, "binary"),
    ]
    probs = [rng.random((H, W)) for _ in samples]
    ds = InMemoryDataset(samples, "binary")
    r = evaluate_predictions(ds, [(s, p, None) for s, p in zip(samples, probs, strict=True)])
    assert r["counts"]["unknown_label"] == 1 and r["counts"]["no_ground_truth"] == 1
    assert r["image"]["n_images"] == 2


def test_bad_settings_messages(rng):
    ds = InMemoryDataset([], "binary")
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\], got 1.5"):
        evaluate_predictions(ds, [], threshold=1.5)
    with pytest.raises(ValueError, match="border must be >= 0 pixels"):
        evaluate_predictions(ds, [], border=-1)
    with pytest.raises(ValueError, match="empty-mask rule must be one of"):
        evaluate_predictions(ds, [], authentic="drop")  # type: ignore[arg-type]


def test_bad_ground_truth_is_reported(rng):
    bad = np.full((H, W), 7, np.uint8)
    s = image_sample("bad", bad, 1)
    r = evaluate_predictions(InMemoryDataset([s], "three_class"), [(s, rng.random((H, W)), None)])
    assert "3-class ground-truth mask has values up to 7" in r["errors"][0]["reason"]


def test_pair_dataset_is_refused_by_image_scoring():
    with pytest.raises(TypeError, match="score probe/donor pairs with PairAccumulator"):
        evaluate_predictions(PairDataset(), [])
    with pytest.raises(TypeError, match="CopyMoveAccumulator scores single images"):
        CopyMoveAccumulator(dataset=PairDataset())
