"""Copy-move forgery of one image: a region copied within its own image.

The transformation is drawn as in DMAC's generator (see :mod:`tamperscope.synth.sampling`):
shift anywhere, and each with probability 0.5 rotation, scale, luminance, deformation. The
copy never overlaps its source. When an area range is given, both the source region and the
pasted copy (target) have their area fraction in it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from tamperscope.errors import TamperscopeError
from tamperscope.synth.blending import check_blend, paste
from tamperscope.synth.geometry import bounding_box, sample_placement, warp_region
from tamperscope.synth.regions import area_fraction
from tamperscope.synth.sampling import TransformParams, sample_transform
from tamperscope.types import SOURCE, TARGET


class PlacementError(TamperscopeError):
    """No transformation and placement satisfied the constraints within the allowed tries."""


@dataclass(frozen=True)
class CopyMoveResult:
    """A rendered copy-move forgery.

    Attributes:
        image: (H, W, 3) uint8 RGB, the forged image.
        mask: (H, W) uint8 in {0 pristine, 1 source, 2 target}.
        original: (H, W, 3) uint8 RGB, the pristine image.
        warped: (H, W, 3) uint8 RGB, the original with the warped copy hard-pasted; equals
            ``image`` on the target for a hard paste.
        transform: the transformation applied.
        source_bbox: (xmin, ymin, xmax, ymax) of the source, pixels, max exclusive.
        target_bbox: (xmin, ymin, xmax, ymax) of the target, pixels, max exclusive.
        source_area_fraction: source area / image area.
        target_area_fraction: target area / image area.
        blend: blending mode used.
    """

    image: np.ndarray
    mask: np.ndarray
    original: np.ndarray
    warped: np.ndarray
    transform: TransformParams
    source_bbox: tuple[int, int, int, int]
    target_bbox: tuple[int, int, int, int]
    source_area_fraction: float
    target_area_fraction: float
    blend: str

    @property
    def source(self) -> np.ndarray:
        """(H, W) bool, the copied region."""
        return self.mask == SOURCE

    @property
    def target(self) -> np.ndarray:
        """(H, W) bool, the pasted copy."""
        return self.mask == TARGET

    def params(self) -> dict[str, Any]:
        """JSON-ready description of the forgery (transform, placement, areas)."""
        return {
            "transform": self.transform.to_dict(),
            "source_bbox": list(self.source_bbox),
            "target_bbox": list(self.target_bbox),
            "target_area_fraction": round(self.target_area_fraction, 6),
        }


def make_copy_move(
    image: np.ndarray,
    region: np.ndarray,
    rng: np.random.Generator,
    *,
    area_range: tuple[float, float] | None = None,
    transform: str = "random",
    blend: str = "hard",
    feather_px: int = 8,
    max_tries: int = 20,
) -> CopyMoveResult:
    """Copy ``region`` of ``image`` to another place of the same image.

    Transformations are redrawn when the copy's area leaves ``area_range``, when it does not
    fit in the image, or when no position avoids the source; after ``max_tries`` warped
    attempts a :class:`PlacementError` is raised (the caller then picks another region).

    Args:
        image: (H, W, 3) uint8 RGB pristine image.
        region: (H, W) uint8 or bool, the source region (non-empty).
        rng: the sample's generator (all randomness comes from it).
        area_range: (low, high) closed interval for the area fraction of source and target;
            None for no constraint.
        transform: a family of :data:`~tamperscope.synth.sampling.TRANSFORM_FAMILIES` other
            than ``raw``; the copy is always shifted.
        blend: ``"hard"``, ``"feather"`` or ``"poisson"``.
        feather_px: alpha ramp width in pixels for ``"feather"``.
        max_tries: warped attempts before giving up.

    Returns:
        :class:`CopyMoveResult`. Guarantees: source and target do not overlap; outside the
        target the forged image equals the original; with a hard paste
        ``image[target] == warped[target]``.

    Raises:
        ValueError: bad shapes, an empty region, or a source area outside ``area_range``.
        TamperscopeError: unknown transform or blend, or ``transform="raw"``.
        PlacementError: no valid transformation and placement in ``max_tries`` attempts.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if region.shape != image.shape[:2]:
        raise ValueError(f"region {region.shape} does not match image {image.shape[:2]}")
    if transform == "raw":
        raise TamperscopeError("transform 'raw' would paste the copy onto its source")
    check_blend(blend, feather_px)
    source = (region > 0).astype(np.uint8)
    source_box = bounding_box(source)
    if source_box is None:
        raise ValueError("region is empty")
    source_fraction = area_fraction(source)
    if area_range is not None and not area_range[0] <= source_fraction <= area_range[1]:
        raise ValueError(f"source area fraction {source_fraction:.4f} is outside {area_range}")
    shape = source.shape
    attempts = 0
    for _ in range(max_tries * 20):
        params = dataclasses.replace(sample_transform(rng, transform), shift=True)
        if "shift" not in params.applied:
            params = dataclasses.replace(params, applied=("shift",) + params.applied)
        if area_range is not None:
            predicted = source_fraction * params.area_factor
            if not area_range[0] * 0.9 <= predicted <= area_range[1] * 1.1:
                continue  # cheap rejection before warping
        attempts += 1
        if attempts > max_tries:
            break
        warped = warp_region(image, source, params)
        if warped is None:
            continue
        target_fraction = float(warped.mask.sum()) / (shape[0] * shape[1])
        if area_range is not None and not area_range[0] <= target_fraction <= area_range[1]:
            continue
        xy = sample_placement(rng, warped.mask, shape, shift=True, forbidden=source)
        if xy is None:
            continue
        pasted = paste(image, warped.patch, warped.mask, xy, blend, feather_px)
        mask = source * SOURCE
        mask[pasted.mask > 0] = TARGET
        target_box = bounding_box(pasted.mask)
        assert target_box is not None
        return CopyMoveResult(
            image=pasted.image,
            mask=mask.astype(np.uint8),
            original=image,
            warped=pasted.warped,
            transform=params,
            source_bbox=source_box,
            target_bbox=target_box,
            source_area_fraction=source_fraction,
            target_area_fraction=target_fraction,
            blend=blend,
        )
    raise PlacementError(
        f"no transformation of a region of {source_fraction:.1%} fits without overlapping its "
        f"source (area range {area_range}) in {max_tries} tries"
    )
