"""Helpers of the evaluation tests: single-image samples built in memory."""

from __future__ import annotations

from typing import Any

import numpy as np


def image_sample(
    name: str, mask: np.ndarray, label: int, kind: str = "three_class"
) -> dict[str, Any]:
    """A :class:`~tamperscope.types.Sample`-like mapping: a black image of the mask's size.

    Args:
        name: the sample's name (its path is ``NAME.png``).
        mask: (H, W) uint8 ground truth, 3-class or binary as ``kind`` says.
        label: 1 tampered, 0 authentic, other = unknown.
        kind: ``"three_class"`` or ``"binary"``.
    """
    return {
        "image": np.zeros((*mask.shape, 3), np.uint8),
        "mask": mask,
        "mask_kind": kind,
        "label": label,
        "name": name,
        "path": f"{name}.png",
    }
