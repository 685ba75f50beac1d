"""Running a probe/donor model (DMAC) on a pair of images of any sizes.

Both images are resized to ``size`` x ``size`` (area interpolation; DMAC's paper works at
256 x 256), the model's 2-class logits become the probability of the shared region (softmax,
channel 1), and each map is upsampled bilinearly to its image's own size.

Large probes: a region spliced into a large photo shrinks to a few cells at 256 x 256. When
the probe's long side exceeds ``sliding_threshold`` (or ``sliding=True``), the probe is also
analysed in windows, as the DMAC reference code does: the probe is resized so that its short
side is between ``size`` and ``2 * size`` (its own short side when that is already in range),
cut into ``size`` x ``size`` windows at stride ``size / 2`` (the last window of a row or
column flush with the border), and every window is run against the whole donor. The probe map
is the pixel-wise maximum over the windows (each at its place) and the whole-image pass; the
donor map is the maximum of the donor maps of all windows and of the whole-image pass. Models
with ``encode``/``decode`` methods (:class:`~tamperscope.models.dmac.DMAC`) have the donor's
features computed once for all windows.

The pair score is DMAC's rule (:func:`tamperscope.inference.pairs.pair_score`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tamperscope.inference.copy_move import to_tensor
from tamperscope.models.base import PairModel
from tamperscope.models.outputs import PairOutput

__all__ = ["PAIR_SIZE", "predict_pair", "probe_windows", "uses_sliding"]

#: Side (pixels) both images of a pair are analysed at by default (DMAC's input, 256 x 256).
PAIR_SIZE = 256


def mask_score(prob: np.ndarray, threshold: float = 0.5) -> float:
    """Average probability of the pixels strictly above ``threshold``; 0 when there is none.

    Args:
        prob: (H, W) float in [0, 1].
        threshold: pixel threshold (DMAC: 0.5).

    Returns:
        Score in [0, 1].
    """
    p = np.asarray(prob, dtype=np.float64)
    above = p[p > threshold]
    return float(above.mean()) if above.size else 0.0


def pair_score(prob_a: np.ndarray, prob_b: np.ndarray, threshold: float = 0.5) -> float:
    """Tampered probability of a probe/donor pair, DMAC's rule.

    The mean over both masks of :func:`mask_score` (the average score of the pixels above
    0.5, 0 when no pixel is above 0.5).

    Args:
        prob_a: (H1, W1) float in [0, 1], probe map.
        prob_b: (H2, W2) float in [0, 1], donor map (sizes may differ).
        threshold: pixel threshold.

    Returns:
        Score in [0, 1].
    """
    return 0.5 * (mask_score(prob_a, threshold) + mask_score(prob_b, threshold))


def _check_size(size: int) -> None:
    if int(size) != size or size < 16 or size % 8:
        raise ValueError(
            f"pair analysis size must be a multiple of 8 pixels, at least 16, got {size} "
            "(DMAC's paper uses 256)"
        )


def uses_sliding(
    probe_shape: tuple[int, ...], size: int, sliding: bool | None, sliding_threshold: int
) -> bool:
    """Whether the probe is analysed in windows.

    Args:
        probe_shape: (H, W, ...) of the probe, pixels.
        size: analysis size (pixels).
        sliding: ``True``/``False`` to force; ``None`` for automatic.
        sliding_threshold: in automatic mode, windows are used when the probe's long side
            exceeds this many pixels.
    """
    if sliding is not None:
        return bool(sliding)
    return max(probe_shape[:2]) > sliding_threshold


def _starts(length: int, size: int, stride: int) -> list[int]:
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


def probe_windows(height: int, width: int, size: int) -> tuple[tuple[int, int], list[tuple]]:
    """Layout of the sliding windows over a probe.

    Args:
        height, width: probe size, pixels.
        size: window side, pixels; windows move by ``size // 2``.

    Returns:
        ``((rh, rw), [(y, x), ...])``: the size the probe is resized to (short side between
        ``size`` and ``2 * size``, aspect ratio kept) and the top-left corner of each window
        in that resized probe, row by row.
    """
    short = min(height, width)
    target = min(max(short, size), 2 * size)
    scale = target / short
    rh, rw = max(size, round(height * scale)), max(size, round(width * scale))
    stride = size // 2
    return (rh, rw), [(y, x) for y in _starts(rh, size, stride) for x in _starts(rw, size, stride)]


def _shared_probability(logits: torch.Tensor, size: int) -> torch.Tensor:
    if logits.ndim != 4 or logits.shape[1] != 2:
        raise ValueError(f"a pair model must return (B, 2, h, w) logits, got {tuple(logits.shape)}")
    prob = torch.softmax(logits.float(), dim=1)[:, 1:2]
    if prob.shape[-2:] != (size, size):
        prob = F.interpolate(prob, size=(size, size), mode="bilinear", align_corners=False)
    return prob[:, 0].clamp_(0.0, 1.0)


class _PairRunner:
    """Runs probes against one donor, reusing the donor's features when the model allows."""

    def __init__(self, model: torch.nn.Module, donor: torch.Tensor) -> None:
        self.model = model
        self.donor = donor
        self.pair_model = model if isinstance(model, PairModel) else None
        self.donor_features = None if self.pair_model is None else self.pair_model.encode(donor)

    def __call__(self, probes: torch.Tensor) -> PairOutput:
        if self.pair_model is not None and self.donor_features is not None:
            return self.pair_model.decode(self.pair_model.encode(probes), self.donor_features)
        return self.model(probes, self.donor.expand(probes.shape[0], -1, -1, -1))


def _resize_map(prob: torch.Tensor, height: int, width: int) -> np.ndarray:
    if tuple(prob.shape[-2:]) != (height, width):
        prob = F.interpolate(
            prob[None, None], size=(height, width), mode="bilinear", align_corners=False
        )[0, 0]
    return prob.clamp_(0.0, 1.0).cpu().numpy().astype(np.float32, copy=False)


@torch.inference_mode()
def predict_pair(
    model: torch.nn.Module,
    probe: np.ndarray,
    donor: np.ndarray,
    *,
    size: int = PAIR_SIZE,
    sliding: bool | None = None,
    sliding_threshold: int = 512,
    batch_size: int = 4,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray, float]:
    """Probability of the shared (spliced) region in a probe and its donor.

    Args:
        model: a pair model whose ``forward(probe, donor)`` takes two (B, 3, size, size)
            float32 tensors in [0, 1] and returns :class:`~tamperscope.models.outputs.
            PairOutput` (2-class logits, channel 1 = shared region).
        probe: (H1, W1, 3) uint8 RGB.
        donor: (H2, W2, 3) uint8 RGB.
        size: side (pixels) both images are resized to; a multiple of 8 (paper: 256).
        sliding: analyse the probe in windows too: ``None`` automatic (long side above
            ``sliding_threshold``), ``True`` always, ``False`` never.
        sliding_threshold: probe long side (pixels) above which windows are used when
            ``sliding`` is ``None``.
        batch_size: windows per forward pass.
        device: where the model runs.

    Returns:
        ``(prob_probe, prob_donor, pair_score)``: (H1, W1) and (H2, W2) float32 in [0, 1],
        and the pair score in [0, 1] (:func:`tamperscope.inference.pairs.pair_score`).

    Raises:
        ValueError: an image that is not (H, W, 3) uint8, a bad ``size``, or a model output
            that is not (B, 2, h, w).
    """
    _check_size(size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    (h1, w1), (h2, w2) = probe.shape[:2], donor.shape[:2]
    probe_t = to_tensor(probe, (size, size)).to(device)
    donor_t = to_tensor(donor, (size, size)).to(device)
    run = _PairRunner(model, donor_t)

    whole = run(probe_t)
    probe_map = _shared_probability(whole.probe_logits, size)[0]
    donor_map = _shared_probability(whole.donor_logits, size)[0]
    probe_full = torch.from_numpy(_resize_map(probe_map, h1, w1))

    if uses_sliding(probe.shape, size, sliding, sliding_threshold):
        (rh, rw), corners = probe_windows(h1, w1, size)
        resized = to_tensor(probe, (rh, rw)).to(device)
        canvas = torch.zeros((rh, rw), device=device)
        for start in range(0, len(corners), batch_size):
            chunk = corners[start : start + batch_size]
            windows = torch.cat([resized[..., y : y + size, x : x + size] for y, x in chunk])
            out = run(windows)
            probe_maps = _shared_probability(out.probe_logits, size)
            donor_map = torch.maximum(
                donor_map, _shared_probability(out.donor_logits, size).amax(0)
            )
            for (y, x), window_map in zip(chunk, probe_maps, strict=True):
                region = canvas[y : y + size, x : x + size]
                canvas[y : y + size, x : x + size] = torch.maximum(region, window_map)
        probe_full = torch.maximum(probe_full, torch.from_numpy(_resize_map(canvas, h1, w1)))

    prob_probe = probe_full.numpy().astype(np.float32, copy=False)
    prob_donor = _resize_map(donor_map, h2, w2)
    return prob_probe, prob_donor, pair_score(prob_probe, prob_donor)
