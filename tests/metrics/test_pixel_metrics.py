"""Pixel metrics against scikit-learn and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    f1_score,
    jaccard_score,
    matthews_corrcoef,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from tamperscope.metrics.pixel import (
    ConfusionCounts,
    ScoreHistogram,
    confusion_counts,
    f1_best_threshold,
    f1_fixed,
    f1_inverted_max,
    localization_scores,
    no_score_zone,
    per_image_f1_curve,
    pixel_auc,
    three_class_labels,
)


def _random_case(rng, h=23, w=31, p_gt=0.3, p_pred=0.4):
    gt = rng.random((h, w)) < p_gt
    pred = rng.random((h, w)) < p_pred
    return pred, gt


@pytest.mark.parametrize("seed", range(5))
def test_scores_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    pred, gt = _random_case(rng)
    scores = localization_scores(confusion_counts(pred, gt))
    y, p = gt.ravel(), pred.ravel()
    assert scores["precision"] == pytest.approx(precision_score(y, p, zero_division=0))
    assert scores["recall"] == pytest.approx(recall_score(y, p, zero_division=0))
    assert scores["f1"] == pytest.approx(f1_score(y, p, zero_division=0))
    assert scores["iou"] == pytest.approx(jaccard_score(y, p, zero_division=0))
    assert scores["mcc"] == pytest.approx(matthews_corrcoef(y, p))


def test_counts_and_nmm_by_hand():
    gt = np.zeros((4, 4), np.uint8)
    gt[:2, :2] = 1  # 4 forged pixels
    pred = np.zeros((4, 4), bool)
    pred[:2, :1] = True  # 2 TP
    pred[3, 3] = True  # 1 FP
    c = confusion_counts(pred, gt)
    assert c == ConfusionCounts(tp=2, fp=1, fn=2, tn=11)
    # NMM = (TP - FN - FP) / (TP + FN) = (2 - 2 - 1) / 4
    assert c.nmm() == pytest.approx(-0.25)
    assert c.f1() == pytest.approx(4 / 7)
    assert c.iou() == pytest.approx(2 / 5)
    # floored at -1: many false positives
    assert ConfusionCounts(tp=1, fp=50, fn=3, tn=0).nmm() == -1.0


def test_ignore_mask_removes_pixels():
    gt = np.array([[1, 1, 0, 0]], np.uint8)
    pred = np.array([[1, 0, 1, 0]], bool)
    ignore = np.array([[False, True, True, False]])
    assert confusion_counts(pred, gt, ignore) == ConfusionCounts(tp=1, fp=0, fn=0, tn=1)


def test_shape_mismatch_message():
    with pytest.raises(ValueError, match=r"same shape; got pred \(2, 2\), gt \(3, 3\)"):
        confusion_counts(np.zeros((2, 2)), np.zeros((3, 3)))


def test_empty_ground_truth_rules():
    empty_gt = np.zeros((5, 5), np.uint8)
    nothing = np.zeros((5, 5), bool)
    something = nothing.copy()
    something[0, 0] = True
    assert localization_scores(confusion_counts(nothing, empty_gt)) is None
    assert localization_scores(confusion_counts(something, empty_gt), empty="skip") is None
    perfect = localization_scores(confusion_counts(nothing, empty_gt), empty="count")
    assert perfect == dict.fromkeys(perfect, 1.0)
    alarm = localization_scores(confusion_counts(something, empty_gt), empty="count")
    assert alarm == {
        "precision": 0.0,
        "recall": 1.0,
        "f1": 0.0,
        "iou": 0.0,
        "mcc": 0.0,
        "nmm": -1.0,
    }


def test_missed_forgery_scores_zero():
    gt = np.zeros((5, 5), np.uint8)
    gt[1:3, 1:3] = 1
    s = localization_scores(confusion_counts(np.zeros((5, 5), bool), gt))
    assert s["f1"] == 0.0 and s["precision"] == 0.0 and s["recall"] == 0.0
    assert s["mcc"] == 0.0 and s["nmm"] == -1.0


def test_unknown_empty_rule_message():
    with pytest.raises(ValueError, match="empty-mask rule must be one of"):
        localization_scores(ConfusionCounts(), empty="ignore")  # type: ignore[arg-type]


def test_histogram_auc_equals_sklearn_for_8bit_maps(rng):
    gt = rng.random((40, 50)) < 0.3
    prob = (rng.integers(0, 256, (40, 50)) / 255.0) * 0.7 + 0.3 * gt * rng.random((40, 50))
    prob = np.round(prob * 255) / 255
    assert pixel_auc(prob, gt) == pytest.approx(roc_auc_score(gt.ravel(), prob.ravel()), abs=1e-12)


def test_pooled_histogram_auc_close_to_sklearn_for_float_maps(rng):
    hist = ScoreHistogram(1001)
    all_p, all_g = [], []
    for _ in range(4):
        gt = rng.random((30, 30)) < 0.25
        prob = np.clip(rng.normal(0.4 + 0.2 * gt, 0.2), 0, 1)
        hist.update(prob, gt)
        all_p.append(prob.ravel())
        all_g.append(gt.ravel())
    expected = roc_auc_score(np.concatenate(all_g), np.concatenate(all_p))
    assert hist.auc() == pytest.approx(expected, abs=2e-3)


def test_histogram_counts_match_thresholding(rng):
    gt = rng.random((20, 20)) < 0.4
    prob = rng.integers(0, 1001, (20, 20)) / 1000.0
    hist = ScoreHistogram(1001)
    hist.update(prob, gt)
    tp, fp, fn, tn = hist.counts()
    for k in (0, 250, 500, 999, 1000):
        c = confusion_counts(prob >= hist.thresholds[k] - 1e-12, gt)
        assert (tp[k], fp[k], fn[k], tn[k]) == (c.tp, c.fp, c.fn, c.tn)
    f1, thr = hist.best_f1()
    brute = max(f1_score(gt.ravel(), prob.ravel() >= t - 1e-12) for t in hist.thresholds)
    assert f1 == pytest.approx(brute)
    assert 0.0 <= thr <= 1.0


def test_histogram_undefined_auc_and_errors():
    hist = ScoreHistogram(11)
    hist.update(np.full((3, 3), 0.5), np.zeros((3, 3)))
    assert hist.auc() is None
    with pytest.raises(ValueError, match="at least 2 bins"):
        ScoreHistogram(1)
    with pytest.raises(ValueError, match="cannot add histograms of 5 and 11 bins"):
        hist += ScoreHistogram(5)
    with pytest.raises(ValueError, match="differ in shape"):
        hist.update(np.zeros((2, 2)), np.zeros((3, 3)))


def test_oracle_f1_matches_sklearn_precision_recall_curve(rng):
    gt = rng.random((25, 25)) < 0.3
    prob = rng.integers(0, 256, (25, 25)) / 255.0
    prec, rec, _ = precision_recall_curve(gt.ravel(), prob.ravel())
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.nan_to_num(2 * prec * rec / (prec + rec))
    best, thr = f1_best_threshold(prob, gt)
    assert best == pytest.approx(f1.max())
    assert f1_fixed(prob, gt, thr) == pytest.approx(best)


def test_per_image_f1_curve_empty_rules():
    hist = ScoreHistogram(3)  # thresholds 0, 0.5, 1
    hist.update(np.array([[0.2, 0.6]]), np.zeros((1, 2)))
    assert per_image_f1_curve(hist) is None
    np.testing.assert_array_equal(per_image_f1_curve(hist, empty="count"), [0.0, 0.0, 1.0])


def test_inverted_max_by_hand():
    gt = np.array([[1, 1, 0, 0]], np.uint8)
    prob = np.array([[0.1, 0.2, 0.9, 0.8]])  # polarity reversed
    assert f1_fixed(prob, gt) == 0.0
    assert f1_inverted_max(prob, gt) == 1.0


def test_no_score_zone_by_hand():
    gt = np.zeros((9, 9), np.uint8)
    gt[3:6, 3:6] = 1
    zone = no_score_zone(gt, 1)
    expected = np.zeros((9, 9), bool)
    expected[2:7, 2:7] = True  # dilation by a 3x3 disc (a cross, corners excluded)
    for y, x in ((2, 2), (2, 6), (6, 2), (6, 6)):
        expected[y, x] = False
    expected[4, 4] = False  # the eroded core stays scored
    np.testing.assert_array_equal(zone, expected)
    assert not no_score_zone(gt, 0).any()
    # a mask touching the image border: the border is not a boundary
    full = np.ones((5, 5), np.uint8)
    assert not no_score_zone(full, 2).any()
    with pytest.raises(ValueError, match="border radius must be >= 0 pixels, got -1"):
        no_score_zone(gt, -1)


def test_three_class_labels_rule():
    prob = np.array(
        [
            [[0.4, 0.9, 0.2, 0.3]],  # pristine
            [[0.3, 0.05, 0.5, 0.35]],  # source
            [[0.3, 0.05, 0.3, 0.35]],  # target
        ]
    )
    # union >= 0.5 for px 0 (0.6), 2 (0.8), 3 (0.7); px 3 is a tie -> target
    np.testing.assert_array_equal(three_class_labels(prob), [[2, 0, 1, 2]])
    with pytest.raises(ValueError, match=r"expected \(3, H, W\) probabilities"):
        three_class_labels(np.zeros((2, 4, 4)))
