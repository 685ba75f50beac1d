"""Constrained ("Bayar") convolution: a learnt bank of prediction-error filters.

Bayar and Stamm, "Constrained Convolutional Neural Networks: A New Approach Towards General
Purpose Image Manipulation Detection", IEEE Transactions on Information Forensics and
Security 13(11), 2018 (DOI 10.1109/TIFS.2018.2825953).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BayarConv2d"]


class BayarConv2d(nn.Module):
    """A convolution whose every (output, input) kernel predicts its centre from the rest.

    Each k x k kernel w has w[centre] = -1 and its other k^2 - 1 weights sum to 1, so that
    the output is the error of a learnt linear prediction of the centre pixel from its
    neighbours: image content is suppressed and local manipulation traces (resampling,
    blending, noise inconsistencies) are kept (Bayar and Stamm, IEEE TIFS 2018, Sec. III-A).

    The constraint is imposed by :meth:`constrain` (at construction, and by the training
    recipe after every optimizer step, as in the paper's Algorithm 1); between two calls the
    weights are whatever the optimizer made of them. No bias.

    Args:
        in_channels: input channels.
        out_channels: output channels (filters); the paper uses 3.
        kernel_size: odd side of the kernels, in pixels (paper: 5).

    Attributes:
        weight: (out_channels, in_channels, k, k) float32 parameter.

    Raises:
        ValueError: ``kernel_size`` is even or smaller than 3, or a channel count is < 1.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, kernel_size: int = 5) -> None:
        super().__init__()
        if kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"BayarConv2d kernel_size must be odd and >= 3, got {kernel_size}")
        if in_channels < 1 or out_channels < 1:
            raise ValueError(
                f"BayarConv2d needs at least one input and one output channel, got "
                f"{in_channels} and {out_channels}"
            )
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = int(kernel_size)
        # Positive initial weights keep the off-centre sums away from 0 before normalising.
        self.weight = nn.Parameter(torch.rand(out_channels, in_channels, kernel_size, kernel_size))
        self.constrain()

    @property
    def centre(self) -> int:
        """Index of the kernel centre along each spatial axis."""
        return self.kernel_size // 2

    @torch.no_grad()
    def constrain(self) -> None:
        """Re-impose the constraint in place: centre weights -1, the others scaled to sum 1.

        A kernel whose off-centre weights sum to (nearly) zero is scaled by a divisor of
        magnitude 1e-6 with the sum's sign, so that no division by zero occurs.
        """
        c = self.centre
        w = self.weight.data
        w[:, :, c, c] = 0.0
        total = w.sum(dim=(2, 3), keepdim=True)
        eps = 1e-6
        sign = torch.where(total < 0, -torch.ones_like(total), torch.ones_like(total))
        total = torch.where(total.abs() < eps, sign * eps, total)
        w.div_(total)
        w[:, :, c, c] = -1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Prediction-error maps.

        Args:
            x: (B, in_channels, H, W) float.

        Returns:
            (B, out_channels, H, W) float (zero padding of k // 2 pixels keeps the size).
        """
        return F.conv2d(x, self.weight, padding=self.centre)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
