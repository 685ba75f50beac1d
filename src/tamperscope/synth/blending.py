"""Pasting a warped region into an image: hard paste, feathered edge, Poisson blending.

Whatever the mode, only pixels inside the pasted region change, and the mask records the
whole region the paste covers. With a hard paste the forged pixels equal the warped region's
pixels exactly; with feathering or Poisson blending they differ from them (recorded as
``exact_paste: false`` in generation manifests).

Poisson blending is OpenCV's ``seamlessClone`` (P. Pérez, M. Gangnet, A. Blake, "Poisson
Image Editing", SIGGRAPH 2003).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tamperscope.errors import TamperscopeError
from tamperscope.synth.geometry import bounding_box

BLEND_MODES = ("hard", "feather", "poisson")


@dataclass(frozen=True)
class PasteResult:
    """Outcome of :func:`paste`.

    Attributes:
        image: (H, W, 3) uint8 RGB, the destination with the region pasted.
        mask: (H, W) uint8 in {0, 1}, the pixels the paste covers.
        warped: (H, W, 3) uint8 RGB, the destination with the warped pixels hard-pasted; the
            reference the blended pixels come from.
    """

    image: np.ndarray
    mask: np.ndarray
    warped: np.ndarray


def check_blend(mode: str, feather_px: int = 8) -> None:
    """Validate a blending option.

    Raises:
        TamperscopeError: unknown mode, or a feather width below 1 pixel.
    """
    if mode not in BLEND_MODES:
        raise TamperscopeError(f"unknown blend mode {mode!r}; choose from {', '.join(BLEND_MODES)}")
    if mode == "feather" and int(feather_px) < 1:
        raise TamperscopeError(f"feather width must be at least 1 pixel, got {feather_px}")


def feather_alpha(mask: np.ndarray, feather_px: int) -> np.ndarray:
    """Alpha ramp rising from the region's edge to 1 at ``feather_px`` pixels inside.

    Args:
        mask: (H, W) {0, 1}.
        feather_px: ramp width in pixels, >= 1.

    Returns:
        (H, W) float32 in [0, 1]; 0 outside the region, 1/feather_px on its edge pixels.
    """
    padded = np.pad(mask.astype(np.uint8), 1)  # the image border counts as outside
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    return np.clip(dist / float(feather_px), 0.0, 1.0).astype(np.float32)


def _poisson(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> np.ndarray:
    pad = 8  # seamlessClone needs the region away from the image border
    dst_p = cv2.copyMakeBorder(dst, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    src_p = cv2.copyMakeBorder(src, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    mask_p = np.pad(mask, pad).astype(np.uint8) * 255
    box = bounding_box(mask_p)
    assert box is not None
    x0, y0, x1, y1 = box
    centre = (x0 + (x1 - x0) // 2, y0 + (y1 - y0) // 2)
    out = cv2.seamlessClone(
        np.ascontiguousarray(src_p[..., ::-1]),
        np.ascontiguousarray(dst_p[..., ::-1]),
        mask_p,
        centre,
        cv2.NORMAL_CLONE,
    )
    return np.ascontiguousarray(out[pad:-pad, pad:-pad, ::-1])


def paste(
    dst: np.ndarray,
    patch: np.ndarray,
    patch_mask: np.ndarray,
    xy: tuple[int, int],
    mode: str = "hard",
    feather_px: int = 8,
) -> PasteResult:
    """Paste a warped region into an image.

    Args:
        dst: (H, W, 3) uint8 RGB destination (not modified).
        patch: (h, w, 3) uint8 RGB warped pixels.
        patch_mask: (h, w) {0, 1} warped region.
        xy: top-left (x, y) of the patch in ``dst``, pixels; the patch must fit.
        mode: ``"hard"`` (copy pixels), ``"feather"`` (alpha ramp of ``feather_px`` pixels
            inside the region's edge) or ``"poisson"`` (gradient-domain blending).
        feather_px: ramp width in pixels for ``"feather"``.

    Returns:
        :class:`PasteResult`; outside its ``mask`` the image equals ``dst`` exactly.

    Raises:
        TamperscopeError: unknown mode.
        ValueError: the patch does not fit in ``dst`` at ``xy``.
    """
    check_blend(mode, feather_px)
    height, width = dst.shape[:2]
    h, w = patch_mask.shape
    x, y = xy
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise ValueError(f"patch {w}x{h} at {xy} does not fit in a {width}x{height} image")
    mask = np.zeros((height, width), np.uint8)
    mask[y : y + h, x : x + w] = patch_mask > 0
    inside = mask.astype(bool)
    warped = dst.copy()
    window = warped[y : y + h, x : x + w]
    window[patch_mask > 0] = patch[patch_mask > 0]
    if mode == "hard" or not inside.any():
        image = warped.copy()
    elif mode == "feather":
        alpha = feather_alpha(mask, feather_px)[..., None]
        mixed = alpha * warped.astype(np.float32) + (1.0 - alpha) * dst.astype(np.float32)
        image = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    else:
        image = _poisson(dst, warped, mask)
    image[~inside] = dst[~inside]
    return PasteResult(image, mask, warped)
