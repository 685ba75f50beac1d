"""Adversarial losses for training a mask generator against a discriminator.

* ``"vanilla"``: Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014,
  arXiv:1406.2661; binary cross entropy on the discriminator logits, with the non-saturating
  generator loss -log D(G(z)) of Sec. 3.
* ``"lsgan"``: Mao, Li, Xie, Lau, Wang, Smolley, "Least Squares Generative Adversarial
  Networks", ICCV 2017, arXiv:1611.04076, Eq. 2 with a = 0, b = c = 1: mean squared error of
  the raw discriminator outputs, halved.

DOA-GAN (Islam et al., CVPR 2020) trains its generator with an adversarial term from a
PatchGAN discriminator (:class:`tamperscope.models.layers.discriminators.PatchDiscriminator`)
on (image, mask); the logits here are that discriminator's (B, 1, H', W') patch outputs, any
shape being accepted and averaged.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

GanMode = Literal["vanilla", "lsgan"]
GAN_MODES = ("vanilla", "lsgan")


def check_gan_mode(mode: str) -> None:
    """Raise ValueError unless ``mode`` is ``"vanilla"`` or ``"lsgan"``."""
    if mode not in GAN_MODES:
        raise ValueError(f"GAN loss mode must be one of {', '.join(GAN_MODES)}, got {mode!r}")


def _against(logits: torch.Tensor, value: float, mode: str) -> torch.Tensor:
    target = torch.full_like(logits, value)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    return 0.5 * F.mse_loss(logits, target)


def gan_generator_loss(fake_logits: torch.Tensor, mode: GanMode = "vanilla") -> torch.Tensor:
    """Generator loss: push the discriminator's outputs on generated masks towards "real".

    Args:
        fake_logits: discriminator outputs on (image, predicted mask), any shape, e.g.
            (B, 1, H', W'); logits for ``"vanilla"``, raw scores for ``"lsgan"``.
        mode: ``"vanilla"`` (mean of -log sigmoid(x)) or ``"lsgan"`` (mean of (x - 1)^2 / 2).

    Returns:
        scalar float tensor >= 0.

    Raises:
        ValueError: unknown ``mode``.
    """
    check_gan_mode(mode)
    return _against(fake_logits, 1.0, mode)


def gan_discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    mode: GanMode = "vanilla",
    real_label: float = 1.0,
) -> torch.Tensor:
    """Discriminator loss: real (image, ground-truth mask) towards 1, fake towards 0.

    ``"vanilla"``: BCE(real, real_label) + BCE(fake, 0) (the sum, Goodfellow et al. Eq. 1);
    ``"lsgan"``: (real - real_label)^2 / 2 + fake^2 / 2, each averaged (Mao et al. Eq. 2).
    Detach the generator's output before computing ``fake_logits`` for this loss.

    Args:
        real_logits: discriminator outputs on real pairs, any shape.
        fake_logits: discriminator outputs on generated pairs, any shape.
        mode: ``"vanilla"`` or ``"lsgan"``.
        real_label: target for real pairs (1, or e.g. 0.9 for one-sided label smoothing).

    Returns:
        scalar float tensor >= 0.

    Raises:
        ValueError: unknown ``mode``.
    """
    check_gan_mode(mode)
    return _against(real_logits, real_label, mode) + _against(fake_logits, 0.0, mode)
