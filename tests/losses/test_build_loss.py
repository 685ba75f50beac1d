"""Composition of weighted loss terms with build_loss."""

from __future__ import annotations

import pytest
import torch

from tamperscope.losses import (
    CompositeLoss,
    build_loss,
    cross_entropy_loss,
    dice_loss,
    focal_loss,
    list_losses,
)
from tamperscope.losses.adversarial import gan_generator_loss


def _inputs(rng):
    return {
        "mask_logits": torch.from_numpy(rng.standard_normal((2, 3, 8, 8)).astype("float32")),
        "mask": torch.from_numpy(rng.integers(0, 3, (2, 8, 8))).long(),
        "score_logit": torch.tensor([0.3, -1.2]),
        "label": torch.tensor([1, 0]),
        "disc_fake": torch.from_numpy(rng.standard_normal((2, 1, 2, 2)).astype("float32")),
    }


def test_total_is_weighted_sum_of_parts(rng) -> None:
    loss = build_loss(
        [
            {"name": "weighted_ce", "weight": 1.0},
            {"name": "focal", "weight": 0.5, "gamma": 1.0},
            {"name": "dice", "weight": 2.0},
            {"name": "detection_bce", "weight": 0.1},
            {"name": "gan_generator", "weight": 0.01, "mode": "lsgan"},
        ]
    )
    assert isinstance(loss, CompositeLoss)
    x = _inputs(rng)
    total, parts = loss(**x)
    assert list(parts) == ["weighted_ce", "focal", "dice", "detection_bce", "gan_generator"]
    expected = (
        parts["weighted_ce"]
        + 0.5 * parts["focal"]
        + 2.0 * parts["dice"]
        + 0.1 * parts["detection_bce"]
        + 0.01 * parts["gan_generator"]
    )
    torch.testing.assert_close(total, expected)
    torch.testing.assert_close(
        parts["weighted_ce"], cross_entropy_loss(x["mask_logits"], x["mask"], (1.0, 10.0, 10.0))
    )
    torch.testing.assert_close(parts["focal"], focal_loss(x["mask_logits"], x["mask"], 1.0))
    torch.testing.assert_close(parts["dice"], dice_loss(x["mask_logits"], x["mask"]))
    torch.testing.assert_close(parts["gan_generator"], gan_generator_loss(x["disc_fake"], "lsgan"))
    assert set(loss.inputs) == {"mask_logits", "mask", "score_logit", "label", "disc_fake"}


def test_gradients_flow_through_composite(rng) -> None:
    x = _inputs(rng)
    x["mask_logits"].requires_grad_()
    total, _ = build_loss([{"name": "ce"}, {"name": "generalized_dice"}])(**x)
    total.backward()
    assert torch.isfinite(x["mask_logits"].grad).all()
    assert x["mask_logits"].grad.abs().sum() > 0


def test_repeated_names_get_distinct_keys(rng) -> None:
    loss = build_loss([{"name": "dice"}, {"name": "dice", "include_background": False}])
    _, parts = loss(**_inputs(rng))
    assert list(parts) == ["dice", "dice_2"]
    assert not torch.equal(parts["dice"], parts["dice_2"])


def test_every_listed_loss_builds() -> None:
    for name in list_losses():
        assert isinstance(build_loss([{"name": name}]), CompositeLoss)


@pytest.mark.parametrize(
    ("specs", "error", "match"),
    [
        ([], ValueError, r"non-empty list"),
        ({"name": "ce"}, ValueError, r"non-empty list"),
        ([{"weight": 1.0}], ValueError, r"loss term 0 must be a mapping with a 'name'"),
        ([{"name": "focall"}], KeyError, r"unknown loss 'focall'; did you mean focal"),
        ([{"name": "ce", "weight": -1}], ValueError, r"weight must be a finite number >= 0"),
        ([{"name": "ce", "weight": "1"}], ValueError, r"weight must be a finite number"),
        ([{"name": "focal", "gama": 2}], ValueError, r"unknown option\(s\) gama.*gamma"),
        ([{"name": "gan_generator", "mode": "wgan"}], ValueError, r"mode must be one of"),
        ([{"name": "focal", "gamma": -1}], ValueError, r"gamma must be >= 0"),
    ],
)
def test_build_errors(specs, error, match) -> None:
    with pytest.raises(error, match=match):
        build_loss(specs)


def test_missing_input_names_the_term(rng) -> None:
    loss = build_loss([{"name": "ce"}, {"name": "boundary"}])
    x = _inputs(rng)
    with pytest.raises(ValueError, match=r"loss term 'boundary' needs input\(s\) dist_maps"):
        loss(mask_logits=x["mask_logits"], mask=x["mask"])
