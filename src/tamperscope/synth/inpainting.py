"""Inpainting forgeries: a masked area of a photo refilled by an inpainting method.

Masks are rectangles or free-form brush strokes. The filling is done by an
:class:`Inpainter`; the built-in :class:`OpenCVInpainter` wraps ``cv2.inpaint`` with
A. Telea's fast marching method ("An Image Inpainting Technique Based on the Fast Marching
Method", J. Graphics Tools 2004) or the Navier-Stokes method (M. Bertalmio, A. L. Bertozzi,
G. Sapiro, "Navier-Stokes, Fluid Dynamics, and Image and Video Inpainting", CVPR 2001). A
learned inpainter is plugged in by subclassing :class:`Inpainter`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import cv2
import numpy as np

from tamperscope.errors import TamperscopeError
from tamperscope.synth.geometry import bounding_box
from tamperscope.synth.shapes import free_form_mask, random_rectangle

MASK_TYPES = ("rect", "free-form", "mixed")
OPENCV_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


class Inpainter(ABC):
    """Fills the masked pixels of an image."""

    #: Name recorded in manifests.
    name: str = "inpainter"

    @abstractmethod
    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Fill the masked area.

        Args:
            image: (H, W, 3) uint8 RGB.
            mask: (H, W) uint8 in {0, 1}, 1 where pixels are to be filled.

        Returns:
            (H, W, 3) uint8 RGB.
        """


class OpenCVInpainter(Inpainter):
    """``cv2.inpaint`` with the Telea or Navier-Stokes method.

    Args:
        method: ``"telea"`` or ``"ns"``.
        radius: neighbourhood radius in pixels, >= 1.

    Raises:
        TamperscopeError: unknown method or radius below 1.
    """

    def __init__(self, method: str = "telea", radius: int = 5) -> None:
        if method not in OPENCV_METHODS:
            raise TamperscopeError(
                f"unknown OpenCV inpainting method {method!r}; choose from "
                f"{', '.join(OPENCV_METHODS)}"
            )
        if radius < 1:
            raise TamperscopeError(f"inpainting radius must be at least 1 pixel, got {radius}")
        self.method = method
        self.radius = int(radius)
        self.name = f"opencv-{method}"

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = cv2.inpaint(
            np.ascontiguousarray(image),
            (mask > 0).astype(np.uint8),
            float(self.radius),
            OPENCV_METHODS[self.method],
        )
        return np.ascontiguousarray(out)


@dataclass(frozen=True)
class InpaintingResult:
    """A rendered inpainting forgery.

    Attributes:
        image: (H, W, 3) uint8 RGB, the inpainted image.
        mask: (H, W) uint8 in {0, 1}, the filled area.
        original: (H, W, 3) uint8 RGB, the pristine photo.
        bbox: (xmin, ymin, xmax, ymax) pixels of the mask, min inclusive, max exclusive.
        inpainter: name of the inpainter.
    """

    image: np.ndarray
    mask: np.ndarray
    original: np.ndarray
    bbox: tuple[int, int, int, int]
    inpainter: str


def sample_inpainting_mask(
    rng: np.random.Generator,
    shape: tuple[int, int],
    area_range: tuple[float, float],
    mask_type: str = "mixed",
) -> tuple[np.ndarray, str]:
    """Draw an inpainting mask.

    Args:
        rng: the sample's generator.
        shape: (H, W) pixels.
        area_range: (low, high) closed interval of the area fraction.
        mask_type: ``"rect"``, ``"free-form"`` or ``"mixed"`` (either, with equal chance).

    Returns:
        ((H, W) uint8 {0, 1} mask, ``"rect"`` or ``"free-form"``).

    Raises:
        TamperscopeError: unknown mask type, bad range, or no mask in range.
    """
    if mask_type not in MASK_TYPES:
        raise TamperscopeError(
            f"unknown mask type {mask_type!r}; choose from {', '.join(MASK_TYPES)}"
        )
    kind = mask_type
    if kind == "mixed":
        kind = ("rect", "free-form")[int(rng.integers(2))]
    if kind == "rect":
        return random_rectangle(rng, shape, area_range), kind
    return free_form_mask(rng, shape, area_range), kind


def make_inpainting(
    image: np.ndarray, mask: np.ndarray, inpainter: Inpainter | None = None
) -> InpaintingResult:
    """Inpaint the masked area of a photo.

    Args:
        image: (H, W, 3) uint8 RGB pristine photo.
        mask: (H, W) uint8 or bool, non-zero where pixels are filled (non-empty).
        inpainter: the filling method; None for ``OpenCVInpainter("telea")``.

    Returns:
        :class:`InpaintingResult`; pixels outside the mask equal the original.

    Raises:
        ValueError: bad shapes, an empty mask, or an inpainter returning a wrong shape.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match image {image.shape[:2]}")
    binary = (mask > 0).astype(np.uint8)
    box = bounding_box(binary)
    if box is None:
        raise ValueError("mask is empty")
    inpainter = inpainter or OpenCVInpainter("telea")
    filled = inpainter.inpaint(image, binary)
    if filled.shape != image.shape or filled.dtype != np.uint8:
        raise ValueError(
            f"inpainter {inpainter.name} returned {filled.shape} {filled.dtype}, "
            f"expected {image.shape} uint8"
        )
    out = image.copy()
    out[binary > 0] = filled[binary > 0]
    return InpaintingResult(out, binary, image, box, inpainter.name)
