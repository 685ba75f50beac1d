"""Dual-order attention of DOA-GAN: affinity matrix, self-suppression, top-k, co-occurrence.

Islam, Long, Basharat, Hoogs, "DOA-GAN: Dual-Order Attentive Generative Adversarial Network
for Image Copy-move Forgery Detection and Localization", CVPR 2020, Sec. 3.1
(DOI 10.1109/CVPR42600.2020.00497).

Notation: a feature map of h x w positions is flattened row-major to N = h * w positions;
position ``i`` sits at row ``i // w`` and column ``i % w``.

Memory: the affinity matrix and everything derived from it are (B, N, N), quadratic in the
number of positions. A 512 x 512 image at stride 8 gives N = 4096, i.e. 16.7 M floats
(64 MiB in float32) per image and per intermediate; doubling the image side multiplies that
by 16. Callers bound the input resolution (resize or tile) before calling these layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def affinity_matrix(features: torch.Tensor) -> torch.Tensor:
    """Cosine affinity between every pair of positions of a feature map.

    Each position's feature vector is L2-normalised over the channel axis (F' = F / ||F||_2,
    per position), then S = F' F'^T.

    Args:
        features: (B, C, h, w) float feature map.

    Returns:
        (B, N, N) float, N = h * w, values in [-1, 1] (in [0, 1] for non-negative features);
        symmetric, 1 on the diagonal for non-zero feature vectors.

    Raises:
        ValueError: ``features`` is not 4-D.
    """
    if features.ndim != 4:
        raise ValueError(
            f"affinity_matrix expects (B, C, h, w) features, got {tuple(features.shape)}"
        )
    b, c = features.shape[:2]
    flat = F.normalize(features.reshape(b, c, -1), p=2, dim=1)  # (B, C, N)
    return torch.bmm(flat.transpose(1, 2), flat)


def gaussian_self_suppression(
    h: int,
    w: int,
    sigma: float = 0.05,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Gaussian self-suppression weights G = 1 - exp(-d^2 / (2 sigma^2)).

    Multiplying the affinity matrix by G removes the trivial matches of each position with
    itself and its immediate neighbours (which are similar in any image), so that only matches
    between distant regions, such as a copy and its source, remain. As in the DOA-GAN
    reference implementation, sigma is relative to the map size and separable per axis:
    ``G[i, j] = 1 - exp(-dr^2 / (2 (sigma h)^2) - dc^2 / (2 (sigma w)^2))`` with ``dr``, ``dc``
    the row and column distances between positions ``i`` and ``j`` in cells; for a square map
    this is the isotropic formula with sigma * h cells.

    Args:
        h: feature-map height in cells (>= 1).
        w: feature-map width in cells (>= 1).
        sigma: Gaussian width as a fraction of the map height / width (> 0).
        device: device of the result.
        dtype: floating dtype of the result.

    Returns:
        (N, N) tensor, N = h * w, values in [0, 1], symmetric, exactly 0 on the diagonal.

    Raises:
        ValueError: non-positive ``h``, ``w`` or ``sigma``.
    """
    if h < 1 or w < 1:
        raise ValueError(f"gaussian_self_suppression needs h, w >= 1, got {h}x{w}")
    if not sigma > 0:
        raise ValueError(f"gaussian_self_suppression needs sigma > 0, got {sigma}")
    rows = torch.arange(h, device=device, dtype=dtype).repeat_interleave(w)
    cols = torch.arange(w, device=device, dtype=dtype).repeat(h)
    dr = rows[:, None] - rows[None, :]
    dc = cols[:, None] - cols[None, :]
    sr, sc = sigma * h, sigma * w
    return 1.0 - torch.exp(-(dr**2) / (2 * sr**2) - dc**2 / (2 * sc**2))


def dual_softmax(affinity: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
    """Matching-probability matrix L = softmax_rows(a S) * softmax_cols(a S).

    As in the DOA-GAN reference implementation the affinity, scaled by the (learnable)
    inverse temperature ``a``, is soft-maxed along each row (over the positions j matched by
    position i, axis -1) and along each column (axis -2), and the two are multiplied
    element-wise; a pair scores high only when each position is the other's best match.

    Args:
        affinity: (B, N, N) float affinity matrix (after self-suppression).
        temperature: inverse temperature ``a`` (scalar tensor or float, reference init 5).

    Returns:
        (B, N, N) float in [0, 1]; symmetric when ``affinity`` is.
    """
    scaled = affinity * temperature
    return F.softmax(scaled, dim=-1) * F.softmax(scaled, dim=-2)


def topk_scores(matching: torch.Tensor, k: int, h: int, w: int) -> torch.Tensor:
    """The k largest matching scores of each position, as a k-channel map.

    Args:
        matching: (B, N, N) float matching matrix L, N = h * w.
        k: number of scores kept per position (1 <= k <= N).
        h: feature-map height in cells.
        w: feature-map width in cells.

    Returns:
        (B, k, h, w) float, channel 0 the best match of each position, sorted descending.

    Raises:
        ValueError: ``matching`` is not (B, h*w, h*w), or ``k`` is outside [1, N].
    """
    n = h * w
    if matching.ndim != 3 or matching.shape[1:] != (n, n):
        raise ValueError(
            f"topk_scores expects a (B, {n}, {n}) matrix for a {h}x{w} map, "
            f"got {tuple(matching.shape)}"
        )
    if not 1 <= k <= n:
        raise ValueError(f"top_k must be in [1, {n}] for a {h}x{w} feature map, got {k}")
    values = torch.topk(matching, k=k, dim=-1).values  # (B, N, k)
    return values.transpose(1, 2).reshape(matching.shape[0], k, h, w)


def co_occurrence_map(matching: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Second-order (co-occurrence) attention map A2: L with each row normalised to sum 1.

    Args:
        matching: (B, N, N) non-negative float matching matrix L.
        eps: added to the row sums to avoid division by zero.

    Returns:
        (B, N, N) float in [0, 1], rows summing to 1 (up to ``eps``).
    """
    return matching / (matching.sum(dim=-1, keepdim=True) + eps)


def co_occurrence_attention(features: torch.Tensor, cooccurrence: torch.Tensor) -> torch.Tensor:
    """Aggregate each position's features from its matches: F_cooc[:, i] = sum_j A2[i, j] F[:, j].

    Args:
        features: (B, C, h, w) float feature map.
        cooccurrence: (B, N, N) float co-occurrence map A2, N = h * w.

    Returns:
        (B, C, h, w) float.

    Raises:
        ValueError: the sizes of the two inputs do not agree.
    """
    b, c, h, w = features.shape
    n = h * w
    if cooccurrence.shape != (b, n, n):
        raise ValueError(
            f"co_occurrence_attention: features {tuple(features.shape)} need a "
            f"({b}, {n}, {n}) co-occurrence map, got {tuple(cooccurrence.shape)}"
        )
    out = torch.bmm(features.reshape(b, c, n), cooccurrence.transpose(1, 2))
    return out.reshape(b, c, h, w)


class FirstOrderAttention(nn.Module):
    """Attention module turning the top-k matching scores into a first-order map A1.

    Two blocks of 3x3 convolution (16 channels), batch norm and ReLU, then a 3x3 convolution
    (16 channels), a 1x1 convolution to one channel and a sigmoid (DOA-GAN, Sec. 3.1).

    Args:
        top_k: channels of the input (the number of matching scores per position).
        channels: width of the hidden convolutions.
    """

    def __init__(self, top_k: int = 20, channels: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(top_k, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.Conv2d(channels, 1, 1),
            nn.Sigmoid(),
        )

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        """Args:
            scores: (B, top_k, h, w) float top-k matching scores.

        Returns:
            (B, 1, h, w) float attention map in (0, 1).
        """
        return self.net(scores)


class DualOrderAttention(nn.Module):
    """First- and second-order attention maps of a feature map (DOA-GAN, Sec. 3.1).

    Steps: per-position L2 normalisation and affinity matrix S; Gaussian self-suppression
    S' = S * G; dual softmax L with a learnable inverse temperature (initialised to
    ``temperature``); top-k scores per row -> :class:`FirstOrderAttention` -> A1; L with
    rows normalised to sum 1 -> A2. Cost is quadratic in h * w (see the module docstring).

    Args:
        top_k: matching scores per position fed to the first-order module (paper: 20).
        sigma: self-suppression width, fraction of the map height / width (reference: 0.05).
        temperature: initial inverse softmax temperature (reference: 5).

    Raises:
        ValueError: ``top_k`` < 1 or ``sigma`` <= 0.
    """

    def __init__(self, top_k: int = 20, sigma: float = 0.05, temperature: float = 5.0) -> None:
        super().__init__()
        if int(top_k) < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        self.top_k = int(top_k)
        self.sigma = float(sigma)
        self.temperature = nn.Parameter(torch.tensor(float(temperature)))
        self.first_order = FirstOrderAttention(self.top_k)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Compute the attention maps.

        Args:
            features: (B, C, h, w) float feature map, h * w >= ``top_k``.

        Returns:
            A1: (B, 1, h, w) float in (0, 1), first-order attention.
            A2: (B, N, N) float in [0, 1], N = h * w, rows summing to 1, co-occurrence map.

        Raises:
            ValueError: fewer than ``top_k`` positions.
        """
        h, w = features.shape[-2:]
        s = affinity_matrix(features)
        g = gaussian_self_suppression(h, w, self.sigma, device=s.device, dtype=s.dtype)
        matching = dual_softmax(s * g, self.temperature)
        a1 = self.first_order(topk_scores(matching, self.top_k, h, w))
        return a1, co_occurrence_map(matching)
