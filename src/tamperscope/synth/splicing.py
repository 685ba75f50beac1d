"""Single-image splicing: a region of one photo (the donor) pasted into another (the host).

Rendering only; parameters are drawn by the caller (:mod:`tamperscope.synth.generate_splice`).
A splice is rendered in this order, as a real edit would be:

1. JPEG history: host and donor may each carry a prior compression with their own quality,
   followed by a crop of 0-7 pixels from the top and left (:func:`prior_compression`), so
   that their 8x8 block grids are offset from the grid of the final compression;
2. the donor's region is resampled (scale, rotation, ... of
   :func:`~tamperscope.synth.sampling.sample_transform`) and placed in the host;
3. its colours are optionally matched to the host around the placement (mean/std transfer
   in CIE Lab, E. Reinhard, M. Ashikhmin, B. Gooch, P. Shirley, "Color Transfer between
   Images", IEEE CG&A 2001);
4. it is pasted with a hard, feathered or Poisson blend (:mod:`~tamperscope.synth.blending`),
   or alpha-composited with its soft matte when the region source gives one;
5. the result is saved as PNG or as JPEG (:func:`encode_jpeg`).

The mask of a splice is the set of pixels the paste changed, as visible after blending and
before the final compression.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from tamperscope.errors import TamperscopeError
from tamperscope.synth.blending import check_blend, paste
from tamperscope.synth.copy_move import PlacementError
from tamperscope.synth.geometry import bounding_box, sample_placement, warp_region
from tamperscope.synth.regions import area_fraction
from tamperscope.synth.sampling import TransformParams
from tamperscope.synth.splice import warped_donor_regions

#: JPEG block size, pixels.
JPEG_BLOCK = 8


def _check_rgb(name: str, image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"{name} must be (H, W, 3) uint8, got {image.shape} {image.dtype}")


def _check_quality(quality: int) -> None:
    if not 1 <= int(quality) <= 100:
        raise TamperscopeError(f"JPEG quality must be between 1 and 100, got {quality}")


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """Encode an image as a baseline JPEG file (OpenCV/libjpeg, 4:2:0 chroma subsampling).

    Args:
        image: (H, W, 3) uint8 RGB.
        quality: JPEG quality, 1-100.

    Returns:
        The file's bytes; the same image and quality always give the same bytes.

    Raises:
        ValueError: ``image`` is not (H, W, 3) uint8.
        TamperscopeError: ``quality`` outside 1-100.
    """
    _check_rgb("image", image)
    _check_quality(quality)
    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 images
        raise TamperscopeError("JPEG encoding failed")
    return bytes(buf.tobytes())


def decode_jpeg(data: bytes) -> np.ndarray:
    """Decode JPEG bytes to (H, W, 3) uint8 RGB.

    Raises:
        TamperscopeError: the bytes do not decode.
    """
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise TamperscopeError("JPEG decoding failed")
    return np.ascontiguousarray(decoded[..., ::-1])


def crop_offset(array: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """Drop the first ``offset = (dy, dx)`` rows and columns of an image or mask."""
    dy, dx = offset
    return np.ascontiguousarray(array[dy:, dx:])


@dataclass(frozen=True)
class JpegHistory:
    """A prior JPEG compression of a photo.

    Attributes:
        quality: JPEG quality 1-100, or None when the photo was not compressed before.
        offset: (dy, dx) in 0-7 pixels, rows and columns cropped from the top and left after
            the compression; the prior 8x8 grid then starts at ``(-dy mod 8, -dx mod 8)`` of
            the cropped image. (0, 0) when ``quality`` is None.
    """

    quality: int | None = None
    offset: tuple[int, int] = (0, 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"quality", "offset": [dy, dx]}``."""
        return {"quality": self.quality, "offset": [int(v) for v in self.offset]}


def sample_jpeg_history(
    rng: np.random.Generator,
    probability: float,
    quality_range: tuple[int, int],
    grid_offsets: bool = True,
) -> JpegHistory:
    """Draw the JPEG history of one photo.

    Args:
        rng: the sample's generator (always advanced by the same number of draws).
        probability: chance that the photo carries a prior compression, in [0, 1].
        quality_range: (low, high) closed range of the prior quality, 1-100.
        grid_offsets: draw a grid offset in 0-7 pixels per axis (else (0, 0)).

    Returns:
        The :class:`JpegHistory`.
    """
    compressed = rng.random() < probability
    quality = int(rng.integers(quality_range[0], quality_range[1] + 1))
    offset = tuple(int(v) for v in rng.integers(0, JPEG_BLOCK, 2))
    if not compressed:
        return JpegHistory()
    return JpegHistory(quality, offset if grid_offsets else (0, 0))  # type: ignore[arg-type]


def prior_compression(image: np.ndarray, history: JpegHistory) -> np.ndarray:
    """Apply a JPEG history: compress at ``history.quality``, then crop ``history.offset``.

    Args:
        image: (H, W, 3) uint8 RGB, larger than 8 pixels on each side.
        history: the :class:`JpegHistory`; a history without quality returns ``image``.

    Returns:
        (H - dy, W - dx, 3) uint8 RGB.
    """
    if history.quality is None:
        return image
    return crop_offset(decode_jpeg(encode_jpeg(image, history.quality)), history.offset)


def lab_colour_transfer(
    patch: np.ndarray, patch_mask: np.ndarray, reference: np.ndarray, reference_mask: np.ndarray
) -> np.ndarray:
    """Match the colours of a region to a reference area: mean/std transfer in CIE Lab.

    Each Lab channel of the region's pixels is shifted and scaled to the mean and standard
    deviation of the reference pixels (Reinhard et al. 2001, in Lab instead of lαβ).

    Args:
        patch: (h, w, 3) uint8 RGB, the region's pixels.
        patch_mask: (h, w) {0, 1}, the region (non-empty).
        reference: (H, W, 3) uint8 RGB.
        reference_mask: (H, W) {0, 1}, the reference pixels (non-empty).

    Returns:
        (h, w, 3) uint8 RGB; pixels outside ``patch_mask`` are unchanged.
    """
    inside, ref = patch_mask > 0, reference_mask > 0
    if not inside.any() or not ref.any():
        return patch
    lab = cv2.cvtColor(patch.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    ref_lab = cv2.cvtColor(reference.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    src, dst = lab[inside], ref_lab[ref]
    src_std = np.maximum(src.std(axis=0), 1e-3)
    scale = np.clip(dst.std(axis=0) / src_std, 0.25, 4.0)  # keep flat regions from blowing up
    lab[inside] = (src - src.mean(axis=0)) * scale + dst.mean(axis=0)
    lab[..., 0] = np.clip(lab[..., 0], 0.0, 100.0)
    rgb = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    out = patch.copy()
    out[inside] = np.clip(np.rint(rgb[inside] * 255.0), 0, 255).astype(np.uint8)
    return out


def _surroundings(shape: tuple[int, int], mask: np.ndarray) -> np.ndarray:
    """The bounding box of ``mask`` grown by half its size on each side, minus the mask."""
    box = bounding_box(mask)
    assert box is not None
    x0, y0, x1, y1 = box
    gx, gy = (x1 - x0) // 2 + 1, (y1 - y0) // 2 + 1
    around = np.zeros(shape, np.uint8)
    around[max(0, y0 - gy) : y1 + gy, max(0, x0 - gx) : x1 + gx] = 1
    around[mask > 0] = 0
    return around if around.any() else (mask > 0).astype(np.uint8)


def matte_paste(
    host: np.ndarray, patch: np.ndarray, patch_alpha: np.ndarray, xy: tuple[int, int]
) -> np.ndarray:
    """Alpha-composite a warped region into an image with its soft matte.

    Args:
        host: (H, W, 3) uint8 RGB (not modified).
        patch: (h, w, 3) uint8 RGB warped pixels.
        patch_alpha: (h, w) float32 in [0, 1], the warped matte (0 outside the region).
        xy: top-left (x, y) of the patch in ``host``, pixels; the patch must fit.

    Returns:
        (H, W, 3) uint8 RGB, ``alpha * patch + (1 - alpha) * host`` rounded; equal to
        ``host`` where alpha is 0.
    """
    x, y = xy
    h, w = patch_alpha.shape
    out = host.copy()
    a = patch_alpha[..., None]
    window = host[y : y + h, x : x + w].astype(np.float32)
    mixed = a * patch.astype(np.float32) + (1.0 - a) * window
    out[y : y + h, x : x + w] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    out[y : y + h, x : x + w][patch_alpha <= 0] = host[y : y + h, x : x + w][patch_alpha <= 0]
    return out


def _warp_alpha(
    alpha: np.ndarray, source: np.ndarray, params: TransformParams, mask: np.ndarray
) -> np.ndarray:
    """The matte warped like the region (no luminance change), 0 outside the warped mask."""
    still = dataclasses.replace(params, luminance=0.0)
    warped = warp_region(np.repeat(alpha[..., None], 3, axis=2), source, still)
    assert warped is not None and warped.mask.shape == mask.shape
    return warped.patch[..., 0].astype(np.float32) / 255.0 * (mask > 0)


@dataclass(frozen=True)
class SpliceImageResult:
    """A rendered single-image splice.

    Attributes:
        image: (H, W, 3) uint8 RGB, the host with the donor's region pasted in.
        mask: (H, W) uint8 in {0, 1}, the pixels that differ from ``host`` (the visible
            pasted region).
        host: (H, W, 3) uint8 RGB, the host before pasting.
        donor_mask: (Hd, Wd) uint8 in {0, 1}, the region taken from the donor.
        transform: the transformation applied to the region.
        xy: top-left (x, y) of the warped region in the host, pixels.
        area_fraction: ``mask``'s share of the image, in [0, 1].
        donor_area_fraction: ``donor_mask``'s share of the donor, in [0, 1].
        colour_matched: whether the region's colours were matched to the host.
        blend: the blending mode, or ``"matte"`` for a soft-matte composite.
    """

    image: np.ndarray
    mask: np.ndarray
    host: np.ndarray
    donor_mask: np.ndarray
    transform: TransformParams
    xy: tuple[int, int]
    area_fraction: float
    donor_area_fraction: float
    colour_matched: bool
    blend: str

    def params(self) -> dict[str, Any]:
        """JSON-ready description (transform, boxes, placement, areas)."""
        return {
            "transform": self.transform.to_dict(),
            "xy": [int(v) for v in self.xy],
            "donor_bbox": list(bounding_box(self.donor_mask) or ()),
            "donor_area_fraction": round(self.donor_area_fraction, 6),
            "colour_match": self.colour_matched,
        }


def make_splice(
    host: np.ndarray,
    donor: np.ndarray,
    donor_region: np.ndarray,
    rng: np.random.Generator,
    *,
    area_range: tuple[float, float] | None = None,
    transform: str = "random",
    blend: str = "hard",
    feather_px: int = 8,
    colour_match: bool = False,
    max_tries: int = 20,
    alpha: np.ndarray | None = None,
) -> SpliceImageResult:
    """Paste a transformed region of ``donor`` into ``host``.

    Args:
        host: (H, W, 3) uint8 RGB.
        donor: (Hd, Wd, 3) uint8 RGB.
        donor_region: (Hd, Wd) uint8 or bool, the region of the donor (non-empty).
        rng: the sample's generator.
        area_range: (low, high) closed interval for the visible pasted area over the host's
            area; None for no constraint.
        transform: one of :data:`~tamperscope.synth.sampling.TRANSFORM_FAMILIES`; families
            that keep the position keep the region's centre where it was in the donor (as
            close as the host's size allows).
        blend: ``"hard"``, ``"feather"`` or ``"poisson"``.
        feather_px: feather ramp width, pixels.
        colour_match: match the region's Lab mean/std to the host around the placement.
        max_tries: warped attempts before giving up.
        alpha: (Hd, Wd) uint8 in [0, 255], a soft matte of the region; when given the region
            is alpha-composited with it (:func:`matte_paste`, recorded as blend ``"matte"``)
            instead of ``blend``.

    Returns:
        :class:`SpliceImageResult`; outside its mask the image equals ``host`` exactly.

    Raises:
        ValueError: bad shapes or an empty region.
        TamperscopeError: unknown transform or blend.
        PlacementError: no transformation gives a visible area in ``area_range`` within
            ``max_tries`` attempts.
    """
    _check_rgb("host", host)
    _check_rgb("donor", donor)
    if donor_region.shape != donor.shape[:2]:
        raise ValueError(
            f"donor_region {donor_region.shape} does not match donor {donor.shape[:2]}"
        )
    if alpha is not None and alpha.shape != donor.shape[:2]:
        raise ValueError(f"alpha {alpha.shape} does not match donor {donor.shape[:2]}")
    check_blend(blend, feather_px)
    source = (donor_region > 0).astype(np.uint8)
    if not source.any():
        raise ValueError("donor_region is empty")
    donor_fraction = area_fraction(source)
    shape = host.shape[:2]
    to_host = (donor.shape[0] * donor.shape[1]) / (shape[0] * shape[1])
    for params, warped in warped_donor_regions(
        rng, donor, source, transform, area_range, donor_fraction, to_host, max_tries
    ):
        xy = sample_placement(rng, warped.mask, shape, shift=params.shift, anchor=warped.anchor)
        if xy is None:
            continue
        patch = warped.patch
        if colour_match:
            placed = np.zeros(shape, np.uint8)
            h, w = warped.mask.shape
            placed[xy[1] : xy[1] + h, xy[0] : xy[0] + w] = warped.mask
            patch = lab_colour_transfer(patch, warped.mask, host, _surroundings(shape, placed))
        if alpha is None:
            image = paste(host, patch, warped.mask, xy, blend, feather_px).image
        else:
            image = matte_paste(host, patch, _warp_alpha(alpha, source, params, warped.mask), xy)
        visible = (image != host).any(axis=2).astype(np.uint8)
        fraction = area_fraction(visible)
        if not visible.any() or (
            area_range is not None and not area_range[0] <= fraction <= area_range[1]
        ):
            continue
        return SpliceImageResult(
            image=image,
            mask=visible,
            host=host,
            donor_mask=source,
            transform=params,
            xy=(int(xy[0]), int(xy[1])),
            area_fraction=fraction,
            donor_area_fraction=donor_fraction,
            colour_matched=colour_match,
            blend=blend if alpha is None else "matte",
        )
    raise PlacementError(
        f"no {transform} transformation of a donor region of {donor_fraction:.1%} gives a "
        f"visible area in {area_range} of the host in {max_tries} tries"
    )
