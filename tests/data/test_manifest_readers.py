"""Manifest readers: generic CSV/JSONL manifests and the sets written by `tamperscope synth`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tamperscope.data import GeneratedDataset, GeneratedPairDataset, open_dataset
from tamperscope.errors import DatasetError


def _img(path: Path, rng: np.random.Generator, h: int = 12, w: int = 14) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).save(path)


def _mask(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values.astype(np.uint8)).save(path)


def _labels() -> np.ndarray:
    m = np.zeros((12, 14), np.uint8)
    m[1:4, 1:4] = 1
    m[6:9, 8:11] = 2
    return m


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


# ---------------------------------------------------------------- generic manifest


def test_csv_manifest_labels_default_from_mask(tmp_path, rng):
    for n in "abc":
        _img(tmp_path / "img" / f"{n}.png", rng)
    _mask(tmp_path / "m" / "a.png", (_labels() > 0) * 255)
    _mask(tmp_path / "m" / "b.png", np.zeros((12, 14)))
    (tmp_path / "list.csv").write_text(
        "image,mask,label,note\nimg/a.png,m/a.png,,x\nimg/b.png,m/b.png,,y\nimg/c.png,,,z\n"
    )
    ds = open_dataset("manifest", tmp_path / "list.csv")
    assert ds.names() == ["img/a", "img/b", "img/c"]
    assert [s["label"] for s in ds] == [1, 0, -1]
    assert ds[0]["meta"]["note"] == "x" and ds[2]["mask"] is None
    np.testing.assert_array_equal(ds[0]["mask"], _labels() > 0)


def test_jsonl_manifest_three_class_in_folder(tmp_path, rng):
    _img(tmp_path / "a.png", rng)
    _mask(tmp_path / "a_m.png", _labels())
    _jsonl(
        tmp_path / "manifest.jsonl",
        [{"image": "a.png", "mask": "a_m.png", "mask_kind": "three_class", "name": "first"}],
    )
    ds = open_dataset("manifest", tmp_path)
    assert ds.mask_kind == "three_class" and ds.names() == ["first"]
    np.testing.assert_array_equal(ds[0]["mask"], _labels())
    assert ds[0]["label"] == 1


def test_manifest_pairs(tmp_path, rng):
    _img(tmp_path / "p.png", rng)
    _img(tmp_path / "d.png", rng, 10, 10)
    _mask(tmp_path / "pm.png", (_labels() > 0) * 255)
    (tmp_path / "pairs.csv").write_text(
        "probe,donor,probe_mask,donor_mask,label\np.png,d.png,pm.png,,\np.png,p.png,,,0\n"
    )
    ds = open_dataset("manifest", tmp_path / "pairs.csv")
    assert ds.names() == ["p__d", "p__p"]
    pair = ds[0]
    assert pair["label"] == 1 and pair["donor"].shape == (10, 10, 3)
    assert pair["donor_mask"] is None and pair["pair_type"] == "unknown"
    assert ds[1]["label"] == 0


def test_manifest_errors(tmp_path):
    with pytest.raises(DatasetError, match="no manifest file"):
        open_dataset("manifest", tmp_path)
    (tmp_path / "m.jsonl").write_text('{"image": "a.png"}\n{oops\n')
    with pytest.raises(DatasetError, match="m.jsonl:2: not valid JSON"):
        open_dataset("manifest", tmp_path / "m.jsonl")
    (tmp_path / "m.csv").write_text("mask\nx.png\n")
    with pytest.raises(DatasetError, match="row 1 has no 'image'"):
        open_dataset("manifest", tmp_path / "m.csv")
    (tmp_path / "l.csv").write_text("image,label\na.png,maybe\n")
    with pytest.raises(DatasetError, match="label must be 0, 1 or -1, got 'maybe'"):
        open_dataset("manifest", tmp_path / "l.csv")
    (tmp_path / "k.csv").write_text("image,mask_kind\na.png,heatmap\n")
    with pytest.raises(DatasetError, match="mask_kind must be binary or three_class"):
        open_dataset("manifest", tmp_path / "k.csv")
    (tmp_path / "d.csv").write_text("image,name\na.png,x\nb.png,x\n")
    with pytest.raises(DatasetError, match="duplicate sample names"):
        open_dataset("manifest", tmp_path / "d.csv")
    (tmp_path / "p.csv").write_text("probe,donor\na.png,\n")
    with pytest.raises(DatasetError, match="needs both 'probe' and 'donor'"):
        open_dataset("manifest", tmp_path / "p.csv")
    (tmp_path / "e.csv").write_text("image\n")
    with pytest.raises(DatasetError, match="manifest has no rows"):
        open_dataset("manifest", tmp_path / "e.csv")


# ---------------------------------------------------------------- generated sets


def _generated(out: Path, rng) -> None:
    rows = []
    for i in range(3):
        _img(out / "images" / f"cm{i}.png", rng)
        _img(out / "originals" / f"cm{i}.png", rng)
        _mask(out / "masks" / f"cm{i}.png", _labels() if i < 2 else np.zeros((12, 14)))
        rows.append(
            {
                "index": i,
                "name": f"cm{i}",
                "kind": "copy-move",
                "image": f"images/cm{i}.png",
                "mask": f"masks/cm{i}.png",
                "original": f"originals/cm{i}.png",
                "label": 1 if i < 2 else 0,
                "mask_kind": "three_class",
                "group": "train" if i == 0 else "val",
                "area_fraction": 0.1,
                "params": {"transform": {"name": "rotate" if i == 1 else "translate"}},
            }
        )
    _img(out / "images" / "in0.png", rng)
    _mask(out / "masks" / "in0.png", (_labels() > 0) * 255)
    rows.append(
        {
            "index": 3,
            "name": "in0",
            "kind": "inpainting",
            "image": "images/in0.png",
            "mask": "masks/in0.png",
            "original": None,
            "label": 1,
            "mask_kind": "binary",
            "bbox": [1, 1, 11, 9],
            "group": "train",
        }
    )
    for j, ptype in enumerate(("foreground", "negative")):
        _img(out / "pairs" / f"p{j}.png", rng)
        _img(out / "pairs" / f"d{j}.png", rng)
        _mask(out / "pairs" / f"pm{j}.png", (_labels() > 0) * 255 * (ptype != "negative"))
        _mask(out / "pairs" / f"dm{j}.png", (_labels() > 0) * 255 * (ptype != "negative"))
        rows.append(
            {
                "index": 4 + j,
                "name": f"pair{j}",
                "kind": "splice-pair",
                "probe": f"pairs/p{j}.png",
                "donor": f"pairs/d{j}.png",
                "probe_mask": f"pairs/pm{j}.png",
                "donor_mask": f"pairs/dm{j}.png",
                "label": int(ptype != "negative"),
                "pair_type": ptype,
                "group": "train",
                "transform": "scale",
            }
        )
    (out / "config.json").write_text(json.dumps({"seed": 7}))
    _jsonl(out / "manifest.jsonl", rows)


def test_generated_single_images(tmp_path, rng):
    _generated(tmp_path, rng)
    ds = open_dataset("generated", tmp_path, load_original=True)
    assert isinstance(ds, GeneratedDataset) and ds.config == {"seed": 7}
    assert ds.names() == ["cm0", "cm1", "cm2", "in0"] and ds.mask_kind == "binary"
    cm = ds[0]
    assert cm["mask_kind"] == "three_class" and cm["original"].shape == (12, 14, 3)
    np.testing.assert_array_equal(cm["mask"], _labels())
    assert cm["meta"]["area_fraction"] == 0.1 and cm["bbox"] is None
    inp = ds[3]
    assert inp["mask_kind"] == "binary" and inp["bbox"] == (1, 1, 11, 9)
    np.testing.assert_array_equal(inp["mask"], _labels() > 0)


def test_generated_filters(tmp_path, rng):
    _generated(tmp_path, rng)
    cm = open_dataset("generated", tmp_path, kind="copy-move")
    assert cm.mask_kind == "three_class"
    assert open_dataset("generated", tmp_path, group="val").names() == ["cm1", "cm2"]
    assert open_dataset("generated", tmp_path, transform="rotate").names() == ["cm1"]
    assert open_dataset("generated", tmp_path, label=0).names() == ["cm2"]
    binary = open_dataset("generated", tmp_path, kind="copy-move", binary=True)
    assert binary.mask_kind == "binary"
    np.testing.assert_array_equal(binary[0]["mask"], _labels() > 0)


def test_generated_pairs(tmp_path, rng):
    _generated(tmp_path, rng)
    pairs = open_dataset("generated-pairs", tmp_path)
    assert isinstance(pairs, GeneratedPairDataset) and pairs.names() == ["pair0", "pair1"]
    p = pairs[0]
    assert p["label"] == 1 and p["pair_type"] == "foreground"
    np.testing.assert_array_equal(p["probe_mask"], _labels() > 0)
    assert p["meta"]["transform"] == "scale"
    assert open_dataset("generated-pairs", tmp_path, pair_type="negative").names() == ["pair1"]
    assert len(open_dataset("generated-pairs", tmp_path, transform="scale")) == 2


def test_generated_pairs_auto_detected(tmp_path, rng):
    _generated(tmp_path, rng)
    rows = [json.loads(x) for x in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    _jsonl(tmp_path / "manifest.jsonl", [r for r in rows if r["kind"] == "splice-pair"])
    assert isinstance(open_dataset("generated", tmp_path), GeneratedPairDataset)


def test_generated_errors(tmp_path, rng):
    with pytest.raises(DatasetError, match="not a generated set: expected manifest.jsonl"):
        open_dataset("generated", tmp_path)
    _generated(tmp_path, rng)
    with pytest.raises(DatasetError, match="kind must be one of copy-move, inpainting"):
        open_dataset("generated", tmp_path, kind="splicing")
    with pytest.raises(DatasetError, match="match the filters"):
        open_dataset("generated", tmp_path, group="test")
    with pytest.raises(DatasetError, match="no splice-pair lines"):
        open_dataset("generated-pairs", tmp_path, group="test")
