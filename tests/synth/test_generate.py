"""Generated sets: layout, reproducibility, resume, region sources, CLI."""

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
from tamperscope.errors import DatasetError, TamperscopeError
from tamperscope.io import read_mask, write_image
from tamperscope.synth import (
    AREA_GROUPS,
    GenerationError,
    generate_copy_move,
    generate_inpainting,
    generate_splice_pairs,
)
from tamperscope.synth.attacks import AttackSpecError


def test_copy_move_set_layout_and_masks(tmp_path):
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "cm"
    summary = generate_copy_move(
        out, n=6, seed=3, images=str(photos), negatives=0.34, groups="Difficult,Normal"
    )
    assert summary.written == 6
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "copy-move" and config["seed"] == 3 and config["n"] == 6
    records = manifest_lines(out)
    assert [r["index"] for r in records] == list(range(6))
    assert sum(r["label"] == 0 for r in records) == 2
    for r in records:
        mask = read_mask(out / r["mask"])
        original = np.asarray(read_mask(out / r["original"]))
        image = np.asarray(read_mask(out / r["image"]))
        assert r["mask_kind"] == "three_class" and r["source_image"].startswith(str(photos))
        if r["label"] == 0:
            assert not mask.any() and r["group"] is None
            np.testing.assert_array_equal(image, original)
            continue
        source, target = mask == 1, mask == 2
        assert source.any() and target.any() and set(np.unique(mask)) == {0, 1, 2}
        group = AREA_GROUPS[r["group"]]
        assert r["group"] in ("Difficult", "Normal")
        assert group.contains(source.mean()) and group.contains(target.mean())
        np.testing.assert_array_equal(image[~target], original[~target])


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    photos = write_photos(tmp_path / "photos")
    kwargs = {"images": str(photos), "random_attacks": 0.5}
    assert_seed_reproducible(generate_copy_move, tmp_path, **kwargs)


def test_sample_depends_only_on_seed_and_index(tmp_path):
    photos = write_photos(tmp_path / "photos")
    generate_copy_move(tmp_path / "short", n=2, seed=5, images=str(photos))
    generate_copy_move(tmp_path / "long", n=4, seed=5, images=str(photos))
    for name in ("images/000000.png", "images/000001.png", "masks/000001.png"):
        assert (tmp_path / "short" / name).read_bytes() == (tmp_path / "long" / name).read_bytes()


class _Stop(Exception):
    pass


@pytest.mark.parametrize("kind", ["copy-move", "splice-pair", "inpainting"])
def test_resume_after_interruption_matches_full_run(tmp_path, kind):
    photos = write_photos(tmp_path / "photos")
    generate = {
        "copy-move": generate_copy_move,
        "splice-pair": generate_splice_pairs,
        "inpainting": generate_inpainting,
    }[kind]
    n = 6
    generate(tmp_path / "full", n=n, seed=2, images=str(photos))

    def stop_after_three(index, record):
        if index == 2:
            raise _Stop

    out = tmp_path / "part"
    with pytest.raises(_Stop):
        generate(out, n=n, seed=2, images=str(photos), on_sample=stop_after_three)
    assert len(manifest_lines(out)) == 3
    # A stray, half-finished file of sample 3 and a torn manifest line.
    folder = "probes" if kind == "splice-pair" else "images"
    (out / folder / "000003.png").write_bytes(b"garbage")
    with open(out / "manifest.jsonl", "a") as fh:
        fh.write('{"index": 3, "na')
    summary = generate(out, n=n, seed=2, images=str(photos), resume=True)
    assert summary.skipped == 3 and summary.written == 3
    records = manifest_lines(out)
    assert [r["index"] for r in records] == list(range(n))
    assert file_tree(out) == file_tree(tmp_path / "full")


def test_refuses_other_config_and_bad_folders(tmp_path):
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "cm"
    generate_copy_move(out, n=2, seed=1, images=str(photos))
    with pytest.raises(GenerationError, match=r"different config \(seed: 1 in the folder, 2 now"):
        generate_copy_move(out, n=2, seed=2, images=str(photos))
    with pytest.raises(GenerationError, match="nothing to resume"):
        generate_copy_move(tmp_path / "new", n=2, seed=1, images=str(photos), resume=True)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(GenerationError, match="not empty and holds no config.json"):
        generate_copy_move(tmp_path / "full", n=2, images=str(photos))
    with pytest.raises(DatasetError, match="image folder does not exist"):
        generate_copy_move(tmp_path / "o", n=2, images=str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images found"):
        generate_copy_move(tmp_path / "o", n=2, images=str(tmp_path / "empty"))
    with pytest.raises(AttackSpecError, match="unknown attack 'sharpen'"):
        generate_copy_move(tmp_path / "o", n=2, images=str(photos), attacks="sharpen:1")
    with pytest.raises(TamperscopeError, match="copy-move cannot use transform 'raw'"):
        generate_copy_move(tmp_path / "o", n=2, images=str(photos), transform="raw")
    with pytest.raises(TamperscopeError, match="negatives fraction must be between 0 and 1"):
        generate_copy_move(tmp_path / "o", n=2, images=str(photos), negatives=1.5)
    assert not (tmp_path / "o").exists()


def test_unreadable_photo_is_skipped_and_reported(tmp_path, caplog):
    photos = write_photos(tmp_path / "photos", count=3)
    (photos / "broken.png").write_bytes(b"not a png")
    summary = generate_copy_move(tmp_path / "cm", n=4, seed=0, images=str(photos))
    assert summary.written == 4
    assert any("broken.png" in line for line in summary.bad_images)
    assert "broken.png" in caplog.text
    assert all("broken" not in r["source_image"] for r in manifest_lines(tmp_path / "cm"))


def test_splice_thirds_and_masks(tmp_path):
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "sp"
    generate_splice_pairs(out, n=6, seed=4, images=str(photos), size=(80, 64), attacks="jpeg:90")
    records = manifest_lines(out)
    assert [r["pair_type"] for r in records] == ["foreground", "background", "negative"] * 2
    assert [r["label"] for r in records] == [1, 1, 0] * 2
    for fg, bg in ((records[0], records[1]), (records[3], records[4])):
        fg_probe = read_mask(out / fg["probe"])
        assert fg_probe.shape == (64, 80, 3)
        assert (out / fg["probe"]).read_bytes() == (out / bg["probe"]).read_bytes()
        pasted = read_mask(out / fg["probe_mask"]) // 255
        assert set(np.unique(pasted)) == {0, 1}
        np.testing.assert_array_equal(read_mask(out / bg["probe_mask"]) // 255, 1 - pasted)
        np.testing.assert_array_equal(read_mask(out / bg["donor_mask"]) // 255, 1 - pasted)
        assert bg["donor_source"] == fg["probe_source"]
        assert read_mask(out / fg["donor_mask"]).any()
        assert fg["params"]["attacks"] == ["jpeg:90"]
    for neg in (records[2], records[5]):
        assert not read_mask(out / neg["probe_mask"]).any()
        assert not read_mask(out / neg["donor_mask"]).any()
        assert neg["probe_source"] != neg["donor_source"]


@pytest.mark.parametrize("family", ["raw", "rotation", "scale", "luminance", "combination"])
def test_splice_forced_transform(tmp_path, family):
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / family
    generate_splice_pairs(
        out, n=1, seed=0, images=str(photos), transform=family, groups="Difficult"
    )
    (record,) = manifest_lines(out)
    applied = record["params"]["transform"]["applied"]
    if family == "combination":
        assert len(applied) >= 3
    else:
        assert applied == ([] if family == "raw" else [family])


def test_inpainting_set_bbox_and_negatives(tmp_path):
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "inp"
    generate_inpainting(
        out, n=6, seed=1, images=str(photos), negatives=0.5, inpainter="both", attacks="resize:0.5"
    )
    records = manifest_lines(out)
    assert sum(r["label"] == 0 for r in records) == 3
    for r in records:
        mask = read_mask(out / r["mask"])
        image = read_mask(out / r["image"])
        assert mask.shape == image.shape[:2] == (36, 48)
        assert set(np.unique(mask)) <= {0, 255}
        if r["label"] == 0:
            assert r["bbox"] is None and not mask.any() and r["inpainter"] is None
        else:
            ys, xs = np.nonzero(mask)
            assert r["bbox"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            assert r["inpainter"] in ("opencv-telea", "opencv-ns")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools and NumPy 2
def test_coco_regions(tmp_path):
    photos = write_photos(tmp_path / "coco_images", count=2)
    ann = {
        "images": [
            {"id": i + 1, "file_name": f"photo{i}.png", "height": 72, "width": 96} for i in range(2)
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 0,
                "area": 200.0,
                "bbox": [10, 10, 20, 20],
                "segmentation": [[10, 10, 30, 10, 30, 30, 10, 30]],
            },
            {
                "id": 2,
                "image_id": 2,
                "category_id": 1,
                "iscrowd": 0,
                "area": 300.0,
                "bbox": [50, 20, 25, 20],
                "segmentation": [[50, 20, 75, 20, 62, 40]],
            },
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }
    ann_file = tmp_path / "instances.json"
    ann_file.write_text(json.dumps(ann))
    out = tmp_path / "cm"
    generate_copy_move(
        out,
        n=2,
        seed=0,
        images=str(photos),
        regions="coco",
        coco_annotations=str(ann_file),
        groups="Difficult",
    )
    for r in manifest_lines(out):
        source = read_mask(out / r["mask"]) == 1
        ys, xs = np.nonzero(source)
        if r["source_image"].endswith("photo0.png"):
            # pycocotools rasterises the 20 x 20 square polygon to 20 x 20 pixels
            assert 10 <= xs.min() <= xs.max() <= 30 and 10 <= ys.min() <= ys.max() <= 30
            assert source.sum() == 400
        else:
            assert 50 <= xs.min() and xs.max() <= 75 and 20 <= ys.min() and ys.max() <= 40
    with pytest.raises(TamperscopeError, match="needs a COCO annotation file"):
        generate_copy_move(tmp_path / "x", n=1, images=str(photos), regions="coco")


def test_label_map_regions(tmp_path):
    photos = write_photos(tmp_path / "photos", count=2)
    labels = np.ones((72, 96), np.uint8)
    labels[10:30, 10:40] = 8  # one car instance
    labels[40:60, 50:70] = 8  # another
    for i in range(2):
        write_image(photos / f"photo{i}.labels.png", labels)
    out = tmp_path / "cm"
    generate_copy_move(out, n=2, seed=0, images=str(photos), regions="camvid", groups="Difficult")
    cars = [(10, 30, 10, 40), (40, 60, 50, 70)]
    for r in manifest_lines(out):
        source = read_mask(out / r["mask"]) == 1
        ys, xs = np.nonzero(source)
        assert (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1) in cars
        assert "labels" not in r["source_image"]
    with pytest.raises(DatasetError, match=r"no image has a label map named <name>\.seg\.png"):
        generate_copy_move(tmp_path / "x", n=1, images=str(photos), regions="bsds500")


def test_group_without_regions_falls_back_to_another_requested_group(tmp_path):
    """Cars of 8.7 % and 5.8 % of the frame: only Difficult exists; drawn Easy falls back."""
    photos = write_photos(tmp_path / "photos", count=2)
    labels = np.ones((72, 96), np.uint8)
    labels[10:30, 10:40] = 8
    labels[40:60, 50:70] = 8
    for i in range(2):
        write_image(photos / f"photo{i}.labels.png", labels)
    out = tmp_path / "cm"
    generate_copy_move(
        out, n=8, seed=0, images=str(photos), regions="camvid", groups="Difficult,Easy"
    )
    records = manifest_lines(out)
    assert len(records) == 8
    assert all(r["group"] == "Difficult" for r in records)
    drawn = [r["params"].get("group_drawn") for r in records]
    assert set(drawn) == {None, "Easy"}  # some samples drew Easy, none could keep it
    for r in records:
        assert AREA_GROUPS["Difficult"].contains((read_mask(out / r["mask"]) == 1).mean())
    with pytest.raises(GenerationError, match="no Easy region"):
        generate_copy_move(tmp_path / "e", n=1, images=str(photos), regions="camvid", groups="Easy")
    # splice pairs: the same fallback for the forged pairs (foreground and background)
    sp = tmp_path / "sp"
    generate_splice_pairs(
        sp, n=12, seed=0, images=str(photos), regions="camvid", groups="Difficult,Easy"
    )
    forged = [r for r in manifest_lines(sp) if r["label"] == 1]
    assert len(forged) == 8 and all(r["group"] == "Difficult" for r in forged)
    assert {r["params"].get("group_drawn") for r in forged} == {None, "Easy"}
    with pytest.raises(GenerationError, match="no Easy region"):
        generate_splice_pairs(
            tmp_path / "spe", n=1, images=str(photos), regions="camvid", groups="Easy"
        )


def test_cli_generates_and_reports_errors(tmp_path):
    runner = CliRunner()
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "cli"
    result = runner.invoke(
        app,
        [
            "synth",
            "copy-move",
            "--images",
            str(photos),
            "--out",
            str(out),
            "-n",
            "2",
            "--seed",
            "1",
            "--attacks",
            "jpeg:80,blur:1",
            "--groups",
            "Difficult",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 samples written" in result.output
    records = manifest_lines(out)
    assert records[0]["params"]["attacks"] == ["jpeg:80", "blur:1"]
    bad = runner.invoke(
        app,
        [
            "synth",
            "copy-move",
            "--images",
            str(photos),
            "--out",
            str(tmp_path / "b"),
            "-n",
            "2",
            "--attacks",
            "jpeg:101",
        ],
    )
    assert bad.exit_code == 1
    assert "Error: attack spec 'jpeg:101': jpeg takes values in [1, 100]" in bad.output
    missing = runner.invoke(
        app,
        [
            "synth",
            "inpainting",
            "--images",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path / "c"),
            "-n",
            "1",
        ],
    )
    assert missing.exit_code == 1 and "image folder does not exist" in missing.output
    size = runner.invoke(
        app,
        [
            "synth",
            "splice-pairs",
            "--images",
            str(photos),
            "--out",
            str(tmp_path / "d"),
            "-n",
            "1",
            "--size",
            "big",
        ],
    )
    assert size.exit_code == 1 and "working size must be WIDTHxHEIGHT" in size.output
    ok = runner.invoke(
        app,
        [
            "synth",
            "splice-pairs",
            "--images",
            "skimage",
            "--out",
            str(tmp_path / "e"),
            "-n",
            "3",
            "--max-side",
            "96",
            "--groups",
            "Difficult",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert len(manifest_lines(tmp_path / "e")) == 3


@pytest.mark.realdata
@pytest.mark.parametrize("dataset", ["bsds500", "camvid"])
def test_realdata_label_maps(tmp_path, shared_data, dataset):
    images = shared_data / "natural" / dataset / "val"
    out = tmp_path / dataset
    groups = "Difficult,Normal" if dataset == "bsds500" else "Difficult,Normal,Easy"
    generate_copy_move(
        out,
        n=3,
        seed=0,
        images=str(images),
        regions=dataset,
        groups=groups,
        max_tries=10,
        max_image_tries=10,
    )
    for r in manifest_lines(out):
        mask = read_mask(out / r["mask"])
        source, target = mask == 1, mask == 2
        assert source.any() and target.any() and not (source & target).any()
        assert AREA_GROUPS[r["group"]].contains(source.mean())
        assert Path(r["source_image"]).parent == images.resolve()
    generate_splice_pairs(
        tmp_path / f"{dataset}-sp",
        n=3,
        seed=0,
        images=str(images),
        regions=dataset,
        groups="Difficult",
        size=(240, 160),
    )
    assert len(manifest_lines(tmp_path / f"{dataset}-sp")) == 3
