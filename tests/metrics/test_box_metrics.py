"""Box IoU / GIoU by hand and against torchvision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou as tv_box_iou
from torchvision.ops import generalized_box_iou as tv_giou

from tamperscope.metrics.boxes import (
    box_iou,
    box_success_rate,
    generalized_box_iou,
    mask_to_box,
)


def test_iou_and_giou_by_hand():
    a = np.array([0, 0, 2, 2])
    b = np.array([1, 1, 3, 3])
    # intersection 1, union 7, hull 9
    assert box_iou(a, b)[0] == pytest.approx(1 / 7)
    assert generalized_box_iou(a, b)[0] == pytest.approx(1 / 7 - 2 / 9)
    far = np.array([4, 0, 6, 2])  # disjoint: IoU 0, hull 12, union 8
    assert box_iou(a, far)[0] == 0.0
    assert generalized_box_iou(a, far)[0] == pytest.approx(-4 / 12)
    assert generalized_box_iou(a, a)[0] == 1.0


def test_match_torchvision(rng):
    xy = rng.integers(0, 50, (20, 2))
    wh = rng.integers(1, 30, (20, 2))
    a = np.concatenate([xy, xy + wh], 1).astype(float)
    xy = rng.integers(0, 50, (20, 2))
    b = np.concatenate([xy, xy + rng.integers(1, 30, (20, 2))], 1).astype(float)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    np.testing.assert_allclose(box_iou(a, b), torch.diag(tv_box_iou(ta, tb)).numpy())
    np.testing.assert_allclose(generalized_box_iou(a, b), torch.diag(tv_giou(ta, tb)).numpy())


def test_success_rate():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10]])
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 5]])  # IoU 1 and 0.5
    assert box_success_rate(pred, gt) == 0.5
    assert box_success_rate(pred, gt, iou_threshold=0.5) == 1.0


def test_mask_to_box_is_exclusive():
    m = np.zeros((8, 9), np.uint8)
    m[2:5, 3:7] = 1
    assert mask_to_box(m) == (3, 2, 7, 5)
    assert mask_to_box(np.zeros((3, 3))) is None


def test_error_messages():
    with pytest.raises(ValueError, match=r"must be \(N, 4\) boxes"):
        box_iou(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="xmax < xmin or ymax < ymin"):
        box_iou(np.array([5, 0, 2, 2]), np.array([0, 0, 1, 1]))
    with pytest.raises(ValueError, match="must match one to one"):
        generalized_box_iou(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="no boxes to score"):
        box_success_rate(np.zeros((0, 4)), np.zeros((0, 4)))
