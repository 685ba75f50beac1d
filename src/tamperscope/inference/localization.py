"""Running a binary localization model (task ``localization``) on an image of any size.

Two ways to bound the work on a large image:

* resizing (default): the image is resized so that its long side is at most ``long_side``
  pixels (area interpolation), the model runs once, and its probability map is upsampled
  bilinearly to the original size;
* tiling (``tile``): the image is analysed at its native resolution in overlapping
  ``tile`` x ``tile`` windows; the tiles' probability maps are averaged where they overlap
  and the image score is the maximum of the tiles' scores. Memory is bounded by one tile plus
  two float32 maps at the original size. Detectors that compare parts of an image with each
  other (``noise-residual``) see one tile at a time, so a tile must be large enough to hold
  host and manipulated content.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tamperscope.inference.copy_move import analysed_size, to_tensor
from tamperscope.models.outputs import LocalizationOutput
from tamperscope.types import Prediction

__all__ = ["predict_localization", "tile_origins"]


def tile_origins(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets (pixels) of tiles of ``tile`` pixels covering ``length`` pixels.

    Consecutive tiles overlap by at least ``overlap`` pixels; the last tile ends at
    ``length``. A side no longer than ``tile`` gets one tile at 0.

    Raises:
        ValueError: ``tile`` < 1 or ``overlap`` not in [0, tile).
    """
    if tile < 1 or not 0 <= overlap < tile:
        raise ValueError(f"need tile >= 1 and 0 <= overlap < tile, got tile={tile}, {overlap=}")
    if length <= tile:
        return [0]
    step = tile - overlap
    n = -(-(length - tile) // step) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def _run(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, float]:
    """(1, 1, h, w) probabilities and the image score of one (1, 3, h, w) input."""
    out = model(x)
    if not isinstance(out, LocalizationOutput):
        raise TypeError(
            f"a localization model must return LocalizationOutput, got {type(out).__name__}"
        )
    logits = out.mask_logits.float()
    if logits.ndim != 4 or logits.shape[:2] != (1, 1):
        raise ValueError(f"mask_logits must be (1, 1, h, w), got {tuple(logits.shape)}")
    return torch.sigmoid(logits), float(torch.sigmoid(out.score_logit.float().reshape(-1)[0]))


def _resize_to(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if maps.shape[-2:] == size:
        return maps
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


@torch.inference_mode()
def predict_localization(
    model: torch.nn.Module,
    image: np.ndarray,
    *,
    long_side: int | None = None,
    device: torch.device | str = "cpu",
    tile: int | None = None,
    overlap: int | None = None,
) -> tuple[Prediction, tuple[int, int]]:
    """Run a localization ``model`` on one image; probabilities at the image's own size.

    Args:
        model: a localization model whose ``forward`` takes (1, 3, h, w) float32 in [0, 1]
            and returns :class:`~tamperscope.models.outputs.LocalizationOutput`.
        image: (H, W, 3) uint8 RGB.
        long_side: long side (pixels) at which the model runs without tiling; ``None`` for
            the full size. Ignored with ``tile``.
        device: where the model runs.
        tile: side (pixels) of native-resolution tiles, >= 32; ``None`` to resize instead.
        overlap: overlap (pixels) of neighbouring tiles, in [0, tile); default ``tile // 4``.

    Returns:
        ``(prediction, (h, w))``: a :class:`~tamperscope.types.Prediction` whose
        ``probabilities`` are (1, H, W) float32 in [0, 1], the probability that a pixel is
        manipulated (``prediction.forgery_map`` is the (H, W) map), and ``score`` the image
        score in [0, 1]; and the analysed size (the image size when tiled).

    Raises:
        ValueError: ``image`` is not (H, W, 3) uint8, a bad ``tile`` or ``overlap``, or the
            model's mask is not one channel.
        TypeError: the model does not return ``LocalizationOutput``.
    """
    height, width = image.shape[:2]
    if tile is None:
        size = analysed_size(height, width, long_side)
        maps, score = _run(model, to_tensor(image, size).to(device))
        resized = _resize_to(maps, (height, width))[0]
        return Prediction(probabilities=_to_numpy(resized), score=score), size
    if tile < 32:
        raise ValueError(f"tile must be >= 32 pixels, got {tile}")
    overlap = tile // 4 if overlap is None else overlap
    ys, xs = tile_origins(height, tile, overlap), tile_origins(width, tile, overlap)
    total = np.zeros((height, width), np.float32)
    count = np.zeros((height, width), np.float32)
    score = 0.0
    for y in ys:
        for x in xs:
            crop = np.ascontiguousarray(image[y : y + tile, x : x + tile])
            maps, s = _run(model, to_tensor(crop).to(device))
            h, w = crop.shape[:2]
            total[y : y + h, x : x + w] += _to_numpy(_resize_to(maps, (h, w))[0, 0])
            count[y : y + h, x : x + w] += 1.0
            score = max(score, s)
    return Prediction(probabilities=(total / count)[None], score=score), (height, width)


def _to_numpy(probs: torch.Tensor) -> np.ndarray:
    return probs.clamp(0.0, 1.0).cpu().numpy().astype(np.float32, copy=False)
