"""PatchGAN discriminator on an image and a mask, as used by DOA-GAN's adversarial training.

Isola, Zhu, Zhou, Efros, "Image-to-Image Translation with Conditional Adversarial Networks"
(pix2pix), CVPR 2017, arXiv:1611.07004; spectral normalisation: Miyato, Kataoka, Koyama,
Yoshida, "Spectral Normalization for Generative Adversarial Networks", ICLR 2018,
arXiv:1802.05957.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn
from torch.nn.utils import spectral_norm as _spectral_norm

Norm = Literal["batch", "instance", "none"]


class PatchDiscriminator(nn.Module):
    """Conditional PatchGAN: real/fake logits for overlapping patches of (image, mask).

    Layers: 4x4 convolutions with ``channels`` = (32, 64, 128, 256, 512, 1) output channels
    (DOA-GAN, Sec. 3.3), stride 2 for all but the last (stride 1), padding 1, LeakyReLU(0.2)
    after every layer but the last; normalisation (``norm``) on the hidden layers after the
    first. Spectral normalisation of every convolution is optional.

    With the default six layers the output size is (floor(H / 32) - 1, floor(W / 32) - 1), so
    H and W must be at least 64 pixels.

    Args:
        image_channels: channels of the image (3 for RGB).
        mask_channels: channels of the mask (3 for pristine/source/target probabilities or
            one-hot, 1 for a forged-probability map).
        channels: output channels of each layer; the last must be 1.
        norm: ``"batch"``, ``"instance"`` or ``"none"`` on hidden layers 2 to n-1.
        spectral_norm: wrap every convolution in spectral normalisation.

    Raises:
        ValueError: fewer than two layers, a last layer with more than one channel, or an
            unknown ``norm``.
    """

    def __init__(
        self,
        image_channels: int = 3,
        mask_channels: int = 3,
        channels: Sequence[int] = (32, 64, 128, 256, 512, 1),
        norm: Norm = "batch",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) < 2 or channels[-1] != 1:
            raise ValueError(
                f"PatchDiscriminator needs at least two layers ending in 1 channel, got {channels}"
            )
        if norm not in ("batch", "instance", "none"):
            raise ValueError(f"norm must be 'batch', 'instance' or 'none', got {norm!r}")
        self.image_channels = image_channels
        self.mask_channels = mask_channels
        self.num_strided = len(channels) - 1
        layers: list[nn.Module] = []
        in_ch = image_channels + mask_channels
        for i, out_ch in enumerate(channels):
            last = i == len(channels) - 1
            conv = nn.Conv2d(in_ch, out_ch, 4, stride=1 if last else 2, padding=1)
            layers.append(_spectral_norm(conv) if spectral_norm else conv)
            if not last:
                if i > 0 and norm == "batch":
                    layers.append(nn.BatchNorm2d(out_ch))
                elif i > 0 and norm == "instance":
                    layers.append(nn.InstanceNorm2d(out_ch, affine=True))
                layers.append(nn.LeakyReLU(0.2, inplace=True))
            in_ch = out_ch
        self.net = nn.Sequential(*layers)

    @property
    def min_size(self) -> int:
        """Smallest input side in pixels giving at least a 1 x 1 output."""
        return 2 ** (self.num_strided + 1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Score (image, mask) patches.

        Args:
            image: (B, image_channels, H, W) float image (as fed to the generator).
            mask: (B, mask_channels, H, W) float mask, predicted probabilities (fake) or the
                one-hot ground truth (real), in [0, 1].

        Returns:
            (B, 1, H', W') float logits (not probabilities), one per patch; H' =
            floor(H / 2^(n-1)) - 1 for n layers.

        Raises:
            ValueError: the shapes do not match each other or the channel counts, or the
                input is smaller than :attr:`min_size`.
        """
        if image.ndim != 4 or image.shape[1] != self.image_channels:
            raise ValueError(
                f"PatchDiscriminator expects image of shape (B, {self.image_channels}, H, W), "
                f"got {tuple(image.shape)}"
            )
        if mask.ndim != 4 or mask.shape[1] != self.mask_channels:
            raise ValueError(
                f"PatchDiscriminator expects mask of shape (B, {self.mask_channels}, H, W), "
                f"got {tuple(mask.shape)}; one-hot encode label maps "
                "(torch.nn.functional.one_hot(mask, C).permute(0, 3, 1, 2).float())"
            )
        if image.shape[0] != mask.shape[0] or image.shape[-2:] != mask.shape[-2:]:
            raise ValueError(
                f"PatchDiscriminator: image {tuple(image.shape)} and mask {tuple(mask.shape)} "
                "differ in batch size or spatial size"
            )
        if min(image.shape[-2:]) < self.min_size:
            raise ValueError(
                f"PatchDiscriminator needs H, W >= {self.min_size} pixels, got "
                f"{image.shape[-2]}x{image.shape[-1]}; resize or crop larger patches"
            )
        return self.net(torch.cat([image, mask.to(image.dtype)], dim=1))
