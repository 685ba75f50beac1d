"""Probe/donor pairs for constrained image splicing detection (CISDL).

Pairs come in DMAC's thirds (Y. Liu, X. Zhu, X. Zhao, Y. Cao, IEEE TIFS 2019,
DOI 10.1109/TIFS.2019.2902826):

* foreground pair: probe = image B with a transformed region of donor A pasted in; the probe
  mask is the pasted region, the donor mask the source region in A;
* background pair: probe = that same forged B, donor = the original B; both masks are the
  shared background, everything but the pasted region;
* negative pair: two unrelated images, empty masks.

:func:`make_splice_pair` renders the forged probe; :func:`background_pair` and
:func:`negative_pair` derive the other two kinds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tamperscope.synth.blending import check_blend, paste
from tamperscope.synth.copy_move import PlacementError
from tamperscope.synth.geometry import (
    WarpedRegion,
    bounding_box,
    sample_placement,
    warp_region,
)
from tamperscope.synth.regions import area_fraction
from tamperscope.synth.sampling import TransformParams, sample_transform


@dataclass(frozen=True)
class SplicePair:
    """A probe/donor pair.

    Attributes:
        probe: (Hp, Wp, 3) uint8 RGB.
        donor: (Hd, Wd, 3) uint8 RGB.
        probe_mask: (Hp, Wp) uint8 in {0, 1}, the region shared with the donor.
        donor_mask: (Hd, Wd) uint8 in {0, 1}, the region shared with the probe.
        label: 1 when the images share a region, 0 for a negative pair.
        pair_type: ``"foreground"``, ``"background"`` or ``"negative"``.
    """

    probe: np.ndarray
    donor: np.ndarray
    probe_mask: np.ndarray
    donor_mask: np.ndarray
    label: int
    pair_type: str


@dataclass(frozen=True)
class SpliceResult:
    """A rendered splice (foreground pair plus what the background pair needs).

    Attributes:
        probe: (Hb, Wb, 3) uint8 RGB, image B with the donor's region pasted in.
        probe_mask: (Hb, Wb) uint8 in {0, 1}, the pasted region.
        donor: (Ha, Wa, 3) uint8 RGB, image A.
        donor_mask: (Ha, Wa) uint8 in {0, 1}, the source region in A.
        original_probe: (Hb, Wb, 3) uint8 RGB, B before pasting.
        warped: (Hb, Wb, 3) uint8 RGB, B with the warped region hard-pasted.
        transform: the transformation applied.
        probe_area_fraction, donor_area_fraction: region areas over image areas.
        blend: blending mode used.
    """

    probe: np.ndarray
    probe_mask: np.ndarray
    donor: np.ndarray
    donor_mask: np.ndarray
    original_probe: np.ndarray
    warped: np.ndarray
    transform: TransformParams
    probe_area_fraction: float
    donor_area_fraction: float
    blend: str

    def foreground_pair(self) -> SplicePair:
        """The foreground pair: (forged B, A), masks = pasted region and source region."""
        return SplicePair(self.probe, self.donor, self.probe_mask, self.donor_mask, 1, "foreground")

    def params(self) -> dict[str, Any]:
        """JSON-ready description (transform, boxes, areas)."""
        return {
            "transform": self.transform.to_dict(),
            "donor_bbox": list(bounding_box(self.donor_mask) or ()),
            "probe_bbox": list(bounding_box(self.probe_mask) or ()),
            "donor_area_fraction": round(self.donor_area_fraction, 6),
            "probe_area_fraction": round(self.probe_area_fraction, 6),
        }


def background_pair(result: SpliceResult) -> SplicePair:
    """The background pair of a splice: (forged B, original B), masks = the shared background.

    Both masks are ``1 - probe_mask``: every pixel but the pasted region appears in both images.
    """
    background = (1 - result.probe_mask).astype(np.uint8)
    return SplicePair(
        result.probe, result.original_probe, background, background.copy(), 1, "background"
    )


def negative_pair(probe: np.ndarray, donor: np.ndarray) -> SplicePair:
    """Two unrelated images with empty masks (label 0)."""
    return SplicePair(
        probe,
        donor,
        np.zeros(probe.shape[:2], np.uint8),
        np.zeros(donor.shape[:2], np.uint8),
        0,
        "negative",
    )


def warped_donor_regions(
    rng: np.random.Generator,
    donor: np.ndarray,
    source: np.ndarray,
    transform: str,
    area_range: tuple[float, float] | None,
    donor_fraction: float,
    to_target: float,
    max_tries: int,
) -> Iterator[tuple[TransformParams, WarpedRegion]]:
    """Transformations of a donor region for pasting into another image, with the warped
    region.

    Draws up to ``max_tries * 20`` transformations with ``rng``; one whose predicted area
    in the target (``donor_fraction * area_factor * to_target``) misses ``area_range`` by
    more than 10 % is skipped without counting, and at most ``max_tries`` are warped.
    Transformations that leave nothing of the region are skipped.

    Args:
        rng: the sample's generator.
        donor: (H, W, 3) uint8 donor image.
        source: (H, W) uint8 in {0, 1}, the donor region.
        transform: one of :data:`~tamperscope.synth.sampling.TRANSFORM_FAMILIES`.
        area_range: (low, high) area fraction wanted in the target; None for any.
        donor_fraction: the region's area fraction in the donor.
        to_target: donor pixel count over target pixel count.
        max_tries: warped attempts.

    Yields:
        ``(params, warped)``: the transformation and the region it gives.
    """
    attempts = 0
    for _ in range(max_tries * 20):
        params = sample_transform(rng, transform)
        if area_range is not None:
            predicted = donor_fraction * params.area_factor * to_target
            if not area_range[0] * 0.9 <= predicted <= area_range[1] * 1.1:
                continue
        attempts += 1
        if attempts > max_tries:
            return
        warped = warp_region(donor, source, params)
        if warped is not None:
            yield params, warped


def make_splice_pair(
    donor: np.ndarray,
    donor_region: np.ndarray,
    probe_image: np.ndarray,
    rng: np.random.Generator,
    *,
    area_range: tuple[float, float] | None = None,
    transform: str = "random",
    blend: str = "hard",
    feather_px: int = 8,
    max_tries: int = 20,
) -> SpliceResult:
    """Paste a transformed region of ``donor`` into ``probe_image``.

    With ``transform="random"`` (DMAC) the region is shifted anywhere and each other family
    is applied with probability 0.5; a named family forces it (``raw``: same position, no
    change; families other than ``shift`` and ``combination`` keep the region's position, as
    close as the probe's size allows).

    Args:
        donor: (Ha, Wa, 3) uint8 RGB image A.
        donor_region: (Ha, Wa) uint8 or bool, the region of A to splice (non-empty).
        probe_image: (Hb, Wb, 3) uint8 RGB image B.
        rng: the sample's generator.
        area_range: (low, high) closed interval for the region's area fraction in A and in
            the forged B; None for no constraint.
        transform: one of :data:`~tamperscope.synth.sampling.TRANSFORM_FAMILIES`.
        blend: ``"hard"``, ``"feather"`` or ``"poisson"``.
        feather_px: alpha ramp width in pixels for ``"feather"``.
        max_tries: warped attempts before giving up.

    Returns:
        :class:`SpliceResult`; outside the pasted region the probe equals ``probe_image``.

    Raises:
        ValueError: bad shapes, empty region, or donor area outside ``area_range``.
        TamperscopeError: unknown transform or blend.
        PlacementError: no transformation fits the probe within ``max_tries`` attempts.
    """
    for name, arr in (("donor", donor), ("probe_image", probe_image)):
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise ValueError(f"{name} must be (H, W, 3) uint8, got {arr.shape} {arr.dtype}")
    if donor_region.shape != donor.shape[:2]:
        raise ValueError(
            f"donor_region {donor_region.shape} does not match donor {donor.shape[:2]}"
        )
    check_blend(blend, feather_px)
    source = (donor_region > 0).astype(np.uint8)
    if not source.any():
        raise ValueError("donor_region is empty")
    donor_fraction = area_fraction(source)
    if area_range is not None and not area_range[0] <= donor_fraction <= area_range[1]:
        raise ValueError(f"donor area fraction {donor_fraction:.4f} is outside {area_range}")
    shape = probe_image.shape[:2]
    scale_to_probe = (donor.shape[0] * donor.shape[1]) / (shape[0] * shape[1])
    for params, warped in warped_donor_regions(
        rng, donor, source, transform, area_range, donor_fraction, scale_to_probe, max_tries
    ):
        probe_fraction = float(warped.mask.sum()) / (shape[0] * shape[1])
        if area_range is not None and not area_range[0] <= probe_fraction <= area_range[1]:
            continue
        xy = sample_placement(rng, warped.mask, shape, shift=params.shift, anchor=warped.anchor)
        if xy is None:
            continue
        pasted = paste(probe_image, warped.patch, warped.mask, xy, blend, feather_px)
        return SpliceResult(
            probe=pasted.image,
            probe_mask=pasted.mask,
            donor=donor,
            donor_mask=source,
            original_probe=probe_image,
            warped=pasted.warped,
            transform=params,
            probe_area_fraction=probe_fraction,
            donor_area_fraction=donor_fraction,
            blend=blend,
        )
    raise PlacementError(
        f"no {transform} transformation of a region of {donor_fraction:.1%} fits the probe "
        f"(area range {area_range}) in {max_tries} tries"
    )
