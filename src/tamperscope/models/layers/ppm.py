"""Pyramid Pooling Module (PPM) of PSPNet.

Zhao, Shi, Qi, Wang, Jia, "Pyramid Scene Parsing Network", CVPR 2017 (arXiv:1612.01105).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PyramidPooling"]


class PyramidPooling(nn.Module):
    """Context at several scales: the feature map average-pooled to b x b grids.

    For each bin size b in ``bins``: adaptive average pooling to b x b, a 1x1 convolution to
    ``branch_channels``, ReLU, bilinear upsampling back to the input grid. The input and the
    pooled branches are concatenated and fused by a 3x3 convolution with batch norm and ReLU
    (Zhao et al., CVPR 2017, Sec. 3.2; UPerNet's PPM head, Xiao et al., ECCV 2018).

    Deviation from the paper: the pooled branches have no batch norm (a 1x1 convolution with
    bias, then ReLU), so the module trains with a batch of one image (batch norm over a
    (1, C, 1, 1) tensor is undefined in training mode).

    Args:
        in_channels: channels of the input map.
        out_channels: channels of the output.
        bins: grid sizes of the pooled branches (paper: 1, 2, 3, 6).
        branch_channels: channels of each pooled branch; default ``in_channels // len(bins)``
            (at least 1), as in the paper.

    Raises:
        ValueError: ``bins`` empty or not positive.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bins: Sequence[int] = (1, 2, 3, 6),
        branch_channels: int | None = None,
    ) -> None:
        super().__init__()
        bins = tuple(int(b) for b in bins)
        if not bins or min(bins) < 1:
            raise ValueError(f"PyramidPooling needs positive bin sizes, got {bins}")
        self.bins = bins
        branch = branch_channels or max(1, in_channels // len(bins))
        self.branches = nn.ModuleList(
            [
                nn.Sequential(
                    nn.AdaptiveAvgPool2d(b), nn.Conv2d(in_channels, branch, 1), nn.ReLU(True)
                )
                for b in bins
            ]
        )
        self.fuse = nn.Sequential(
            nn.Conv2d(in_channels + len(bins) * branch, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, h, w) float feature map.

        Returns:
            (B, out_channels, h, w) float, non-negative (ReLU output).
        """
        size = x.shape[-2:]
        pooled = [
            F.interpolate(branch(x), size=size, mode="bilinear", align_corners=False)
            for branch in self.branches
        ]
        return self.fuse(torch.cat([x, *pooled], dim=1))
