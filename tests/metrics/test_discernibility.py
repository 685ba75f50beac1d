"""BusterNet source/target discernibility: each outcome on a hand-made case."""

from __future__ import annotations

import numpy as np
import pytest

from tamperscope.metrics.discernibility import discernibility_outcome, discernibility_summary


def _gt() -> np.ndarray:
    gt = np.zeros((10, 20), np.uint8)
    gt[2:6, 2:6] = 1  # source
    gt[2:6, 12:16] = 2  # target
    return gt


def test_each_outcome():
    gt = _gt()
    assert discernibility_outcome(np.zeros_like(gt), gt) == "missed"
    only_union = np.where(gt > 0, 2, 0).astype(np.uint8)  # everything called target
    assert discernibility_outcome(only_union, gt) == "opted_out"
    assert discernibility_outcome(gt.copy(), gt) == "correct"
    swapped = np.where(gt == 1, 2, np.where(gt == 2, 1, 0)).astype(np.uint8)
    assert discernibility_outcome(swapped, gt) == "wrong"


def test_partial_overlap_uses_majority_rule():
    gt = _gt()
    pred = np.zeros_like(gt)
    pred[2:6, 2:5] = 1  # 12 px on GT source
    pred[2:6, 12:13] = 1  # 4 px of "source" on GT target: still more on source
    pred[2:6, 13:16] = 2  # target on GT target
    assert discernibility_outcome(pred, gt) == "correct"
    pred[2:6, 12:16] = 1  # now 16 px of source on GT target > 12 on GT source
    pred[2:6, 5:6] = 2  # and target is on GT source
    assert discernibility_outcome(pred, gt) == "wrong"


def test_min_pixels_and_unscored():
    gt = _gt()
    pred = gt.copy()
    pred[pred == 1] = 0
    pred[2, 2] = 1  # a single source pixel
    assert discernibility_outcome(pred, gt, min_pixels=1) == "correct"
    assert discernibility_outcome(pred, gt, min_pixels=2) == "opted_out"
    splice = np.where(gt == 2, 2, 0).astype(np.uint8)  # no source region in the GT
    assert discernibility_outcome(splice, splice) is None


def test_summary_counts_and_accuracies():
    s = discernibility_summary(["correct", "correct", "wrong", "opted_out", "missed", None])
    assert s["n_scored"] == 5 and s["opted_in"] == 3
    assert s["opt_in_accuracy"] == pytest.approx(2 / 3)
    assert s["overall_accuracy"] == pytest.approx(2 / 5)
    empty = discernibility_summary([])
    assert empty["opt_in_accuracy"] is None and empty["overall_accuracy"] is None


def test_error_messages():
    with pytest.raises(ValueError, match="unknown discernibility outcome 'right'"):
        discernibility_summary(["right"])
    with pytest.raises(ValueError, match="differ in shape"):
        discernibility_outcome(np.zeros((2, 2), np.uint8), _gt())
    with pytest.raises(ValueError, match="min_pixels must be >= 1, got 0"):
        discernibility_outcome(_gt(), _gt(), min_pixels=0)
