"""Running a copy-move detector on an image of any size.

Matching runs at a bounded resolution: the image is resized so that its long side is at most
``long_side`` pixels (area interpolation), the model's logits are turned into probabilities,
and the probability maps are upsampled bilinearly to the original size. Memory therefore stays
bounded by the analysed size plus three float32 maps at the original size.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from tamperscope.models.outputs import CopyMoveOutput
from tamperscope.types import Prediction


def analysed_size(height: int, width: int, long_side: int | None) -> tuple[int, int]:
    """(height, width) at which an image is analysed: long side capped at ``long_side`` pixels."""
    if long_side is None or max(height, width) <= long_side:
        return height, width
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def to_tensor(image: np.ndarray, size: tuple[int, int] | None = None) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, h, w) float32 in [0, 1], resized to ``size`` = (h, w)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    if size is not None and size != image.shape[:2]:
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div_(255.0)


def output_probabilities(output: CopyMoveOutput) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits -> probabilities.

    Returns:
        ``(maps, scores)``: maps (B, C, h, w) float32, softmax over 3 classes or sigmoid of a
        1-class head; scores (B,) float32 in [0, 1], sigmoid of the image logit.
    """
    logits = output.mask_logits.float()
    maps = torch.sigmoid(logits) if logits.shape[1] == 1 else torch.softmax(logits, dim=1)
    return maps, torch.sigmoid(output.score_logit.float().reshape(-1))


@torch.inference_mode()
def predict_copy_move(
    model: torch.nn.Module,
    image: np.ndarray,
    *,
    long_side: int | None = 512,
    device: torch.device | str = "cpu",
) -> tuple[Prediction, tuple[int, int]]:
    """Run ``model`` on one image and return probabilities at the image's own size.

    Args:
        model: a copy-move model whose ``forward`` takes (1, 3, h, w) float32 in [0, 1] and
            returns :class:`~tamperscope.models.outputs.CopyMoveOutput`.
        image: (H, W, 3) uint8 RGB.
        long_side: long side (pixels) at which the model runs; ``None`` for the full size.
        device: where the model runs.

    Returns:
        ``(prediction, (h, w))``: the prediction at (H, W), and the analysed size.
    """
    height, width = image.shape[:2]
    size = analysed_size(height, width, long_side)
    x = to_tensor(image, size).to(device)
    maps, scores = output_probabilities(model(x))
    if maps.shape[-2:] != (height, width):
        maps = F.interpolate(maps, size=(height, width), mode="bilinear", align_corners=False)
        if maps.shape[1] == 3:
            maps = maps / maps.sum(dim=1, keepdim=True).clamp_min(1e-8)
    probs = maps[0].clamp_(0.0, 1.0).cpu().numpy().astype(np.float32, copy=False)
    return Prediction(probabilities=probs, score=float(scores[0])), size
