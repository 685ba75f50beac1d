"""Pair-level metrics for constrained image splicing (probe/donor pairs).

Follows DMAC: Liu, Zhu, Zhao and Cao, "Adversarial Learning for Constrained Image Splicing
Detection and Localization Based on Atrous Convolution", IEEE TIFS 2019
(DOI 10.1109/TIFS.2019.2902826): localization is scored by IoU, MCC and NMM averaged over
the two masks of a pair. The pair score (DMAC's rule) is
:func:`tamperscope.inference.pairs.pair_score`.
"""

from __future__ import annotations

import numpy as np

from tamperscope.metrics.pixel import (
    EmptyRule,
    binarize,
    confusion_counts,
    localization_scores,
)


def pair_localization_scores(
    prob_a: np.ndarray,
    prob_b: np.ndarray,
    gt_a: np.ndarray,
    gt_b: np.ndarray,
    threshold: float = 0.5,
    *,
    empty: EmptyRule = "skip",
) -> dict[str, float] | None:
    """IoU, MCC and NMM of a pair, each averaged over its two masks (``prob >= threshold``).

    Args:
        prob_a, prob_b: (H1, W1) and (H2, W2) float in [0, 1], probe and donor maps.
        gt_a, gt_b: ground-truth masks of the same sizes, nonzero = shared region.
        threshold: decision threshold.
        empty: empty-mask rule of :func:`~tamperscope.metrics.pixel.localization_scores`,
            applied to each mask; with ``"skip"`` a pair is averaged over its non-empty masks
            and skipped (``None``) when both are empty (negative pairs).

    Returns:
        ``{"iou", "mcc", "nmm"}`` or ``None`` when skipped.

    Raises:
        ValueError: a map and its mask differ in shape.
    """
    per_mask = [
        localization_scores(confusion_counts(binarize(p, threshold), g), empty=empty)
        for p, g in ((prob_a, gt_a), (prob_b, gt_b))
    ]
    kept = [s for s in per_mask if s is not None]
    if not kept:
        return None
    return {k: float(np.mean([s[k] for s in kept])) for k in ("iou", "mcc", "nmm")}
