"""Single-image splicing: rendering invariants, JPEG histories, generated sets, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _synth_sets import (
    assert_seed_reproducible,
    file_tree,
    manifest_lines,
    write_photos,
)
from typer.testing import CliRunner

from tamperscope.cli import app
from tamperscope.data.base import open_dataset
from tamperscope.errors import DatasetError, TamperscopeError
from tamperscope.io import read_image, read_mask, write_image
from tamperscope.synth import AREA_GROUPS, GenerationError, generate_splice, make_splice
from tamperscope.synth.options import parse_quality_range
from tamperscope.synth.splicing import (
    JpegHistory,
    decode_jpeg,
    encode_jpeg,
    lab_colour_transfer,
    matte_paste,
    prior_compression,
    sample_jpeg_history,
)


def _history(record: dict) -> JpegHistory:
    offset = record["offset"]
    return JpegHistory(record["quality"], (offset[0], offset[1]))


# --- rendering -----------------------------------------------------------------------------


def test_jpeg_round_trip_and_prior_compression_crops_the_grid_offset(rng):
    image = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    data = encode_jpeg(image, 80)
    assert data[:2] == b"\xff\xd8" and data == encode_jpeg(image, 80)
    assert decode_jpeg(data).shape == image.shape
    assert prior_compression(image, JpegHistory()) is image
    shifted = prior_compression(image, JpegHistory(80, (3, 5)))
    np.testing.assert_array_equal(shifted, decode_jpeg(data)[3:, 5:])
    with pytest.raises(TamperscopeError, match="JPEG quality must be between 1 and 100"):
        encode_jpeg(image, 0)


def test_sampled_jpeg_history_respects_probability_and_ranges():
    rng = np.random.default_rng(0)
    never = [sample_jpeg_history(rng, 0.0, (60, 95)) for _ in range(20)]
    assert all(h == JpegHistory() for h in never)
    always = [sample_jpeg_history(rng, 1.0, (60, 95)) for _ in range(50)]
    assert all(60 <= h.quality <= 95 and all(0 <= v < 8 for v in h.offset) for h in always)
    assert len({h.offset for h in always}) > 1
    aligned = sample_jpeg_history(rng, 1.0, (70, 70), grid_offsets=False)
    assert aligned.quality == 70 and aligned.offset == (0, 0)


def test_lab_colour_transfer_moves_region_statistics_to_the_reference(rng):
    patch = np.full((20, 20, 3), (200, 40, 40), np.uint8)
    patch = np.clip(patch + rng.integers(-10, 10, patch.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((20, 20), np.uint8)
    mask[4:16, 4:16] = 1
    reference = np.full((30, 30, 3), (40, 60, 200), np.uint8)
    reference = np.clip(reference + rng.integers(-10, 10, reference.shape), 0, 255)
    reference = reference.astype(np.uint8)
    out = lab_colour_transfer(patch, mask, reference, np.ones((30, 30), np.uint8))
    np.testing.assert_array_equal(out[mask == 0], patch[mask == 0])
    moved = out[mask > 0].astype(float).mean(axis=0)
    assert np.abs(moved - reference.reshape(-1, 3).mean(axis=0)).max() < 12


@pytest.mark.parametrize("blend", ["hard", "feather", "poisson"])
@pytest.mark.parametrize("colour_match", [False, True])
def test_make_splice_mask_is_exactly_the_changed_pixels(rng, blend, colour_match):
    yy, xx = np.mgrid[0:64, 0:80]
    host = np.stack([xx * 3, yy * 2, xx + yy], axis=2).astype(np.uint8)
    donor = rng.integers(0, 256, (56, 72, 3), dtype=np.uint8)
    region = np.zeros((56, 72), np.uint8)
    region[10:30, 12:40] = 1
    result = make_splice(
        host,
        donor,
        region,
        rng,
        area_range=(0.05, 0.3),
        blend=blend,
        colour_match=colour_match,
    )
    changed = (result.image != host).any(axis=2)
    np.testing.assert_array_equal(changed, result.mask.astype(bool))
    assert 0.05 <= result.mask.mean() <= 0.3 and result.area_fraction == result.mask.mean()
    np.testing.assert_array_equal(result.host, host)
    assert result.colour_matched is colour_match
    assert result.params()["colour_match"] is colour_match


def test_make_splice_rejects_bad_inputs(rng):
    host = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="donor_region is empty"):
        make_splice(host, host, np.zeros((32, 32), np.uint8), rng)
    with pytest.raises(ValueError, match="host must be"):
        make_splice(host[..., 0], host, np.ones((32, 32), np.uint8), rng)
    with pytest.raises(ValueError, match="does not match donor"):
        make_splice(host, host, np.ones((8, 8), np.uint8), rng)


# --- generated sets ------------------------------------------------------------------------


def test_png_set_masks_originals_negatives_and_areas(tmp_path):
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "sp"
    summary = generate_splice(
        out,
        n=9,
        seed=3,
        images=str(photos),
        final_format="png",
        negatives=0.34,
        groups="Difficult,Normal",
        host_prior=1.0,
        donor_prior=1.0,
        blend="feather",
    )
    assert summary.written == 9
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "splice" and config["options"]["final_format"] == "png"
    records = manifest_lines(out)
    assert [r["index"] for r in records] == list(range(9))
    assert sum(r["label"] == 0 for r in records) == 3
    for r in records:
        assert r["image"].endswith(".png") and r["mask_kind"] == "binary"
        image, original = read_image(out / r["image"]), read_image(out / r["original"])
        mask = read_mask(out / r["mask"]) > 0
        host = read_image(r["source_image"])
        prior = _history(r["params"]["host_jpeg"])
        assert prior.quality is not None and 60 <= prior.quality <= 95
        np.testing.assert_array_equal(original, prior_compression(host, prior))
        assert r["params"]["final"] == {"format": "png", "quality": None}
        if r["label"] == 0:
            assert not mask.any() and r["group"] is None and r["bbox"] is None
            assert r["donor_image"] is None and r["params"]["donor_jpeg"] is None
            np.testing.assert_array_equal(image, original)
            continue
        np.testing.assert_array_equal((image != original).any(axis=2), mask)
        assert r["group"] in ("Difficult", "Normal")
        assert AREA_GROUPS[r["group"]].contains(mask.mean())
        assert r["area_fraction"] == pytest.approx(mask.mean(), abs=1e-6)
        assert r["donor_image"] != r["source_image"]
        assert Path(r["donor_image"]).parent == photos.resolve()
        assert r["params"]["blend"]["mode"] == "feather"
        assert r["params"]["donor_jpeg"]["quality"] is not None
        t = r["params"]["transform"]
        if (t["angle"], t["scale"], t["deformation"]) != (0.0, 1.0, 1.0):
            assert r["params"]["grid_phase"]["donor"] is None
        ys, xs = np.nonzero(mask)
        assert r["bbox"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_rigid_paste_copies_the_compressed_donor_and_records_grid_phases(tmp_path):
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "sp"
    generate_splice(
        out,
        n=4,
        seed=5,
        images=str(photos),
        transform="shift",
        colour_match=0.0,
        host_prior=1.0,
        donor_prior=1.0,
        final_format="png",
    )
    for r in manifest_lines(out):
        p = r["params"]
        host_jpeg, donor_jpeg = _history(p["host_jpeg"]), _history(p["donor_jpeg"])
        donor = prior_compression(read_image(r["donor_image"]), donor_jpeg)
        image, mask = read_image(out / r["image"]), read_mask(out / r["mask"]) > 0
        (dy, dx), (x, y) = donor_jpeg.offset, p["xy"]
        bx, by = p["donor_bbox"][0], p["donor_bbox"][1]  # before the donor's crop
        ys, xs = np.nonzero(mask)
        np.testing.assert_array_equal(image[ys, xs], donor[ys - y + by - dy, xs - x + bx - dx])
        # donor pixel row (before its crop) of final row v is v - y + by; its grid is at 0
        row, col = p["grid_phase"]["donor"]
        assert (row - y + by) % 8 == 0 and (col - x + bx) % 8 == 0
        hy, hx = host_jpeg.offset
        assert p["grid_phase"]["host"] == [(-hy) % 8, (-hx) % 8]


def test_jpeg_final_format_and_negatives_share_the_final_compression(tmp_path):
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "sp"
    generate_splice(
        out, n=6, seed=1, images=str(photos), negatives=0.5, final_quality="75-85", host_prior=0.5
    )
    records = manifest_lines(out)
    assert {r["label"] for r in records} == {0, 1}
    for r in records:
        data = (out / r["image"]).read_bytes()
        assert r["image"].endswith(".jpg") and data[:2] == b"\xff\xd8"
        final = r["params"]["final"]
        assert final["format"] == "jpeg" and 75 <= final["quality"] <= 85
        image = read_image(out / r["image"])
        assert image.shape == (r["height"], r["width"], 3)
        if r["label"] == 0:
            original = read_image(out / r["original"])
            assert data == encode_jpeg(original, final["quality"])


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    photos = write_photos(tmp_path / "photos")
    kwargs = {"images": str(photos), "negatives": 0.25, "colour_match": 0.5}
    assert_seed_reproducible(generate_splice, tmp_path, **kwargs)


def test_skimage_photos_and_separate_donor_pool(tmp_path):
    donors = write_photos(tmp_path / "donors", count=3, seed=9, tint=100)
    out = tmp_path / "sp"
    generate_splice(out, n=4, seed=0, images="skimage", donors=str(donors), max_side=96)
    for r in manifest_lines(out):
        assert r["source_image"].startswith("skimage:")
        assert Path(r["donor_image"]).parent == donors.resolve()


def test_set_opens_with_the_generated_reader(tmp_path):
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "sp"
    generate_splice(out, n=4, seed=2, images=str(photos), negatives=0.5)
    dataset = open_dataset("generated", out)
    assert dataset.mask_kind == "binary" and len(dataset) == 4
    records = manifest_lines(out)
    for i, r in enumerate(records):
        sample = dataset.load(i)
        assert sample["label"] == r["label"] and sample["mask_kind"] == "binary"
        assert sample["mask"] is not None and set(np.unique(sample["mask"])) <= {0, 1}
        assert bool(sample["mask"].any()) == bool(r["label"])
        assert sample["image"].shape[:2] == sample["mask"].shape
        np.testing.assert_array_equal(sample["mask"], read_mask(out / r["mask"]) > 0)
    assert len(open_dataset("generated", out, kind="splice", label=0)) == 2


class _Stop(Exception):
    pass


def test_resume_after_interruption_matches_full_run(tmp_path):
    photos = write_photos(tmp_path / "photos")
    n = 6
    generate_splice(tmp_path / "full", n=n, seed=2, images=str(photos), negatives=0.3)

    def stop_after_three(index, record):
        if index == 2:
            raise _Stop

    out = tmp_path / "part"
    with pytest.raises(_Stop):
        generate_splice(
            out, n=n, seed=2, images=str(photos), negatives=0.3, on_sample=stop_after_three
        )
    assert len(manifest_lines(out)) == 3
    (out / "images" / "000003.jpg").write_bytes(b"garbage")
    with open(out / "manifest.jsonl", "a") as fh:
        fh.write('{"index": 3, "na')
    summary = generate_splice(out, n=n, seed=2, images=str(photos), negatives=0.3, resume=True)
    assert summary.skipped == 3 and summary.written == 3
    assert file_tree(out) == file_tree(tmp_path / "full")
    with pytest.raises(GenerationError, match="final_format"):
        generate_splice(out, n=n, seed=2, images=str(photos), negatives=0.3, final_format="png")


def test_unreadable_photo_is_skipped_and_reported(tmp_path, caplog):
    photos = write_photos(tmp_path / "photos")
    (photos / "photo9.png").write_bytes(b"not a png")
    summary = generate_splice(tmp_path / "sp", n=6, seed=0, images=str(photos))
    assert summary.written == 6 and len(summary.bad_images) == 1
    assert "photo9.png" in summary.bad_images[0]
    assert all("photo9" not in r["source_image"] for r in manifest_lines(tmp_path / "sp"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"final_format": "gif"}, "unknown final format 'gif'; choose from jpeg, png"),
        ({"prior_quality": "95-60"}, "prior JPEG quality must lie in 1-100 with low <= high"),
        ({"final_quality": "high"}, "final JPEG quality must be a quality or a range"),
        ({"final_quality": (0, 90)}, "final JPEG quality must lie in 1-100"),
        ({"host_prior": 1.5}, "host prior JPEG probability must be between 0 and 1"),
        ({"donor_prior": -0.1}, "donor prior JPEG probability must be between 0 and 1"),
        ({"colour_match": 2}, "colour match probability must be between 0 and 1"),
        ({"negatives": 1.2}, "negatives fraction must be between 0 and 1"),
        ({"blend": "soft"}, "unknown blend mode 'soft'"),
        ({"regions": "bsds500"}, "the 'skimage' photos have no labels"),
    ],
)
def test_bad_options_give_clear_errors(tmp_path, overrides, message):
    with pytest.raises(TamperscopeError, match=message):
        generate_splice(tmp_path / "sp", n=1, images="skimage", **overrides)


def test_bad_pools_give_clear_errors(tmp_path):
    one = tmp_path / "one"
    write_photos(one, count=1)
    with pytest.raises(GenerationError, match="at least two photos"):
        generate_splice(tmp_path / "a", n=1, images=str(one))
    with pytest.raises(DatasetError, match="image folder does not exist"):
        generate_splice(tmp_path / "b", n=1, images="skimage", donors=str(tmp_path / "none"))
    with pytest.raises(TypeError, match="unknown SpliceImageOptions field"):
        generate_splice(tmp_path / "c", n=1, images="skimage", colour="lab")


def test_quality_ranges_parse():
    assert parse_quality_range("60-95", "q") == (60, 95)
    assert parse_quality_range("75", "q") == (75, 75)
    assert parse_quality_range(80, "q") == (80, 80)
    assert parse_quality_range([70, 90], "q") == (70, 90)


def test_cli_runs_end_to_end_and_reports_errors(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["synth", "splice", "--images", "skimage", "--out", str(out), "-n", "3"]
    args += ["--max-side", "96", "--final-format", "png", "--negatives", "0.34"]
    args += ["--prior-quality", "70-90", "--blend", "poisson", "--no-grid-offsets"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 samples written" in result.output
    records = manifest_lines(out)
    assert len(records) == 3 and all(r["image"].endswith(".png") for r in records)
    assert all(r["params"]["host_jpeg"]["offset"] == [0, 0] for r in records)
    config = json.loads((out / "config.json").read_text())["options"]
    assert config["prior_quality"] == [70, 90] and config["blend"] == "poisson"
    bad = runner.invoke(
        app,
        ["synth", "splice", "--images", "skimage", "--out", str(tmp_path / "x"), "-n", "1"]
        + ["--final-quality", "50-200"],
    )
    assert bad.exit_code == 1
    assert "final JPEG quality must lie in 1-100" in bad.output
    assert "splice" in runner.invoke(app, ["synth", "--help"]).output


def test_cli_mask_folder_regions_and_donor_pool(tmp_path):
    root = _mask_root(tmp_path / "set", "instances")
    moved = tmp_path / "instance-maps"
    (root / "masks").rename(moved)
    out = tmp_path / "cli"
    args = ["synth", "splice", "--images", "skimage", "--donors", str(root), "--out", str(out)]
    args += ["-n", "2", "--regions", "instances", "--masks-dir", str(moved), "--max-side", "96"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    records = manifest_lines(out)
    assert all(Path(r["donor_image"]).parent == (root / "images").resolve() for r in records)
    assert all(r["params"]["region_source"] == "instances" for r in records)


# --- mask-folder region sources ------------------------------------------------------------


def _mask_root(root: Path, mode: str) -> Path:
    """``root/images/photoK.png`` and ``root/{masks,alpha}/photoK.png`` in the given mode."""
    write_photos(root / "images", count=3)
    folder = root / ("alpha" if mode == "mattes" else "masks")
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[0:72, 0:96]
    for k in range(3):
        if mode == "instances":
            mask = np.zeros((72, 96), np.uint8)
            mask[8:26, 10:36] = 1
            mask[40:66, 50:90] = 2 + k
        else:
            dist = np.hypot(yy - 36, xx - 30 - 10 * k)
            alpha = np.clip((13 - dist) * 40, 0, 255)
            mask = alpha.astype(np.uint8) if mode == "mattes" else (alpha >= 128) * np.uint8(255)
        write_image(folder / f"photo{k}.png", mask)
    return root


@pytest.mark.parametrize("mode", ["instances", "masks", "mattes"])
def test_mask_folder_regions(tmp_path, mode):
    root = _mask_root(tmp_path / "set", mode)
    out = tmp_path / "sp"
    generate_splice(
        out, n=4, seed=0, images=str(root), regions=mode, final_format="png", transform="shift"
    )
    folder = root / ("alpha" if mode == "mattes" else "masks")
    for r in manifest_lines(out):
        donor = Path(r["donor_image"])
        assert donor.parent == (root / "images").resolve()
        labels = read_mask(folder / f"{donor.stem}.png")
        regions = (
            [labels == v for v in np.unique(labels) if v]
            if mode == "instances"
            else [labels >= 128]
        )
        mask = read_mask(out / r["mask"]) > 0
        x0, y0, x1, y1 = r["params"]["donor_bbox"]
        boxes = []
        for region in regions:
            ys, xs = np.nonzero(region)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        # a pure shift keeps the region's pixels: the visible paste is at most its size
        assert [x0, y0, x1, y1] in boxes and mask.sum() <= max(g.sum() for g in regions)
        image, original = read_image(out / r["image"]), read_image(out / r["original"])
        np.testing.assert_array_equal((image != original).any(axis=2), mask)
        assert r["params"]["blend"]["mode"] == ("matte" if mode == "mattes" else "hard")


def test_mattes_can_use_the_blend_instead(tmp_path):
    root = _mask_root(tmp_path / "set", "mattes")
    out = tmp_path / "sp"
    generate_splice(
        out, n=2, seed=0, images=str(root), regions="mattes", use_mattes=False, blend="feather"
    )
    assert all(r["params"]["blend"]["mode"] == "feather" for r in manifest_lines(out))


def test_matte_paste_composites_with_the_alpha():
    host = np.full((6, 8, 3), 100, np.uint8)
    patch = np.full((2, 3, 3), 200, np.uint8)
    alpha = np.array([[0.0, 0.5, 1.0], [1.0, 0.25, 0.0]], np.float32)
    out = matte_paste(host, patch, alpha, (4, 2))
    np.testing.assert_array_equal(out[2:4, 4:7, 0], [[100, 150, 200], [200, 125, 100]])
    outside = np.ones((6, 8), bool)
    outside[2:4, 4:7] = False
    np.testing.assert_array_equal(out[outside], host[outside])


def test_mask_folder_errors(tmp_path):
    root = _mask_root(tmp_path / "set", "masks")
    with pytest.raises(DatasetError, match="mask folder does not exist"):
        generate_splice(tmp_path / "a", n=1, images=str(root), regions="mattes")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no mask named <photo name>.png"):
        generate_splice(
            tmp_path / "b", n=1, images=str(root), regions="masks", masks_dir=str(empty)
        )


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("folder", "regions"),
    [("coco128-seg", "instances"), ("human-seg", "masks"), ("p3m-mattes", "mattes")],
)
def test_realdata_mask_folders(tmp_path, shared_data, folder, regions):
    root = shared_data / "natural" / folder
    out = tmp_path / folder
    generate_splice(
        out,
        n=3,
        seed=0,
        images=str(root),
        regions=regions,
        groups="Difficult,Normal",
        max_side=256,
        max_image_tries=10,
    )
    for r in manifest_lines(out):
        assert Path(r["donor_image"]).parent == (root / "images").resolve()
        mask = read_mask(out / r["mask"]) > 0
        assert AREA_GROUPS[r["group"]].contains(mask.mean())
        assert read_image(out / r["image"]).shape[:2] == mask.shape
