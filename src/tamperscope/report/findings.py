"""From detector results to one report: the fused decision, the drawn mask and the findings.

Several detectors look at one image (``tamperscope analyze``: the copy-move detector and the
generic manipulation localizer). Their results are combined in three steps:

* Decision (:func:`fuse_scores`): each detector's image score is mapped piecewise linearly so
  that its own threshold lands on 0.5 (0 -> 0, threshold -> 0.5, 1 -> 1); the fused score is
  the largest mapped score and the image is forged when it reaches the decision threshold (0.5
  by default): "forged" as soon as one detector is sure enough by its own standard. A single
  detector whose threshold is 0.5 keeps its own score.
* Mask (:func:`compose_class_map`): the regions of every detector that passes the decision
  are painted into one report class map; a copy-move detector's source and target win where
  they overlap a generic "manipulated" region (they say more: which part is the copy), the
  rest of the generic region stays "manipulated".
* Findings (:func:`findings_of`): one entry per connected region of each passing detector,
  with its kind, the detector's name, the region's mean probability, box and area.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from tamperscope.types import MANIPULATED, SOURCE, TARGET, DetectorResult

__all__ = [
    "MIN_FINDING_FRACTION",
    "PIXEL_THRESHOLD",
    "calibrated_score",
    "compose_class_map",
    "detector_class_map",
    "findings_of",
    "fuse_scores",
    "passes",
]

#: Probability at which a pixel belongs to a region.
PIXEL_THRESHOLD = 0.5
#: Regions smaller than this fraction of the image are not reported as findings (they stay in
#: the mask and its areas).
MIN_FINDING_FRACTION = 5e-4


def calibrated_score(score: float, threshold: float) -> float:
    """``score`` mapped so that ``threshold`` becomes 0.5, piecewise linearly, in [0, 1].

    Raises:
        ValueError: ``threshold`` not in (0, 1).
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"a detector threshold must be in (0, 1), got {threshold}")
    s = min(max(float(score), 0.0), 1.0)
    if s < threshold:
        return 0.5 * s / threshold
    return 0.5 + 0.5 * (s - threshold) / (1.0 - threshold)


def fuse_scores(results: Sequence[DetectorResult]) -> float:
    """The fused image score: the largest :func:`calibrated_score` of the detectors, in [0, 1].

    Raises:
        ValueError: no result.
    """
    if not results:
        raise ValueError("no detector result to fuse")
    return max(calibrated_score(r.score, r.threshold) for r in results)


def passes(result: DetectorResult, threshold: float) -> bool:
    """Whether ``result`` contributes regions: its calibrated score reaches ``threshold``
    (the fused decision threshold)."""
    return calibrated_score(result.score, result.threshold) >= threshold


def detector_class_map(
    result: DetectorResult, *, pixel_threshold: float = PIXEL_THRESHOLD
) -> np.ndarray:
    """One detector's regions as a report class map.

    A 3-class copy-move prediction gives source (1) and target (2); a 1-channel prediction
    (a generic localizer, or a copy-move model that cannot tell the copy from its source) gives
    manipulated (3) where its probability reaches ``pixel_threshold``.

    Returns:
        (H, W) uint8 in {0, 1, 2, 3}.

    Raises:
        ValueError: the result holds no prediction.
    """
    if result.prediction is None:
        raise ValueError(f"the result of {result.name} holds no prediction")
    pred = result.prediction
    if pred.probabilities.shape[0] == 3:
        return pred.class_map(pixel_threshold)
    return np.where(pred.forgery_map >= pixel_threshold, MANIPULATED, 0).astype(np.uint8)


def compose_class_map(maps: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Several detectors' class maps as one: source and target first, manipulated elsewhere.

    Args:
        maps: (H, W) uint8 report class maps.
        shape: (H, W) of the image (the result when ``maps`` is empty: all pristine).

    Returns:
        (H, W) uint8 in {0, 1, 2, 3}.
    """
    out = np.zeros(shape, np.uint8)
    for m in maps:  # generic regions first, so that copy-move roles overwrite them
        out[(m == MANIPULATED) & (out == 0)] = MANIPULATED
    for m in maps:
        for cls in (SOURCE, TARGET):
            out[m == cls] = cls
    return out


def _kind(result: DetectorResult, cls: int) -> str:
    if cls == SOURCE:
        return "copy-move-source"
    if cls == TARGET:
        return "copy-move-target"
    return "copy-move" if result.task == "copy_move" else "manipulated"


def findings_of(
    result: DetectorResult,
    class_map: np.ndarray,
    *,
    min_fraction: float = MIN_FINDING_FRACTION,
) -> list[dict]:
    """The connected regions of one detector's class map as findings, largest first.

    Args:
        result: the detector's result (its name, task and prediction).
        class_map: (H, W) uint8, :func:`detector_class_map` of ``result``.
        min_fraction: regions smaller than this fraction of the image are left out.

    Returns:
        ``[{"kind", "detector", "score", "bbox": [xmin, ymin, xmax, ymax], "area_px"}]``;
        ``score`` is the mean probability (0-1) of the region's pixels: of its class for a
        3-class prediction, of "manipulated" otherwise.
    """
    if result.prediction is None:
        raise ValueError(f"the result of {result.name} holds no prediction")
    probs = result.prediction.probabilities
    total = class_map.size
    found: list[dict] = []
    for cls in (SOURCE, TARGET, MANIPULATED):
        region = (class_map == cls).astype(np.uint8)
        if not region.any():
            continue
        prob = probs[cls] if probs.shape[0] == 3 else probs[0]
        n, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
        for i in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[i])
            if area < max(1.0, min_fraction * total):
                continue
            found.append(
                {
                    "kind": _kind(result, cls),
                    "detector": result.name,
                    "score": round(float(prob[labels == i].mean()), 4),
                    "bbox": [x, y, x + w, y + h],
                    "area_px": area,
                }
            )
    found.sort(key=lambda f: -f["area_px"])
    return found
