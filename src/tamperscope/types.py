"""Typed records passed between the readers, generators, models and metrics.

Mask conventions used everywhere in tamperscope:

* 3-class mask: (H, W) uint8 in {0 pristine, 1 source, 2 target} (copy-move: source is the
  region that was copied, target is the pasted copy).
* binary mask: (H, W) uint8 in {0 pristine, 1 tampered}.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

import numpy as np

PRISTINE, SOURCE, TARGET = 0, 1, 2
CLASS_NAMES = ("pristine", "source", "target")

MaskKind = Literal["three_class", "binary"]


class Sample(TypedDict):
    """One image of a dataset.

    Keys:
        image: (H, W, 3) uint8 RGB.
        mask: (H, W) uint8, 3-class or binary as ``mask_kind`` says; all zeros for authentic
            images; ``None`` when the dataset has no ground truth for this image.
        mask_kind: ``"three_class"`` or ``"binary"``.
        label: image-level label, 1 tampered, 0 authentic.
        name: identifier unique within the dataset (used to match prediction files).
        path: the image file.
    """

    image: np.ndarray
    mask: np.ndarray | None
    mask_kind: MaskKind
    label: int
    name: str
    path: str
    original: NotRequired[np.ndarray | None]
    bbox: NotRequired[tuple[int, int, int, int] | None]
    meta: NotRequired[dict]


class PairSample(TypedDict):
    """A probe/donor pair for constrained splicing detection (CISDL).

    Keys:
        probe, donor: (H, W, 3) uint8 RGB (sizes may differ).
        probe_mask, donor_mask: (H, W) uint8 in {0, 1}; the region shared by the two images.
        label: 1 when the pair is correlated (a region of the donor appears in the probe).
        pair_type: ``"foreground"``, ``"background"`` or ``"negative"`` (DMAC's thirds), or
            ``"unknown"`` for benchmark pairs.
        name: identifier unique within the dataset.
    """

    probe: np.ndarray
    donor: np.ndarray
    probe_mask: np.ndarray | None
    donor_mask: np.ndarray | None
    label: int
    pair_type: str
    name: str
    probe_path: str
    donor_path: str
    meta: NotRequired[dict]
