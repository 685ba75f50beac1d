"""Rendering of a transformed region: affine warp and placement.

A region (binary mask over an image) is cut at its bounding box, warped by rotation, scale and
width deformation about its centre, shifted in luminance, and placed in a target canvas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from tamperscope.synth.sampling import TransformParams


@dataclass(frozen=True)
class WarpedRegion:
    """A transformed region cut to its bounding box.

    Attributes:
        patch: (h, w, 3) uint8 RGB, the warped pixels (meaningful where ``mask`` is 1).
        mask: (h, w) uint8 in {0, 1}, the warped region.
        anchor: (x, y) pixels, top-left position of ``patch`` that keeps the region's centre
            where it was in the source image (may lie outside a smaller canvas).
    """

    patch: np.ndarray
    mask: np.ndarray
    anchor: tuple[int, int]


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box of the non-zero pixels of a mask.

    Args:
        mask: (H, W) array.

    Returns:
        (xmin, ymin, xmax, ymax) in pixels, min inclusive and max exclusive, or None when the
        mask is empty.
    """
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if ys.size == 0:
        return None
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def _shift_luminance(patch: np.ndarray, delta: float) -> np.ndarray:
    if delta == 0.0:
        return patch
    return np.clip(np.rint(patch.astype(np.float32) + np.float32(delta)), 0, 255).astype(np.uint8)


def warp_region(
    image: np.ndarray, region: np.ndarray, params: TransformParams
) -> WarpedRegion | None:
    """Apply a transformation to the region of an image.

    The region is scaled by ``params.scale`` (and its width by ``params.deformation``), then
    rotated by ``params.angle`` degrees about its bounding-box centre; image pixels are
    resampled bilinearly and the mask bilinearly then thresholded at 0.5. When the geometry
    is the identity the pixels are copied exactly. The luminance change is added last.

    Args:
        image: (H, W, 3) uint8 RGB.
        region: (H, W) uint8 or bool, non-zero inside the region.
        params: the transformation.

    Returns:
        The :class:`WarpedRegion`, or None when the region is empty or vanishes once warped.
    """
    box = bounding_box(region)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    region = (region > 0).astype(np.uint8)
    if params.is_rigid_copy:
        patch = image[y0:y1, x0:x1].copy()
        mask = region[y0:y1, x0:x1].copy()
        return WarpedRegion(_shift_luminance(patch, params.luminance), mask, (x0, y0))

    height, width = region.shape
    pad = 2  # context for bilinear interpolation at the region's border
    cx0, cy0 = max(0, x0 - pad), max(0, y0 - pad)
    cx1, cy1 = min(width, x1 + pad), min(height, y1 + pad)
    crop = image[cy0:cy1, cx0:cx1]
    crop_mask = region[cy0:cy1, cx0:cx1].astype(np.float32)
    ch, cw = crop_mask.shape
    centre = np.array([(x0 + x1 - 1) / 2.0 - cx0, (y0 + y1 - 1) / 2.0 - cy0])

    theta = math.radians(params.angle)
    # Image axes point right and down, so this matrix turns counter-clockwise on screen.
    rotation = np.array([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
    linear = rotation @ np.diag([params.scale * params.deformation, params.scale])
    corners = np.array([[0, 0], [cw - 1, 0], [0, ch - 1], [cw - 1, ch - 1]], float) - centre
    moved = corners @ linear.T
    low = np.floor(moved.min(axis=0)) - 1
    high = np.ceil(moved.max(axis=0)) + 1
    out_w, out_h = int(high[0] - low[0]) + 1, int(high[1] - low[1]) + 1
    matrix = np.hstack([linear, (-linear @ centre - low)[:, None]])
    warped = cv2.warpAffine(
        np.ascontiguousarray(crop),
        matrix,
        (out_w, out_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    warped_mask = cv2.warpAffine(
        crop_mask,
        matrix,
        (out_w, out_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    mask = (warped_mask >= 0.5).astype(np.uint8)
    tight = bounding_box(mask)
    if tight is None:
        return None
    tx0, ty0, tx1, ty1 = tight
    # The source centre lands at -low in the warped canvas.
    anchor_x = int(round(cx0 + centre[0] + low[0] + tx0))
    anchor_y = int(round(cy0 + centre[1] + low[1] + ty0))
    patch = _shift_luminance(warped[ty0:ty1, tx0:tx1], params.luminance)
    return WarpedRegion(patch, mask[ty0:ty1, tx0:tx1].copy(), (anchor_x, anchor_y))


def overlap_counts(forbidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixels shared by ``mask`` and ``forbidden`` for every placement of ``mask``.

    Args:
        forbidden: (H, W) {0, 1} canvas region to avoid.
        mask: (h, w) {0, 1} with h <= H and w <= W.

    Returns:
        (H - h + 1, W - w + 1) float32; entry [y, x] is the overlap when ``mask``'s top-left
        corner is at (x, y). OpenCV computes it in the frequency domain, so entries equal the
        integer counts only up to a small rounding error (about 0.05 for 1400 x 1400 images);
        callers compare against 0.5 and verify the chosen position exactly.
    """
    return cv2.matchTemplate(forbidden.astype(np.float32), mask.astype(np.float32), cv2.TM_CCORR)


def sample_placement(
    rng: np.random.Generator,
    mask: np.ndarray,
    canvas_shape: tuple[int, int],
    *,
    shift: bool = True,
    anchor: tuple[int, int] = (0, 0),
    forbidden: np.ndarray | None = None,
) -> tuple[int, int] | None:
    """Choose where a warped region goes in a canvas.

    With ``shift`` the top-left corner is drawn uniformly among all positions where the region
    fits in the canvas and does not overlap ``forbidden``; without it the region stays at
    ``anchor``, clipped so that it fits.

    Args:
        rng: the sample's generator.
        mask: (h, w) {0, 1}, the warped region.
        canvas_shape: (H, W) of the target image, pixels.
        shift: place anywhere (True) or at the anchor (False).
        anchor: (x, y) preferred top-left corner when not shifting.
        forbidden: optional (H, W) {0, 1} pixels the region must not cover (the source
            region, for copy-move).

    Returns:
        (x, y) top-left corner in pixels, or None when the region does not fit or every
        position overlaps ``forbidden``.
    """
    h, w = mask.shape
    height, width = canvas_shape
    if h > height or w > width:
        return None
    inside = mask.astype(bool)

    def clear(x: int, y: int) -> bool:
        return forbidden is None or not np.any(
            forbidden[y : y + h, x : x + w].astype(bool) & inside
        )

    if not shift:
        x = int(np.clip(anchor[0], 0, width - w))
        y = int(np.clip(anchor[1], 0, height - h))
        return (x, y) if clear(x, y) else None
    if forbidden is None:
        return int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    counts = overlap_counts(forbidden, mask)
    free = np.flatnonzero(counts.ravel() < 0.5)
    while free.size:
        k = int(rng.integers(free.size))
        y, x = divmod(int(free[k]), counts.shape[1])
        if clear(x, y):
            return x, y
        free = np.delete(free, k)  # FFT rounding said free, the exact check did not
    return None


def place(mask: np.ndarray, canvas_shape: tuple[int, int], xy: tuple[int, int]) -> np.ndarray:
    """Put a (h, w) {0, 1} mask at top-left (x, y) of an empty (H, W) uint8 canvas."""
    out = np.zeros(canvas_shape, np.uint8)
    x, y = xy
    h, w = mask.shape
    out[y : y + h, x : x + w] = mask
    return out
