"""Invariants of the pure rendering functions and the parameter sampling."""

from __future__ import annotations

import numpy as np
import pytest

from tamperscope.errors import TamperscopeError
from tamperscope.synth import (
    AREA_GROUPS,
    TransformParams,
    make_copy_move,
    make_inpainting,
    make_splice_pair,
    sample_transform,
)
from tamperscope.synth.attacks import (
    AttackSpecError,
    apply_attacks,
    parse_attack,
    parse_attacks,
    sample_attacks,
)
from tamperscope.synth.blending import paste
from tamperscope.synth.geometry import bounding_box, warp_region
from tamperscope.synth.inpainting import OpenCVInpainter, sample_inpainting_mask
from tamperscope.synth.sampling import GEOMETRIC_FAMILIES, is_negative, parse_groups
from tamperscope.synth.shapes import random_rectangle, random_shape
from tamperscope.synth.splice import background_pair
from tamperscope.types import SOURCE, TARGET


def _image(rng: np.random.Generator, h: int = 96, w: int = 128) -> np.ndarray:
    # Smooth gradients plus texture, so warps and blends change pixel values.
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 2, yy * 2, (xx + yy)], axis=2) % 256
    return np.clip(base + rng.integers(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)


def test_transform_probabilities_hold(rng):
    draws = [sample_transform(rng) for _ in range(4000)]
    for family in GEOMETRIC_FAMILIES:
        share = np.mean([family in d.applied for d in draws])
        assert abs(share - 0.5) < 0.04, (family, share)
    assert all(d.shift and "shift" in d.applied for d in draws)
    angles = [d.angle for d in draws if "rotation" in d.applied]
    scales = [d.scale for d in draws if "scale" in d.applied]
    lum = [d.luminance for d in draws if "luminance" in d.applied]
    deform = [d.deformation for d in draws if "deformation" in d.applied]
    assert -30 <= min(angles) and max(angles) <= 30
    assert 0.5 <= min(scales) and max(scales) <= 4
    assert -32 <= min(lum) and max(lum) <= 32
    assert 0.5 <= min(deform) and max(deform) <= 2


def test_forced_families(rng):
    raw = sample_transform(rng, "raw")
    assert raw.is_rigid_copy and not raw.shift and raw.luminance == 0
    rot = sample_transform(rng, "rotation")
    assert rot.applied == ("rotation",) and rot.angle != 0 and rot.scale == 1
    combos = [sample_transform(rng, "combination") for _ in range(50)]
    assert all(len(c.applied) >= 3 and c.shift for c in combos)
    with pytest.raises(TamperscopeError, match="unknown transform 'twirl'"):
        sample_transform(rng, "twirl")


def test_groups_and_negatives():
    assert parse_groups("difficult, Easy") == ("Difficult", "Easy")
    with pytest.raises(TamperscopeError, match="unknown area group 'huge'"):
        parse_groups("Normal,huge")
    flags = [is_negative(i, 0.25) for i in range(100)]
    assert sum(flags) == 25
    assert not any(is_negative(i, 0.0) for i in range(10))


@pytest.mark.parametrize("group", list(AREA_GROUPS))
def test_random_shapes_in_group(rng, group):
    lo, hi = AREA_GROUPS[group].range
    for _ in range(10):
        mask = random_shape(rng, (80, 120), (lo, hi))
        assert lo <= mask.mean() <= hi
        rect = random_rectangle(rng, (80, 120), (lo, hi))
        assert lo <= rect.mean() <= hi


def test_rigid_shift_copies_pixels_exactly(rng):
    image = _image(rng)
    region = np.zeros(image.shape[:2], np.uint8)
    region[10:40, 15:50] = 1
    warped = warp_region(image, region, TransformParams())
    assert warped is not None and warped.anchor == (15, 10)
    np.testing.assert_array_equal(warped.patch, image[10:40, 15:50])


@pytest.mark.parametrize("seed", range(6))
def test_copy_move_invariants_hard_paste(seed):
    rng = np.random.default_rng(seed)
    image = _image(rng)
    group = AREA_GROUPS["Difficult"]
    region = random_shape(rng, image.shape[:2], group.range)
    res = make_copy_move(image, region, rng, area_range=group.range)
    source, target = res.mask == SOURCE, res.mask == TARGET
    np.testing.assert_array_equal(source, region > 0)  # source is the original region
    assert target.any() and not (source & target).any()
    assert set(np.unique(res.mask)) <= {0, 1, 2}
    np.testing.assert_array_equal(res.image[target], res.warped[target])
    np.testing.assert_array_equal(res.image[~target], image[~target])
    assert group.contains(res.source_area_fraction) and group.contains(res.target_area_fraction)
    assert bounding_box(target) == res.target_bbox


def test_copy_move_pure_shift_matches_source_pixels(rng):
    image = _image(rng)
    region = np.zeros(image.shape[:2], np.uint8)
    region[5:25, 5:30] = 1
    res = make_copy_move(image, region, rng, transform="shift")
    x0, y0, x1, y1 = res.target_bbox
    np.testing.assert_array_equal(res.image[y0:y1, x0:x1], image[5:25, 5:30])


def test_warped_pixels_follow_transform(rng):
    # A luminance-only change: pasted pixels are the source pixels plus the offset, clipped.
    image = _image(rng)
    region = np.zeros(image.shape[:2], np.uint8)
    region[30:50, 40:70] = 1
    params = TransformParams(luminance=20.0)
    warped = warp_region(image, region, params)
    expected = np.clip(image[30:50, 40:70].astype(int) + 20, 0, 255)
    np.testing.assert_array_equal(warped.patch, expected)


@pytest.mark.parametrize("mode", ["feather", "poisson"])
def test_soft_blends_change_only_the_target(rng, mode):
    image = _image(rng)
    patch = np.full((20, 30, 3), 250, np.uint8)
    pmask = np.ones((20, 30), np.uint8)
    hard = paste(image, patch, pmask, (0, 0), "hard")
    soft = paste(image, patch, pmask, (0, 0), mode, feather_px=4)
    inside = soft.mask.astype(bool)
    np.testing.assert_array_equal(soft.image[~inside], image[~inside])
    assert (soft.image[inside] != hard.image[inside]).any()


def test_copy_move_errors(rng):
    image = _image(rng)
    region = np.zeros(image.shape[:2], np.uint8)
    with pytest.raises(ValueError, match="region is empty"):
        make_copy_move(image, region, rng)
    region[:, :] = 1
    with pytest.raises(ValueError, match="outside"):
        make_copy_move(image, region, rng, area_range=(0.01, 0.1))
    with pytest.raises(TamperscopeError, match="unknown blend mode 'smudge'"):
        make_copy_move(image, region, rng, blend="smudge")


def test_splice_pair_masks_and_background(rng):
    donor, probe = _image(rng, 80, 100), _image(rng, 90, 110)
    group = AREA_GROUPS["Normal"]
    region = random_shape(rng, donor.shape[:2], group.range)
    res = make_splice_pair(donor, region, probe, rng, area_range=group.range)
    fg = res.foreground_pair()
    pasted = fg.probe_mask.astype(bool)
    np.testing.assert_array_equal(fg.donor_mask, region)
    np.testing.assert_array_equal(fg.probe[pasted], res.warped[pasted])
    np.testing.assert_array_equal(fg.probe[~pasted], probe[~pasted])
    assert group.contains(res.probe_area_fraction)
    bg = background_pair(res)
    np.testing.assert_array_equal(bg.probe_mask, 1 - fg.probe_mask)
    np.testing.assert_array_equal(bg.donor_mask, 1 - fg.probe_mask)
    assert bg.donor is probe and bg.label == 1


def test_splice_raw_keeps_position(rng):
    donor, probe = _image(rng), _image(rng)
    region = np.zeros(donor.shape[:2], np.uint8)
    region[20:40, 30:60] = 1
    res = make_splice_pair(donor, region, probe, rng, transform="raw")
    np.testing.assert_array_equal(res.probe_mask, region)
    np.testing.assert_array_equal(res.probe[20:40, 30:60], donor[20:40, 30:60])


def test_attacks_change_pixels_keep_shape(rng):
    image = _image(rng)
    for spec in (
        "jpeg:30",
        "blur:1.5",
        "noise:5",
        "brightness:20",
        "contrast:0.8",
        "colour_reduction:32",
    ):
        out, _ = apply_attacks(image, parse_attacks(spec), rng)
        assert out.shape == image.shape and out.dtype == np.uint8, spec
        assert (out != image).any(), spec
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[10:50, 20:60] = 2
    out, (small,) = apply_attacks(image, parse_attacks("resize:0.5"), rng, masks=[mask])
    assert out.shape == (48, 64, 3) and small.shape == (48, 64)
    assert set(np.unique(small)) == {0, 2}
    assert abs(int((small == 2).sum()) - 400) <= 45


def test_attack_spec_errors(rng):
    assert parse_attack("color_reduction:64").name == "colour_reduction"
    with pytest.raises(AttackSpecError, match="unknown attack 'sharpen'"):
        parse_attack("sharpen:2")
    with pytest.raises(AttackSpecError, match=r"jpeg takes values in \[1, 100\]"):
        parse_attack("jpeg:120")
    with pytest.raises(AttackSpecError, match="needs a value"):
        parse_attack("blur")
    with pytest.raises(AttackSpecError, match="is not a number"):
        parse_attack("noise:loud")
    drawn = [sample_attacks(rng, 0.5) for _ in range(400)]
    share = np.mean([bool(d) for d in drawn])
    assert abs(share - 0.5) < 0.08
    assert all(a.name != "resize" for d in drawn for a in d)


def test_inpainting_bbox_is_mask_bbox(rng):
    image = _image(rng)
    for kind in ("rect", "free-form"):
        mask, got = sample_inpainting_mask(rng, image.shape[:2], (0.05, 0.2), kind)
        assert got == kind and 0.05 <= mask.mean() <= 0.2
        for method in ("telea", "ns"):
            res = make_inpainting(image, mask, OpenCVInpainter(method, 3))
            ys, xs = np.nonzero(mask)
            assert res.bbox == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            np.testing.assert_array_equal(res.image[mask == 0], image[mask == 0])
            assert (res.image[mask > 0] != image[mask > 0]).any()
    with pytest.raises(TamperscopeError, match="unknown OpenCV inpainting method 'magic'"):
        OpenCVInpainter("magic")
    with pytest.raises(ValueError, match="mask is empty"):
        make_inpainting(image, np.zeros(image.shape[:2], np.uint8))
