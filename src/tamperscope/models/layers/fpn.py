"""Feature Pyramid Network decoder.

Lin, Dollar, Girshick, He, Hariharan, Belongie, "Feature Pyramid Networks for Object
Detection", CVPR 2017 (arXiv:1612.03144); the merge of the levels for segmentation follows
Kirillov, Girshick, He, Dollar, "Panoptic Feature Pyramid Networks", CVPR 2019
(arXiv:1901.02446).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FPNDecoder"]


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class FPNDecoder(nn.Module):
    """Top-down pathway with lateral connections, levels merged on the finest grid.

    Lateral 1x1 convolutions bring every input level to ``channels``; from the coarsest
    level down, each level adds the bilinearly upsampled level above it, then a 3x3
    convolution (batch norm, ReLU) smooths it (Lin et al., CVPR 2017, Sec. 3). The smoothed
    levels are upsampled to the finest level's grid and summed, then a 3x3 convolution block
    gives the output (Panoptic FPN's semantic branch, simplified: one upsampling step per
    level instead of a 3x3 convolution after each 2x step).

    Deviation from the paper: batch norm and ReLU after the smoothing convolutions (the
    detection FPN has neither).

    Args:
        in_channels: channels of the input levels, finest first.
        channels: channels of every pyramid level and of the output.

    Raises:
        ValueError: no input level.
    """

    def __init__(self, in_channels: Sequence[int], channels: int = 128) -> None:
        super().__init__()
        if not in_channels:
            raise ValueError("FPNDecoder needs at least one input level")
        self.in_channels = tuple(int(c) for c in in_channels)
        self.channels = int(channels)
        self.lateral = nn.ModuleList([nn.Conv2d(c, channels, 1) for c in self.in_channels])
        self.smooth = nn.ModuleList([_conv_bn_relu(channels, channels, 3) for _ in in_channels])
        self.merge = _conv_bn_relu(channels, channels, 3)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Args:
            features: the levels, finest first, each (B, in_channels[i], h_i, w_i) float,
                each grid at most as large as the one before.

        Returns:
            (B, channels, h_0, w_0) float, on the finest level's grid.

        Raises:
            ValueError: a number of levels other than ``len(in_channels)``.
        """
        if len(features) != len(self.lateral):
            raise ValueError(
                f"FPNDecoder was built for {len(self.lateral)} levels, got {len(features)}"
            )
        size = features[0].shape[-2:]
        top: torch.Tensor | None = None
        merged: torch.Tensor | None = None
        for i in reversed(range(len(features))):
            level = self.lateral[i](features[i])
            if top is not None:
                level = level + F.interpolate(
                    top, size=level.shape[-2:], mode="bilinear", align_corners=False
                )
            top = level
            smoothed = self.smooth[i](level)
            if smoothed.shape[-2:] != size:
                smoothed = F.interpolate(smoothed, size=size, mode="bilinear", align_corners=False)
            merged = smoothed if merged is None else merged + smoothed
        assert merged is not None
        return self.merge(merged)
