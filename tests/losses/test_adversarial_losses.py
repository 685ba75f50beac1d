"""Adversarial losses: hand values, optimum, gradients, errors."""

from __future__ import annotations

import math

import pytest
import torch

from tamperscope.losses.adversarial import gan_discriminator_loss, gan_generator_loss


def test_vanilla_hand_values() -> None:
    zeros = torch.zeros(2, 1, 3, 3)
    assert float(gan_generator_loss(zeros)) == pytest.approx(math.log(2))
    assert float(gan_discriminator_loss(zeros, zeros)) == pytest.approx(2 * math.log(2))
    # A confident, correct discriminator has a near-zero loss; the generator then suffers.
    real, fake = torch.full((2, 1, 2, 2), 20.0), torch.full((2, 1, 2, 2), -20.0)
    assert float(gan_discriminator_loss(real, fake)) < 1e-6
    assert float(gan_generator_loss(fake)) == pytest.approx(20.0, rel=1e-4)


def test_lsgan_hand_values() -> None:
    zeros = torch.zeros(4)
    assert float(gan_generator_loss(zeros, mode="lsgan")) == pytest.approx(0.5)
    assert float(gan_discriminator_loss(zeros, zeros, mode="lsgan")) == pytest.approx(0.5)
    ones = torch.ones(4)
    assert float(gan_discriminator_loss(ones, zeros, mode="lsgan")) == 0.0
    assert float(gan_generator_loss(ones, mode="lsgan")) == 0.0
    smoothed = gan_discriminator_loss(ones, zeros, mode="lsgan", real_label=0.9)
    assert float(smoothed) == pytest.approx(0.5 * 0.01)


@pytest.mark.parametrize("mode", ["vanilla", "lsgan"])
def test_gradients_push_the_right_way(mode, rng) -> None:
    # Below the "real" target 1, where both losses decrease as D(fake) rises.
    fake = torch.from_numpy(rng.uniform(-2.0, 0.9, (2, 1, 3, 3)).astype("float32"))
    fake.requires_grad_()
    gan_generator_loss(fake, mode).backward()
    assert (fake.grad < 0).all()  # generator raises D's output on fakes
    real = torch.full((2, 1, 3, 3), 0.5, requires_grad=True)
    fake_d = torch.full((2, 1, 3, 3), 0.5, requires_grad=True)
    gan_discriminator_loss(real, fake_d, mode).backward()
    assert (real.grad < 0).all() and (fake_d.grad > 0).all()


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match=r"mode must be one of vanilla, lsgan, got 'wgan'"):
        gan_generator_loss(torch.zeros(1), "wgan")
    with pytest.raises(ValueError, match=r"got 'hinge'"):
        gan_discriminator_loss(torch.zeros(1), torch.zeros(1), "hinge")
