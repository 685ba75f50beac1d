"""Bounding-box metrics: IoU, generalized IoU and success rate.

Boxes are (xmin, ymin, xmax, ymax) in pixels with xmax and ymax exclusive, so a box's area
is (xmax - xmin) * (ymax - ymin) and the box of a single pixel (x, y) is (x, y, x+1, y+1).
"""

from __future__ import annotations

import numpy as np


def _as_boxes(boxes: np.ndarray, what: str) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim == 1:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(
            f"{what} must be (N, 4) boxes (xmin, ymin, xmax, ymax), got shape {b.shape}"
        )
    if (b[:, 2] < b[:, 0]).any() or (b[:, 3] < b[:, 1]).any():
        raise ValueError(f"{what} has boxes with xmax < xmin or ymax < ymin")
    return b


def _area(b: np.ndarray) -> np.ndarray:
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _iou_parts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    return inter, _area(a) + _area(b) - inter


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of matched boxes (row i of ``a`` with row i of ``b``).

    Args:
        boxes_a, boxes_b: (N, 4) or (4,) float, (xmin, ymin, xmax, ymax) in pixels,
            xmax/ymax exclusive.

    Returns:
        (N,) float64 in [0, 1]; 0 when both boxes have zero area.

    Raises:
        ValueError: not (N, 4), different N, or xmax < xmin / ymax < ymin.
    """
    a, b = _as_boxes(boxes_a, "boxes_a"), _as_boxes(boxes_b, "boxes_b")
    if a.shape != b.shape:
        raise ValueError(f"boxes_a and boxes_b must match one to one, got {a.shape} and {b.shape}")
    inter, union = _iou_parts(a, b)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def generalized_box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Generalized IoU, IoU - |C \\ (A u B)| / |C| with C the smallest enclosing box.

    Rezatofighi et al., "Generalized Intersection over Union", CVPR 2019 (arXiv 1902.09630).

    Args:
        boxes_a, boxes_b: (N, 4) or (4,) float, (xmin, ymin, xmax, ymax) in pixels.

    Returns:
        (N,) float64 in [-1, 1]; 0 when the enclosing box has zero area.

    Raises:
        ValueError: as :func:`box_iou`.
    """
    a, b = _as_boxes(boxes_a, "boxes_a"), _as_boxes(boxes_b, "boxes_b")
    if a.shape != b.shape:
        raise ValueError(f"boxes_a and boxes_b must match one to one, got {a.shape} and {b.shape}")
    inter, union = _iou_parts(a, b)
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    cw = np.maximum(a[:, 2], b[:, 2]) - np.minimum(a[:, 0], b[:, 0])
    ch = np.maximum(a[:, 3], b[:, 3]) - np.minimum(a[:, 1], b[:, 1])
    hull = cw * ch
    penalty = np.divide(hull - union, hull, out=np.zeros_like(hull), where=hull > 0)
    return iou - penalty


def box_success_rate(
    pred_boxes: np.ndarray, gt_boxes: np.ndarray, iou_threshold: float = 0.55
) -> float:
    """Fraction of images whose predicted box has IoU >= ``iou_threshold`` with the true box.

    Args:
        pred_boxes, gt_boxes: (N, 4) float, matched one to one, N >= 1.
        iou_threshold: success threshold in [0, 1].

    Returns:
        Fraction in [0, 1].

    Raises:
        ValueError: as :func:`box_iou`, or no box.
    """
    iou = box_iou(pred_boxes, gt_boxes)
    if iou.size == 0:
        raise ValueError("no boxes to score")
    return float(np.mean(iou >= iou_threshold))


def mask_to_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Tight box of the nonzero pixels of a mask.

    Args:
        mask: (H, W) bool or integer, nonzero = inside.

    Returns:
        (xmin, ymin, xmax, ymax) in pixels, xmax/ymax exclusive; ``None`` for an empty mask.
    """
    ys, xs = np.nonzero(np.asarray(mask))
    if ys.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
