"""Colour masks, overlays and region summaries of a 3-class prediction.

Colours follow the copy-move convention of BusterNet and DOA-GAN figures: red = target (the
pasted copy), green = source (the region that was copied), black = pristine; white = any other
manipulated region (report class 3: a generic localizer's region, or a copied region whose role
is unknown). With ``union_only`` (probe/donor pairs) every marked pixel is drawn in yellow.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from tamperscope.types import MANIPULATED, SOURCE, TARGET

COLOURS = {
    "source": (0, 255, 0),
    "target": (255, 0, 0),
    "forged": (255, 255, 0),
    "manipulated": (255, 255, 255),
}


def colour_mask(class_map: np.ndarray, *, union_only: bool = False) -> np.ndarray:
    """Paint a class map.

    Args:
        class_map: (H, W) uint8 in {0 pristine, 1 source, 2 target, 3 manipulated}.
        union_only: paint every marked pixel yellow (probe/donor shared regions).

    Returns:
        (H, W, 3) uint8 RGB: red target, green source, white manipulated, black pristine
        (yellow with ``union_only``).
    """
    out = np.zeros((*class_map.shape, 3), np.uint8)
    if union_only:
        out[class_map > 0] = COLOURS["forged"]
    else:
        out[class_map == SOURCE] = COLOURS["source"]
        out[class_map == TARGET] = COLOURS["target"]
        out[class_map == MANIPULATED] = COLOURS["manipulated"]
    return out


def overlay(
    image: np.ndarray, class_map: np.ndarray, *, alpha: float = 0.45, union_only: bool = False
) -> np.ndarray:
    """Blend the colour mask over the image and outline each region.

    Args:
        image: (H, W, 3) uint8 RGB.
        class_map: (H, W) uint8 in {0, 1, 2, 3}, same size as ``image``.
        alpha: opacity of the colour inside regions, in [0, 1].
        union_only: as in :func:`colour_mask`.

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        ValueError: sizes differ.
    """
    if image.shape[:2] != class_map.shape:
        raise ValueError(f"image {image.shape[:2]} and class map {class_map.shape} sizes differ")
    colours = colour_mask(class_map, union_only=union_only)
    inside = class_map > 0
    out = image.copy()
    blended = (image.astype(np.float32) * (1 - alpha) + colours.astype(np.float32) * alpha).round()
    out[inside] = blended[inside].astype(np.uint8)
    thickness = max(1, round(max(image.shape[:2]) / 400))
    names = {SOURCE: "source", TARGET: "target", MANIPULATED: "manipulated"}
    for cls, name in names.items():
        region = (class_map == cls).astype(np.uint8)
        if not region.any():
            continue
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        name = "forged" if union_only else name
        cv2.drawContours(out, contours, -1, COLOURS[name], thickness)
    return out


def _bbox(region: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(region)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def region_summary(
    class_map: np.ndarray,
    *,
    union_only: bool = False,
    classes: tuple[str, ...] = ("source", "target"),
    min_component_fraction: float = 1e-4,
) -> dict:
    """Areas and boxes of the regions of each class.

    Args:
        class_map: (H, W) uint8 in {0 pristine, 1 source, 2 target, 3 manipulated}.
        union_only: summarise all marked pixels as one class, ``"forged"`` (``classes`` is
            then ignored).
        classes: the classes summarised, among ``"source"``, ``"target"``, ``"manipulated"``.
        min_component_fraction: connected components smaller than this fraction of the image
            are left out of the component list (they still count in the area).

    Returns:
        ``{name: {"area_px", "area_fraction", "bbox": [xmin, ymin, xmax, ymax] (max exclusive)
        or None, "components": [{"area_px", "bbox"}, ...]}}`` for each class name.

    Raises:
        KeyError: an unknown class name.
    """
    total = class_map.size
    ids = {"source": SOURCE, "target": TARGET, "manipulated": MANIPULATED}
    regions = (
        {"forged": class_map > 0}
        if union_only
        else {name: class_map == ids[name] for name in classes}
    )
    out: dict = {}
    for name, region in regions.items():
        area = int(region.sum())
        comps: list[dict[str, Any]] = []
        if area:
            n, labels, stats, _ = cv2.connectedComponentsWithStats(
                region.astype(np.uint8), connectivity=8
            )
            for i in range(1, n):
                x, y, w, h, a = (int(v) for v in stats[i])
                if a >= min_component_fraction * total:
                    comps.append({"area_px": a, "bbox": [x, y, x + w, y + h]})
            comps.sort(key=lambda c: -int(c["area_px"]))
        out[name] = {
            "area_px": area,
            "area_fraction": round(area / total, 6),
            "bbox": _bbox(region) if area else None,
            "components": comps,
        }
    return out
