"""Random region shapes: ellipses, star-shaped polygons, brush strokes and rectangles.

Each drawer returns a binary mask whose area, as a fraction of the image, lies in the
requested closed interval; shapes that miss it are redrawn. Brush strokes follow the
free-form masks of DeepFill v2 (J. Yu, Z. Lin, J. Yang, X. Shen, X. Lu, T. Huang, "Free-Form
Image Inpainting with Gated Convolution", ICCV 2019, arXiv:1806.03589): random walks of thick
lines with round joints.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from tamperscope.errors import TamperscopeError

SHAPE_KINDS = ("ellipse", "polygon", "brush")


def _check_range(area_range: tuple[float, float]) -> tuple[float, float]:
    low, high = float(area_range[0]), float(area_range[1])
    if not 0.0 < low <= high <= 1.0:
        raise TamperscopeError(f"area range must satisfy 0 < low <= high <= 1, got {area_range}")
    return low, high


def _box(
    rng: np.random.Generator, height: int, width: int, fraction: float
) -> tuple[int, int, int, int]:
    """A random box (x0, y0, w, h) of about ``fraction`` of the image, aspect in [1/2, 2]."""
    area = fraction * height * width
    aspect = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))
    bw = math.sqrt(area * aspect)
    bh = area / bw
    if bw > width:
        bw, bh = width, min(height, area / width)
    if bh > height:
        bh, bw = height, min(width, area / height)
    bw_i = int(min(width, max(2, round(bw))))
    bh_i = int(min(height, max(2, round(bh))))
    x0 = int(rng.integers(0, width - bw_i + 1))
    y0 = int(rng.integers(0, height - bh_i + 1))
    return x0, y0, bw_i, bh_i


def _ellipse(rng: np.random.Generator, shape: tuple[int, int], target: float) -> np.ndarray:
    height, width = shape
    x0, y0, bw, bh = _box(rng, height, width, min(1.0, target * 4.0 / math.pi))
    mask = np.zeros(shape, np.uint8)
    # Sub-pixel drawing (shift=4) keeps the ellipse inside its box.
    center = (int(round((x0 + (bw - 1) / 2) * 16)), int(round((y0 + (bh - 1) / 2) * 16)))
    axes = (int(round((bw - 1) / 2 * 16)), int(round((bh - 1) / 2 * 16)))
    cv2.ellipse(mask, center, axes, 0.0, 0.0, 360.0, 1, -1, cv2.LINE_8, 4)
    return mask


def _polygon(rng: np.random.Generator, shape: tuple[int, int], target: float) -> np.ndarray:
    height, width = shape
    n = int(rng.integers(5, 13))
    angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, n))
    radii = rng.uniform(0.4, 1.0, n)
    pts = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    pts = (pts - pts.min(axis=0)) / np.maximum(pts.max(axis=0) - pts.min(axis=0), 1e-6)
    x, y = pts[:, 0], pts[:, 1]
    fill_ratio = 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))
    box_fraction = target / max(fill_ratio, 1e-3)
    if box_fraction > 1.0:
        return np.zeros(shape, np.uint8)
    x0, y0, bw, bh = _box(rng, height, width, box_fraction)
    poly = np.stack([x0 + x * (bw - 1), y0 + y * (bh - 1)], axis=1)
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    return mask


def brush_strokes(
    rng: np.random.Generator,
    shape: tuple[int, int],
    target: float,
    box: tuple[int, int, int, int] | None = None,
    max_strokes: int = 60,
) -> np.ndarray:
    """Draw random brush strokes until they cover about ``target`` of the image.

    Args:
        rng: the sample's generator.
        shape: (H, W) of the mask, pixels.
        target: wanted area fraction, in (0, 1].
        box: (x0, y0, w, h) the strokes stay in; None for a random box of twice the target area.
        max_strokes: most strokes drawn.

    Returns:
        (H, W) uint8 in {0, 1}; its area may overshoot ``target`` by up to one stroke.
    """
    height, width = shape
    if box is None:
        box = _box(rng, height, width, min(1.0, 2.0 * target))
    x0, y0, bw, bh = box
    side = min(bw, bh)
    want = target * height * width
    mask = np.zeros(shape, np.uint8)
    thickness = max(3, int(round(side * rng.uniform(0.08, 0.2))))
    for _ in range(max_strokes):
        n_vertices = int(rng.integers(4, 10))
        x = rng.uniform(x0, x0 + bw - 1)
        y = rng.uniform(y0, y0 + bh - 1)
        angle = rng.uniform(0.0, 2.0 * math.pi)
        points = [(int(round(x)), int(round(y)))]
        for _ in range(n_vertices):
            angle += rng.uniform(-math.pi / 3, math.pi / 3)
            step = rng.uniform(0.1, 0.35) * side
            x = float(np.clip(x + step * math.cos(angle), x0, x0 + bw - 1))
            y = float(np.clip(y + step * math.sin(angle), y0, y0 + bh - 1))
            points.append((int(round(x)), int(round(y))))
        for p, q in zip(points[:-1], points[1:], strict=True):
            cv2.line(mask, p, q, 1, thickness)
            cv2.circle(mask, q, thickness // 2, 1, -1)
        if int(mask.sum()) >= want:
            break
    return mask


def _brush(rng: np.random.Generator, shape: tuple[int, int], target: float) -> np.ndarray:
    return brush_strokes(rng, shape, target)


_DRAWERS = {"ellipse": _ellipse, "polygon": _polygon, "brush": _brush}


def random_shape(
    rng: np.random.Generator,
    shape: tuple[int, int],
    area_range: tuple[float, float],
    kinds: tuple[str, ...] = SHAPE_KINDS,
    max_tries: int = 50,
) -> np.ndarray:
    """A random free-form region whose area lies in ``area_range``.

    Args:
        rng: the sample's generator.
        shape: (H, W) of the image, pixels.
        area_range: (low, high) closed interval of the area fraction, 0 < low <= high <= 1.
        kinds: shape kinds to choose from uniformly (:data:`SHAPE_KINDS`).
        max_tries: shapes drawn before giving up.

    Returns:
        (H, W) uint8 in {0, 1} with ``low <= mask.mean() <= high``.

    Raises:
        TamperscopeError: bad range or kind, or no shape in range after ``max_tries``.
    """
    low, high = _check_range(area_range)
    for kind in kinds:
        if kind not in _DRAWERS:
            raise TamperscopeError(f"unknown shape {kind!r}; choose from {', '.join(SHAPE_KINDS)}")
    total = shape[0] * shape[1]
    for _ in range(max_tries):
        kind = kinds[int(rng.integers(len(kinds)))]
        target = float(rng.uniform(low, high))
        mask = _DRAWERS[kind](rng, shape, target)
        if low <= mask.sum() / total <= high:
            return mask
    raise TamperscopeError(
        f"could not draw a shape with area in [{low}, {high}] of a {shape[1]}x{shape[0]} image "
        f"in {max_tries} tries"
    )


def random_rectangle(
    rng: np.random.Generator,
    shape: tuple[int, int],
    area_range: tuple[float, float],
    max_tries: int = 50,
) -> np.ndarray:
    """An axis-aligned filled rectangle whose area lies in ``area_range``.

    Args:
        rng: the sample's generator.
        shape: (H, W) of the image, pixels.
        area_range: (low, high) closed interval of the area fraction.
        max_tries: rectangles drawn before giving up.

    Returns:
        (H, W) uint8 in {0, 1}.

    Raises:
        TamperscopeError: bad range, or no rectangle in range after ``max_tries``.
    """
    low, high = _check_range(area_range)
    height, width = shape
    for _ in range(max_tries):
        x0, y0, bw, bh = _box(rng, height, width, float(rng.uniform(low, high)))
        if low <= bw * bh / (height * width) <= high:
            mask = np.zeros(shape, np.uint8)
            mask[y0 : y0 + bh, x0 : x0 + bw] = 1
            return mask
    raise TamperscopeError(
        f"could not draw a rectangle with area in [{low}, {high}] of a {width}x{height} image"
    )


def free_form_mask(
    rng: np.random.Generator,
    shape: tuple[int, int],
    area_range: tuple[float, float],
    max_tries: int = 50,
) -> np.ndarray:
    """Brush-stroke mask (DeepFill v2 style) whose area lies in ``area_range``.

    Args and errors as :func:`random_shape`; returns (H, W) uint8 in {0, 1}.
    """
    return random_shape(rng, shape, area_range, kinds=("brush",), max_tries=max_tries)
