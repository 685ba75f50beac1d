"""Segmentation and detection losses: hand-derived cases, cross-checks, bounds, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tamperscope.losses.segmentation import (
    boundary_loss,
    cross_entropy_loss,
    detection_bce_loss,
    dice_loss,
    focal_loss,
    generalized_dice_loss,
    signed_distance_map,
)

MASK_LOSSES = [cross_entropy_loss, focal_loss, dice_loss, generalized_dice_loss]


def _target(rng, b=2, h=6, w=5, k=3) -> torch.Tensor:
    return torch.from_numpy(rng.integers(0, k, (b, h, w))).long()


def _logits(rng, b=2, c=3, h=6, w=5) -> torch.Tensor:
    return torch.from_numpy(rng.standard_normal((b, c, h, w)).astype("float32"))


def _perfect_logits(target: torch.Tensor, c: int, scale: float = 30.0) -> torch.Tensor:
    if c == 1:
        return (target.float() * 2 - 1).unsqueeze(1) * scale
    return F.one_hot(target, c).permute(0, 3, 1, 2).float() * scale


@pytest.mark.parametrize("c", [3, 1])
def test_perfect_prediction_gives_near_zero(c, rng) -> None:
    target = _target(rng, k=max(c, 2))
    logits = _perfect_logits(target, c)
    for loss in MASK_LOSSES:
        assert float(loss(logits, target)) == pytest.approx(0.0, abs=1e-5), loss.__name__


def test_uniform_prediction_hand_values() -> None:
    # One 1x2 image, target [pristine, forged], 1-channel head with p = 0.5 everywhere.
    target = torch.tensor([[[0, 1]]])
    logits = torch.zeros(1, 1, 1, 2)
    assert float(cross_entropy_loss(logits, target)) == pytest.approx(math.log(2))
    # Per class: I = 0.5, sum p = 1, sum r = 1 -> (2 * 0.5 + 1) / (2 + 1) = 2/3.
    assert float(dice_loss(logits, target)) == pytest.approx(1 / 3)
    # Volumes 1 and 1 -> w = 1: 1 - 2 * (0.5 + 0.5) / (2 + 2) = 0.5.
    assert float(generalized_dice_loss(logits, target)) == pytest.approx(0.5, abs=1e-5)
    # Focal: (1 - 0.5)^2 * log 2.
    assert float(focal_loss(logits, target)) == pytest.approx(0.25 * math.log(2))
    three = torch.zeros(1, 3, 1, 2)
    assert float(cross_entropy_loss(three, target)) == pytest.approx(math.log(3))


@pytest.mark.parametrize("weights", [None, (1.0, 10.0, 10.0)])
def test_cross_entropy_matches_torch(weights, rng) -> None:
    logits, target = _logits(rng), _target(rng)
    w = None if weights is None else torch.tensor(weights)
    torch.testing.assert_close(
        cross_entropy_loss(logits, target, weights), F.cross_entropy(logits, target, weight=w)
    )


def test_one_channel_cross_entropy_matches_bce(rng) -> None:
    logits, target = _logits(rng, c=1), _target(rng, k=2)
    expected = F.binary_cross_entropy_with_logits(logits[:, 0], target.float())
    torch.testing.assert_close(cross_entropy_loss(logits, target), expected)
    # Weighted: sum w_t l / sum w_t.
    per_pixel = F.binary_cross_entropy_with_logits(logits[:, 0], target.float(), reduction="none")
    wt = torch.where(target == 1, 10.0, 1.0)
    torch.testing.assert_close(
        cross_entropy_loss(logits, target, (1.0, 10.0)), (wt * per_pixel).sum() / wt.sum()
    )


@pytest.mark.parametrize("c", [3, 1])
@pytest.mark.parametrize("weights", [None, "tampered"])
def test_focal_with_gamma_zero_equals_cross_entropy(c, weights, rng) -> None:
    k = max(c, 2)
    w = None if weights is None else [1.0] + [10.0] * (k - 1)
    logits, target = _logits(rng, c=c), _target(rng, k=k)
    torch.testing.assert_close(
        focal_loss(logits, target, gamma=0.0, class_weights=w),
        cross_entropy_loss(logits, target, w),
    )
    assert focal_loss(logits, target, gamma=2.0, class_weights=w) < cross_entropy_loss(
        logits, target, w
    )


@pytest.mark.parametrize("loss", [dice_loss, generalized_dice_loss])
def test_dice_losses_bounded(loss, rng) -> None:
    target = _target(rng)
    for scale in (0.1, 1.0, 10.0):
        value = float(loss(_logits(rng) * scale, target))
        assert 0.0 <= value <= 1.0
    # Confidently wrong everywhere: close to the upper bound.
    wrong = _perfect_logits((target + 1) % 3, 3)
    assert float(loss(wrong, target)) > 0.95


def test_dice_without_background_ignores_pristine() -> None:
    target = torch.tensor([[[0, 0, 1, 2]]])
    logits = _perfect_logits(target, 3)
    logits[0, :, 0, 0] = torch.tensor([-30.0, 30.0, -30.0])  # a pristine pixel called source
    with_bg = float(dice_loss(logits, target, include_background=True))
    without = float(dice_loss(logits, target, include_background=False))
    assert with_bg > 0 and without > 0
    # Source: I = 1, sum p = 2, sum r = 1 -> (2 + 1) / (3 + 1); target perfect -> 1.
    assert without == pytest.approx(1 - (0.75 + 1.0) / 2, abs=1e-5)


def test_generalized_dice_weights_rare_classes(rng) -> None:
    # A tiny target class missed entirely costs GDL far more than plain dice.
    target = torch.zeros(1, 16, 16, dtype=torch.long)
    target[0, :2, :2] = 2
    logits = _perfect_logits(torch.zeros_like(target), 3)
    assert float(generalized_dice_loss(logits, target)) > 0.9
    assert float(dice_loss(logits, target)) < 0.3


def test_signed_distance_map_hand_values() -> None:
    mask = np.array([[0, 1, 1, 1, 1, 1, 0, 0]], dtype=np.uint8)
    phi = signed_distance_map(mask)
    assert phi.shape == (1, 1, 8) and phi.dtype == np.float32
    np.testing.assert_allclose(phi[0, 0], [1, 0, -1, -2, -1, 0, 1, 2])


def test_signed_distance_map_label_map_and_one_hot(rng) -> None:
    labels = np.zeros((12, 10), dtype=np.uint8)
    labels[2:5, 2:5] = 1
    labels[7:10, 5:9] = 2
    phi = signed_distance_map(labels, num_classes=3)
    assert phi.shape == (3, 12, 10)
    for c in range(3):
        assert (phi[c][labels == c] <= 0).all() and (phi[c][labels != c] > 0).all()
    onehot = (labels[None] == np.arange(3)[:, None, None]).astype(np.uint8)
    np.testing.assert_array_equal(signed_distance_map(onehot), phi)


def test_signed_distance_map_empty_and_full_classes_are_zero() -> None:
    np.testing.assert_array_equal(signed_distance_map(np.zeros((4, 4), int)), 0)
    np.testing.assert_array_equal(signed_distance_map(np.ones((4, 4), int)), 0)


@pytest.mark.parametrize(
    ("mask", "num_classes", "match"),
    [
        (np.full((4, 4), 2), None, r"must be binary \{0, 1\}.*pass num_classes"),
        (np.full((4, 4), 3), 3, r"label values must be in \[0, 2\]"),
        (np.zeros((2, 4, 4)), 2, r"num_classes is only for \(H, W\) label maps"),
        (np.full((2, 4, 4), 2), None, r"one-hot mask must be in \{0, 1\}"),
        (np.zeros((1, 2, 4, 4)), None, r"expects an \(H, W\) or \(C, H, W\) mask"),
    ],
)
def test_signed_distance_map_errors(mask, num_classes, match) -> None:
    with pytest.raises(ValueError, match=match):
        signed_distance_map(mask, num_classes)


@pytest.mark.parametrize("c", [3, 1])
def test_boundary_loss_sign(c) -> None:
    labels = np.zeros((16, 16), dtype=np.int64)
    labels[3:7, 3:7] = 1
    if c == 3:
        labels[9:13, 8:12] = 2
        phi = signed_distance_map(labels, num_classes=3)
    else:
        phi = signed_distance_map(labels)
    target = torch.from_numpy(labels)[None]
    dist = torch.from_numpy(phi)[None]
    k = max(c, 2)
    good = boundary_loss(_perfect_logits(target, c), dist)
    bad = boundary_loss(_perfect_logits((target + 1) % k, c), dist)
    assert float(good) < 0 < float(bad)


def test_detection_bce(rng) -> None:
    logits = torch.tensor([2.0, -1.0, 0.0])
    label = torch.tensor([1, 0, 1])
    expected = (math.log1p(math.exp(-2)) + math.log1p(math.exp(-1)) + math.log(2)) / 3
    assert float(detection_bce_loss(logits, label)) == pytest.approx(expected, rel=1e-5)
    weighted = (2 * math.log1p(math.exp(-2)) + math.log1p(math.exp(-1)) + 2 * math.log(2)) / 3
    assert float(detection_bce_loss(logits, label, pos_weight=2.0)) == pytest.approx(
        weighted, rel=1e-5
    )
    with pytest.raises(ValueError, match=r"must both be \(B,\)"):
        detection_bce_loss(logits, label[:2])
    with pytest.raises(ValueError, match=r"labels must be 0 or 1"):
        detection_bce_loss(logits, torch.tensor([0, 2, 1]))


@pytest.mark.parametrize("c", [3, 1])
def test_gradients_flow(c, rng) -> None:
    k = max(c, 2)
    target = _target(rng, k=k)
    labels = target[0].numpy()
    phi = signed_distance_map(labels, num_classes=k) if c == 3 else signed_distance_map(labels)
    dist = torch.from_numpy(np.stack([phi, phi]))
    calls = [lambda x, fn=fn: fn(x, target) for fn in MASK_LOSSES]
    calls.append(lambda x: boundary_loss(x, dist))
    for call in calls:
        logits = _logits(rng, c=c).requires_grad_()
        call(logits).backward()
        assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    score = torch.zeros(2, requires_grad=True)
    detection_bce_loss(score, torch.tensor([1.0, 0.0])).backward()
    assert score.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("logits", "target", "kwargs", "match"),
    [
        ((2, 3, 4, 4), (2, 1, 4, 4), {}, r"target must be \(B, H, W\).*target\[:, 0\]"),
        ((2, 3, 4, 4), (2, 4, 5), {}, r"resize the mask"),
        ((3, 4, 4), (3, 4, 4), {}, r"mask logits must be \(B, C, H, W\)"),
        ((2, 1, 4, 4), (2, 4, 4), {"value": 2}, r"must be in \[0, 1\].*binarize"),
        ((2, 3, 4, 4), (2, 4, 4), {"float": True}, r"integer class indices.*target.long\(\)"),
        ((2, 3, 4, 4), (2, 4, 4), {"class_weights": (1.0, 2.0)}, r"one weight per class \(3\)"),
        ((2, 3, 4, 4), (2, 4, 4), {"class_weights": (1.0, -2.0, 1.0)}, r"non-negative"),
    ],
)
def test_input_errors(logits, target, kwargs, match) -> None:
    t = torch.full(target, kwargs.pop("value", 0), dtype=torch.long)
    if kwargs.pop("float", False):
        t = t.float()
    with pytest.raises(ValueError, match=match):
        cross_entropy_loss(torch.zeros(logits), t, **kwargs)


def test_option_errors() -> None:
    logits, target = torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)
    with pytest.raises(ValueError, match=r"gamma must be >= 0"):
        focal_loss(logits, target, gamma=-1.0)
    with pytest.raises(ValueError, match=r"smooth must be > 0"):
        dice_loss(logits, target, smooth=0.0)
    with pytest.raises(ValueError, match=r"signed_distance_map\(mask, num_classes=C\)"):
        boundary_loss(logits, torch.zeros(1, 2, 2, 2))
