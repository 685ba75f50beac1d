"""Atrous Spatial Pyramid Pooling (ASPP), DeepLabv3 style.

Chen, Papandreou, Schroff, Adam, "Rethinking Atrous Convolution for Semantic Image
Segmentation", arXiv:1706.05587, 2017.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _conv_bn_relu(
    in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1
) -> nn.Sequential:
    padding = dilation * (kernel_size // 2)
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            padding=padding,
            dilation=dilation,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ASPP(nn.Module):
    """DeepLabv3 Atrous Spatial Pyramid Pooling.

    Five parallel branches on the input: a 1x1 convolution, three 3x3 atrous convolutions
    (dilation = each of ``rates``) and image-level pooling (global average, 1x1 convolution,
    broadcast back to the input size); their concatenation is projected by a 1x1 convolution
    with batch norm, ReLU and dropout (Chen et al., arXiv:1706.05587, 2017, Sec. 3.3).

    Deviation from the paper: the image-pooling branch has no batch norm (a 1x1 convolution
    with bias, then ReLU), so the layer can be trained with a batch of one image (batch norm
    over a (1, C, 1, 1) tensor is undefined in training mode).

    Args:
        in_channels: channels of the input feature map.
        out_channels: channels of every branch and of the output.
        rates: three dilation rates of the atrous branches, in feature-map cells.
        dropout: dropout probability after the projection (active in training mode only).

    Raises:
        ValueError: ``rates`` does not hold three positive integers, or ``dropout`` is not in
            [0, 1).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 256,
        rates: Sequence[int] = (12, 24, 36),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        rates = tuple(int(r) for r in rates)
        if len(rates) != 3 or min(rates) < 1:
            raise ValueError(f"ASPP needs three positive atrous rates, got {rates}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"ASPP dropout must be in [0, 1), got {dropout}")
        self.rates = rates
        self.branches = nn.ModuleList(
            [_conv_bn_relu(in_channels, out_channels, 1)]
            + [_conv_bn_relu(in_channels, out_channels, 3, dilation=r) for r in rates]
        )
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1),
            nn.ReLU(inplace=True),
        )
        self.project = nn.Sequential(
            nn.Conv2d(5 * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the pyramid.

        Args:
            x: (B, in_channels, h, w) float feature map.

        Returns:
            (B, out_channels, h, w) float feature map (non-negative: ReLU output).
        """
        outs = [branch(x) for branch in self.branches]
        pooled = self.image_pool(x)
        outs.append(pooled.expand(-1, -1, x.shape[-2], x.shape[-1]))
        return self.project(torch.cat(outs, dim=1))
