"""Probe/donor pair metrics (DMAC's protocol)."""

from __future__ import annotations

import numpy as np
import pytest

from tamperscope.inference.pairs import mask_score, pair_score
from tamperscope.metrics.pairs import pair_localization_scores
from tamperscope.metrics.pixel import confusion_counts


def test_pair_score_by_hand():
    a = np.array([[0.9, 0.7, 0.2]])  # above 0.5: mean 0.8
    b = np.array([[0.1, 0.5, 0.3]])  # none strictly above 0.5 -> 0
    assert mask_score(a) == pytest.approx(0.8)
    assert mask_score(b) == 0.0
    assert pair_score(a, b) == pytest.approx(0.4)
    assert pair_score(np.ones((2, 2)), np.ones((3, 5))) == 1.0  # sizes may differ


def test_pair_localization_averages_both_masks(rng):
    ga = rng.random((12, 14)) < 0.3
    gb = rng.random((9, 11)) < 0.3
    pa = rng.random((12, 14))
    pb = rng.random((9, 11))
    s = pair_localization_scores(pa, pb, ga, gb)
    ca, cb = confusion_counts(pa >= 0.5, ga), confusion_counts(pb >= 0.5, gb)
    assert s["iou"] == pytest.approx((ca.iou() + cb.iou()) / 2)
    assert s["mcc"] == pytest.approx((ca.mcc() + cb.mcc()) / 2)
    assert s["nmm"] == pytest.approx((ca.nmm() + cb.nmm()) / 2)


def test_negative_pair_empty_rule():
    z = np.zeros((4, 4))
    assert pair_localization_scores(z, z, z, z) is None
    assert pair_localization_scores(z, z, z, z, empty="count") == {
        "iou": 1.0,
        "mcc": 1.0,
        "nmm": 1.0,
    }
    with pytest.raises(ValueError, match="same shape"):
        pair_localization_scores(z, z, np.zeros((3, 3)), z)
