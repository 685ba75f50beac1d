"""Correlation layer with the cyclic spatial restriction of DMAC.

Liu, Zhu, Zhao, Cao, "Adversarial Learning for Constrained Image Splicing Detection and
Localization based on Atrous Convolution", IEEE Transactions on Information Forensics and
Security 14(10), 2019 (DOI 10.1109/TIFS.2019.2902826), Sec. III-B.

For d-channel feature maps f_a, f_b of size h x w the correlation is

    c_ab(i, j, k) = f_a(i, j) . f_b((i + i_t) mod h, (j + j_t) mod w),   k = w * i_t + j_t,

one channel per cyclic translation (i_t, j_t), hw channels in all. Each position of f_a meets
every position of f_b exactly once across the channels, so the layer sees all matches while the
channel index keeps the relative displacement. The hw x hw channels are reduced to T + 2: the
maximum over k, the average over k and the T translation channels whose sums over all
positions are largest (sorted descending).

Computation: one batched matrix product of f_a as (hw, d) by f_b as (d, hw) gives every dot
product; a precomputed index then gathers row p (a position of f_a) into translation order.
Memory is (hw)^2 floats per image and call: a 256 x 256 input gives 32 x 32 maps, hw = 1024,
4 MiB per call in float32.

Deviations from the reference code: channels are L2-normalised before the product (the
reference divides f_a by d), so every correlation is a cosine similarity in [-1, 1]; the
self-correlation Corr(f, f) keeps the zero translation by default, as the reference does
(with L2 normalisation that channel is identically 1), and ``exclude_zero_shift=True``
drops it. Top-T ranking compares channel means rounded to 1e-4 and breaks ties by the lower
translation index: in a self-correlation, translations k and -k have exactly equal sums, and
without a fixed rule float rounding alone would pick one, so that the same image could give
different masks in different batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_RANK_SCALE = 1e4  # channel means are ranked at 1e-4 precision
_INDEX_CACHE: dict[tuple[int, int, str], torch.Tensor] = {}


def translation_indices(
    height: int, width: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """Index of the shifted position for every (position, translation) pair.

    Args:
        height, width: size h, w of the feature maps, in cells.
        device: where the index lives.

    Returns:
        (hw, hw) int64: entry [p, k] with p = w * i + j and k = w * i_t + j_t is the flat index
        w * ((i + i_t) mod h) + ((j + j_t) mod w).

    Raises:
        ValueError: ``height`` or ``width`` < 1.
    """
    if height < 1 or width < 1:
        raise ValueError(f"feature map size must be positive, got {height}x{width}")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    key = (height, width, str(dev))
    cached = _INDEX_CACHE.get(key)
    if cached is not None:
        return cached
    # Built outside inference mode: the cached index is reused by later autograd passes, which
    # refuse tensors created under torch.inference_mode().
    with torch.inference_mode(False):
        i = torch.arange(height).view(height, 1, 1, 1)
        j = torch.arange(width).view(1, width, 1, 1)
        it = torch.arange(height).view(1, 1, height, 1)
        jt = torch.arange(width).view(1, 1, 1, width)
        index = ((i + it) % height) * width + (j + jt) % width  # (h, w, h_t, w_t)
        index = index.reshape(height * width, height * width).to(dev)
    if len(_INDEX_CACHE) > 16:  # a handful of map sizes occur in practice
        _INDEX_CACHE.clear()
    _INDEX_CACHE[key] = index
    return index


def _check_pair(f_a: torch.Tensor, f_b: torch.Tensor) -> None:
    if f_a.ndim != 4 or f_a.shape != f_b.shape:
        raise ValueError(
            "correlation needs two feature maps of the same shape (B, d, h, w), got "
            f"{tuple(f_a.shape)} and {tuple(f_b.shape)}; resize both images to the same size"
        )


def cyclic_correlation(
    f_a: torch.Tensor, f_b: torch.Tensor, *, normalize: bool = True
) -> torch.Tensor:
    """All cyclic-translation correlations of two feature maps (DMAC Eq. 1).

    Args:
        f_a: (B, d, h, w) float feature map of image a.
        f_b: (B, d, h, w) float feature map of image b (same shape).
        normalize: L2-normalise each position's d-vector first (cosine similarity).

    Returns:
        (B, hw, h, w) float: channel k = w * i_t + j_t at (i, j) holds
        f_a(i, j) . f_b((i + i_t) mod h, (j + j_t) mod w); in [-1, 1] when ``normalize``.

    Raises:
        ValueError: the maps are not 4-D or differ in shape.
    """
    _check_pair(f_a, f_b)
    batch, channels, height, width = f_a.shape
    if normalize:
        f_a = F.normalize(f_a, dim=1, eps=1e-6)
        f_b = F.normalize(f_b, dim=1, eps=1e-6)
    n = height * width
    a = f_a.reshape(batch, channels, n).transpose(1, 2)  # (B, hw, d)
    b = f_b.reshape(batch, channels, n)  # (B, d, hw)
    products = torch.bmm(a, b)  # [p_a, p_b] = f_a(p_a) . f_b(p_b)
    index = translation_indices(height, width, products.device)
    shifted = torch.gather(products, 2, index.unsqueeze(0).expand(batch, n, n))  # [p, k]
    return shifted.transpose(1, 2).reshape(batch, n, height, width)


def pool_correlation(
    corr: torch.Tensor, top_t: int = 6, *, exclude_zero_shift: bool = False
) -> torch.Tensor:
    """Reduce translation channels to maximum, average and the top-T channels (DMAC Sec. III-B).

    Args:
        corr: (B, K, h, w) float correlation, one channel per translation (channel 0 the zero
            translation, as :func:`cyclic_correlation` orders them).
        top_t: T, number of translation channels kept: those with the largest sums over all
            positions, in descending order of that sum (paper: 6). Sums are compared as
            means over positions rounded to 1e-4, ties going to the lower translation index.
        exclude_zero_shift: drop channel 0 first (for self-correlation, where it is trivial).

    Returns:
        (B, T + 2, h, w) float: [max over k, mean over k, T selected channels].

    Raises:
        ValueError: fewer than ``top_t`` channels remain, or ``top_t`` < 0.
    """
    if top_t < 0:
        raise ValueError(f"top_t must be >= 0, got {top_t}")
    if exclude_zero_shift:
        corr = corr[:, 1:]
    if corr.shape[1] < max(top_t, 1):
        raise ValueError(
            f"correlation has {corr.shape[1]} translation channels, fewer than top_t={top_t}; "
            "use larger images or a smaller top_t"
        )
    maximum = corr.amax(dim=1, keepdim=True)
    average = corr.mean(dim=1, keepdim=True)
    # Self-correlations tie exactly in exact arithmetic (translations k and -k have equal sums)
    # and float rounding alone would decide their order; ranking rounded means with a stable
    # sort breaks such ties by the lower translation index, whatever the batch or device.
    score = torch.round(corr.detach().mean(dim=(2, 3)) * _RANK_SCALE)  # (B, K)
    top = torch.sort(score, dim=1, descending=True, stable=True).indices[:, :top_t]
    index = top.view(*top.shape, 1, 1).expand(-1, -1, *corr.shape[-2:])
    return torch.cat([maximum, average, torch.gather(corr, 1, index)], dim=1)


class Correlation(nn.Module):
    """DMAC correlation layer: :func:`cyclic_correlation` then :func:`pool_correlation`.

    Liu, Zhu, Zhao, Cao, IEEE TIFS 2019 (DOI 10.1109/TIFS.2019.2902826), Sec. III-B; see the
    module docstring for the deviations from the reference code.

    Args:
        top_t: T, translation channels kept (paper: 6); the output has T + 2 channels.
        normalize: L2-normalise the features before the dot products.

    Raises:
        ValueError: ``top_t`` < 0.
    """

    def __init__(self, top_t: int = 6, normalize: bool = True) -> None:
        super().__init__()
        if top_t < 0:
            raise ValueError(f"top_t must be >= 0, got {top_t}")
        self.top_t = int(top_t)
        self.normalize = bool(normalize)

    @property
    def out_channels(self) -> int:
        """T + 2."""
        return self.top_t + 2

    def forward(
        self, f_a: torch.Tensor, f_b: torch.Tensor, *, exclude_zero_shift: bool = False
    ) -> torch.Tensor:
        """Correlate ``f_a`` against ``f_b``.

        Args:
            f_a, f_b: (B, d, h, w) float feature maps of the same shape.
            exclude_zero_shift: drop the zero translation before the reduction.

        Returns:
            (B, T + 2, h, w) float, aligned with ``f_a``'s positions.

        Raises:
            ValueError: shapes differ, or hw is smaller than T.
        """
        corr = cyclic_correlation(f_a, f_b, normalize=self.normalize)
        return pool_correlation(corr, self.top_t, exclude_zero_shift=exclude_zero_shift)
