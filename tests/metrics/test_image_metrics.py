"""Image-level metrics against scikit-learn and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from tamperscope.metrics.image import (
    combined_f1,
    equal_error_rate,
    gmean_threshold,
    image_level_metrics,
)


@pytest.mark.parametrize("seed", range(4))
def test_threshold_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 40)
    s = np.clip(rng.normal(0.4 + 0.2 * y, 0.25), 0, 1)
    m = image_level_metrics(y, s, threshold=0.5)
    p = (s >= 0.5).astype(int)
    assert m["precision"] == pytest.approx(precision_score(y, p, zero_division=0))
    assert m["recall"] == pytest.approx(recall_score(y, p))
    assert m["sensitivity"] == m["recall"]
    assert m["specificity"] == pytest.approx(recall_score(1 - y, 1 - p))
    assert m["f1"] == pytest.approx(f1_score(y, p))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p))
    assert m["auc"] == pytest.approx(roc_auc_score(y, s))
    assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == 40


def test_eer_and_auc_by_hand():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.6, 0.4, 0.9])
    # ROC: (0,0) (0,.5)@.9 (.5,.5)@.6 (.5,1)@.4 (1,1)@.1 -> FPR = FNR = 0.5 at threshold 0.6
    eer, thr = equal_error_rate(y, s)
    assert eer == pytest.approx(0.5) and thr == pytest.approx(0.6)
    assert image_level_metrics(y, s)["auc"] == pytest.approx(0.75)


def test_eer_interpolates_between_roc_points():
    y = np.array([0, 1, 1])
    s = np.array([0.5, 0.4, 0.9])
    # (fpr, fnr): (0, 1/2)@0.9 then (1, 1/2)@0.5; on the segment fpr = fnr at 1/2
    eer, thr = equal_error_rate(y, s)
    assert eer == pytest.approx(0.5) and thr == pytest.approx(0.5)
    assert equal_error_rate(np.array([0, 1]), np.array([0.2, 0.8]))[0] == 0.0  # separable
    assert equal_error_rate(np.array([1, 1]), np.array([0.2, 0.8])) is None


def test_gmean_threshold_by_hand():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.6, 0.4, 0.9])
    g = gmean_threshold(y, s)
    # candidates: 0.9 -> sqrt(.5*1); 0.6 -> sqrt(.5*.5); 0.4 -> sqrt(1*.5); first max kept
    assert g["g_mean"] == pytest.approx(np.sqrt(0.5))
    assert g["threshold"] == pytest.approx(0.9)
    assert (g["tpr"], g["fpr"]) == (0.5, 0.0)


def test_single_class_threshold_free_metrics_are_none():
    m = image_level_metrics(np.ones(5, int), np.linspace(0, 1, 5))
    assert m["auc"] is None and m["eer"] is None and m["gmean"] is None
    assert m["specificity"] is None and m["f1_sens_spec"] is None
    assert m["balanced_accuracy"] == m["sensitivity"] == pytest.approx(3 / 5)


def test_combined_f1_is_harmonic_mean():
    assert combined_f1(0.5, 1.0) == pytest.approx(2 / 3)
    assert combined_f1(0.0, 0.0) == 0.0
    assert combined_f1(None, 0.5) is None
    m = image_level_metrics(np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.3, 0.7]))
    # sens 1/2, spec 1/2 -> MVSS-Net image F1 0.5
    assert m["f1_sens_spec"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [
        ([0, 1], [0.5], "differ in length: 2 vs 1"),
        ([], [], "no images to score"),
        ([0, 2], [0.1, 0.2], r"labels must be 0 or 1, got values \[0, 2\]"),
        ([0, 1], [0.1, np.nan], "must be finite"),
    ],
)
def test_bad_inputs_messages(labels, scores, message):
    with pytest.raises(ValueError, match=message):
        image_level_metrics(np.array(labels), np.array(scores, dtype=float))
