"""Folder-layout readers, each on a tiny copy of its benchmark's layout built in tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tamperscope.data import open_dataset
from tamperscope.errors import DatasetError, ImageReadError

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _img(path: Path, rng: np.random.Generator, h: int = 16, w: int = 20) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return arr


def _grey(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((mask > 0).astype(np.uint8) * 255).save(path)


def _colour(path: Path, labels: np.ndarray) -> None:
    palette = np.array([BLUE, GREEN, RED], dtype=np.uint8)
    Image.fromarray(palette[labels]).save(path)


def _blocks(h: int = 16, w: int = 20) -> np.ndarray:
    labels = np.zeros((h, w), np.uint8)
    labels[2:6, 2:6] = 1
    labels[8:12, 10:14] = 2
    return labels


# ---------------------------------------------------------------- COVERAGE


def _coverage(root: Path, rng, *, paste_only: bool = False) -> None:
    labels = _blocks()
    for n in (1, 2, 10):
        _img(root / "image" / f"{n}.tif", rng)
        _img(root / "image" / f"{n}t.tif", rng)
        _grey(root / "mask" / f"{n}copy.tif", labels == 1)
        _grey(root / "mask" / f"{n}{'paste' if paste_only else 'forged'}.tif", labels == 2)


def test_coverage_three_class_and_authentic(tmp_path, rng):
    _coverage(tmp_path, rng)
    ds = open_dataset("coverage", tmp_path)
    assert ds.names() == ["1t", "2t", "10t", "1", "2", "10"]
    s = ds[0]
    np.testing.assert_array_equal(s["mask"], _blocks())
    assert s["label"] == 1 and s["mask_kind"] == "three_class"
    assert s["meta"]["target_mask"] == "1forged.tif"
    assert ds[3]["label"] == 0 and not ds[3]["mask"].any()
    assert len(open_dataset("coverage", tmp_path, include_authentic=False)) == 3


def test_coverage_paste_masks_and_resize_warning(tmp_path, rng):
    _coverage(tmp_path, rng, paste_only=True)
    _grey(tmp_path / "mask" / "2copy.tif", np.ones((8, 10), np.uint8))  # half size
    ds = open_dataset("coverage", tmp_path, load_original=True)
    assert ds[0]["meta"]["target_mask"] == "1paste.tif"
    assert ds[0]["original"].shape == (16, 20, 3)
    with pytest.warns(UserWarning, match="2copy.tif: mask is 10x8 but its image is 20x16"):
        s = ds[1]
    assert s["mask"].shape == (16, 20)


def test_coverage_errors(tmp_path, rng):
    with pytest.raises(DatasetError, match="not a COVERAGE folder"):
        open_dataset("coverage", tmp_path)
    (tmp_path / "image").mkdir()
    (tmp_path / "mask").mkdir()
    with pytest.raises(DatasetError, match="no forged images named Nt.tif"):
        open_dataset("coverage", tmp_path)
    with pytest.raises(DatasetError, match="target_mask must be"):
        open_dataset("coverage", tmp_path, target_mask="copy")
    _img(tmp_path / "image" / "3t.tif", rng)
    _img(tmp_path / "image" / "4t.tif", rng)
    _grey(tmp_path / "mask" / "4copy.tif", _blocks() == 1)
    _grey(tmp_path / "mask" / "4forged.tif", _blocks() == 2)
    with pytest.warns(UserWarning, match="1 image\\(s\\) have no mask file \\(3t.tif\\); skipped"):
        ds = open_dataset("coverage", tmp_path)
    assert ds.names() == ["4t"]


# ---------------------------------------------------------------- CASIA


def test_casia_v1_per_type_folders(tmp_path, rng):
    cm = "Sp_S_CNN_A_nat0078_nat0078_0004"
    sp = "Sp_D_CNN_A_art0024_ani0032_0268"
    for kind, stem in (("CM", cm), ("Sp", sp)):
        _img(tmp_path / kind / "authentic" / f"{stem}.png", rng)
        _img(tmp_path / kind / "tampered" / f"{stem}.png", rng)
        _grey(tmp_path / kind / "mask" / f"{stem}_gt.png", _blocks() > 0)
    ds = open_dataset("casia", tmp_path)
    assert len(ds) == 4
    assert f"CM/authentic/{cm}" in ds.names() and f"CM/tampered/{cm}" in ds.names()
    tampered = ds[ds.names().index(f"Sp/tampered/{sp}")]
    assert tampered["label"] == 1 and tampered["meta"]["forgery"] == "splicing"
    np.testing.assert_array_equal(tampered["mask"], _blocks() > 0)
    cm_only = open_dataset("casia", tmp_path, subset="copy_move")
    assert sorted(cm_only.names()) == [f"CM/authentic/{cm}", f"CM/tampered/{cm}"]
    assert {s["meta"]["version"] for s in cm_only} == {1}


def test_casia_v2_flat_with_name_slips(tmp_path, rng):
    exact = "Tp_S_NRN_S_N_pla20088_pla20088_01988"
    case_ext = "Tp_D_CRN_M_N_pla00035_pla00033_10997"
    no_gt = "Tp_D_NNN_S_B_art00097_cha00047_01384"
    serial = "Tp_S_NNN_S_O_pla00077_pla00077_11212"
    for stem in (exact, case_ext, no_gt, serial):
        _img(tmp_path / f"{stem}.tif", rng)
    _img(tmp_path / "Au_ani_00001.jpg", rng)
    _grey(tmp_path / f"{exact}_gt.png", _blocks() > 0)
    _grey(tmp_path / "gt" / f"{case_ext.upper()}_GT.BMP", _blocks() > 0)
    _grey(tmp_path / "gt" / f"{no_gt}.png", _blocks() > 0)
    _grey(tmp_path / "gt" / "Tp_S_NNN_S_O_pla00078_pla00077_11212_gt.png", _blocks() > 0)
    with pytest.warns(UserWarning, match="1 mask\\(s\\) matched by serial number only"):
        ds = open_dataset("casia", tmp_path)
    assert len(ds) == 5
    matches = {s["name"]: s["meta"]["mask_match"] for s in ds}
    assert matches[serial] == "serial" and matches[exact] == "name"
    assert matches["Au_ani_00001"] == "authentic"
    for s in ds:
        assert s["mask"].shape == (16, 20)


def test_casia_missing_masks_skip_or_keep(tmp_path, rng):
    _img(tmp_path / "Tp_S_NNN_S_N_pla20095_pla20095_02347.tif", rng)
    with pytest.warns(UserWarning, match="have no mask file .*; skipped"):
        assert len(open_dataset("casia", tmp_path)) == 0
    with pytest.warns(UserWarning, match="kept unlabeled"):
        ds = open_dataset("casia", tmp_path, missing_mask="keep")
    assert ds[0]["mask"] is None and ds[0]["label"] == 1


def test_casia_errors(tmp_path, rng):
    with pytest.raises(DatasetError, match="no CASIA images found"):
        open_dataset("casia", tmp_path)
    _img(tmp_path / "Au_ani_00001.jpg", rng)
    with pytest.raises(DatasetError, match="subset must be one of"):
        open_dataset("casia", tmp_path, subset="inpainting")
    with pytest.raises(DatasetError, match="missing_mask must be"):
        open_dataset("casia", tmp_path, missing_mask="drop")


def test_corrupt_image_raises_image_read_error(tmp_path, rng):
    (tmp_path / "Tp_S_NNN_S_N_pla20095_pla20095_02347.png").write_bytes(b"not an image")
    _grey(tmp_path / "Tp_S_NNN_S_N_pla20095_pla20095_02347_gt.png", _blocks() > 0)
    ds = open_dataset("casia", tmp_path)
    with pytest.raises(ImageReadError, match="02347.png: not an image file"):
        ds[0]


# ---------------------------------------------------------------- CoMoFoD


def _comofod(root: Path, rng) -> None:
    for num in ("001", "002"):
        _img(root / f"{num}_F.png", rng)
        _img(root / f"{num}_O.png", rng)
        _grey(root / f"{num}_B.png", _blocks() > 0)
        colour = np.zeros((16, 20, 3), np.uint8)
        colour[_blocks() == 1] = GREEN
        colour[_blocks() == 2] = RED
        Image.fromarray(colour).save(root / f"{num}_M.png")
        for attack in ("JC5", "IB1", "BC2"):
            _img(root / f"{num}_F_{attack}.png", rng)
            _img(root / f"{num}_O_{attack}.png", rng)


def test_comofod_attacks_and_meta(tmp_path, rng):
    _comofod(tmp_path, rng)
    ds = open_dataset("comofod", tmp_path)
    assert len(ds) == 16
    assert ds.names()[:5] == ["001_F", "001_F_BC2", "001_F_IB1", "001_F_JC5", "001_O"]
    s = ds[3]
    assert s["meta"]["attack"] == "JC" and s["meta"]["level"] == 5
    assert s["meta"]["jpeg_quality"] == 60 and s["meta"]["attack_name"] == "jpeg_compression"
    np.testing.assert_array_equal(s["mask"], _blocks() > 0)
    assert ds[4]["label"] == 0 and not ds[4]["mask"].any()
    jc = open_dataset("comofod", tmp_path, attacks=["none", "JC"], include_authentic=False)
    assert jc.names() == ["001_F", "001_F_JC5", "002_F", "002_F_JC5"]
    assert open_dataset("comofod", tmp_path, attacks="IB1").names() == [
        "001_F_IB1",
        "001_O_IB1",
        "002_F_IB1",
        "002_O_IB1",
    ]


def test_comofod_three_class_from_colour_mask(tmp_path, rng):
    _comofod(tmp_path, rng)
    ds = open_dataset("comofod", tmp_path, three_class=True, load_original=True)
    assert ds.mask_kind == "three_class"
    np.testing.assert_array_equal(ds[0]["mask"], _blocks())
    assert ds[0]["original"] is not None


def test_comofod_errors(tmp_path, rng):
    with pytest.raises(DatasetError, match="no CoMoFoD images found"):
        open_dataset("comofod", tmp_path)
    _comofod(tmp_path, rng)
    with pytest.raises(DatasetError, match="unknown CoMoFoD attack 'XX1'"):
        open_dataset("comofod", tmp_path, attacks=["XX1"])


# ---------------------------------------------------------------- NoSo


def _noso(root: Path, rng) -> None:
    labels = _blocks()
    _img(root / "01.png", rng)
    _img(root / "02.png", rng)
    _img(root / "01_mod.png", rng)
    _grey(root / "01_mod_gt.png", labels > 0)
    _colour(root / "01_mod_st.png", labels)
    for k in ("01", "02"):
        _img(root / f"02_mod_{k}.png", rng)
        _grey(root / f"02_mod_{k}_gt.png", labels > 0)
    _colour(root / "02_mod_02_st.png", labels)


def test_noso_mixed_and_three_class_only(tmp_path, rng):
    _noso(tmp_path, rng)
    ds = open_dataset("noso", tmp_path)
    assert ds.names() == ["01_mod", "02_mod_01", "02_mod_02", "01", "02"]
    assert ds.mask_kind == "binary"
    kinds = [s["mask_kind"] for s in ds]
    assert kinds[:3] == ["three_class", "binary", "three_class"]
    np.testing.assert_array_equal(ds[0]["mask"], _blocks())
    np.testing.assert_array_equal(ds[1]["mask"], _blocks() > 0)
    only = open_dataset("noso", tmp_path, three_class_only=True)
    assert only.names() == ["01_mod", "02_mod_02"] and only.mask_kind == "three_class"
    binary = open_dataset("noso", tmp_path, binary=True, include_authentic=False)
    assert {s["mask_kind"] for s in binary} == {"binary"}


def test_noso_errors(tmp_path, rng):
    with pytest.raises(DatasetError, match="no NoSo images found"):
        open_dataset("noso", tmp_path)
    _noso(tmp_path, rng)
    with pytest.raises(DatasetError, match="exclude each other"):
        open_dataset("noso", tmp_path, three_class_only=True, binary=True)


# ---------------------------------------------------------------- disambiguation and folder


def test_cm_disambiguation(tmp_path, rng):
    _img(tmp_path / "test01.tif", rng)
    _colour(tmp_path / "test01_gt.png", _blocks())
    _grey(tmp_path / "test01_tm.png", _blocks() == 2)
    _img(tmp_path / "test02.tif", rng)
    with pytest.warns(UserWarning, match="test02.tif"):
        ds = open_dataset("cm-disambiguation", tmp_path, load_tm_mask=True)
    s = ds[0]
    np.testing.assert_array_equal(s["mask"], _blocks())
    np.testing.assert_array_equal(s["meta"]["tm_mask"], _blocks() == 2)
    with pytest.raises(DatasetError, match="no images named testNN.tif"):
        open_dataset("cm-disambiguation", tmp_path / "test01.tif")


def test_folder_reader(tmp_path, rng):
    _img(tmp_path / "b.jpg", rng)
    _img(tmp_path / "a.png", rng)
    _img(tmp_path / "sub" / "c.png", rng)
    ds = open_dataset("folder", tmp_path)
    assert ds.names() == ["a", "b"]
    s = ds[0]
    assert s["mask"] is None and s["label"] == -1 and s["image"].shape == (16, 20, 3)
    assert open_dataset("folder", tmp_path, recursive=True).names() == ["a", "b", "sub/c"]
    single = open_dataset("folder", tmp_path / "sub" / "c.png")
    assert single.names() == ["c"]
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="no image files found"):
        open_dataset("folder", tmp_path / "notes.txt")


def test_folder_empty_and_missing_root(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no image files found.*recursive=True"):
        open_dataset("folder", tmp_path / "empty")
    with pytest.raises(DatasetError, match="dataset root does not exist"):
        open_dataset("folder", tmp_path / "absent")


# ---------------------------------------------------------------- face manipulations


def _faces(root: Path, rng, n_bases: int = 6) -> None:
    """Photos of ``n_bases`` base photos, two manipulations each (same background)."""
    rows = ["id,manipulation"]
    for b in range(n_bases):
        base = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
        for k, kind in enumerate(("faceswap", "sdinpaint")):
            arr = base.copy()
            arr[12:20, 12:20] = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
            name = f"{kind}_{b:03d}"
            (root / "image").mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(root / "image" / f"{name}.png")
            mask = np.zeros((32, 32), bool)
            mask[12:20, 12 + k : 20] = True
            _grey(root / "mask_fake" / f"{name}.png", mask)
            rows.append(f"{name},{kind}")
    (root / "index.csv").write_text("\n".join(rows) + "\n")


def test_face_manipulations_splits_keep_base_photos_together(tmp_path, rng):
    _faces(tmp_path, rng)
    full = open_dataset("face-manipulations", tmp_path)
    assert len(full) == 12 and full.mask_kind == "binary"
    s = full[0]
    assert s["label"] == 1 and s["mask"].dtype == np.uint8 and s["mask"].sum() > 0
    assert s["meta"]["manipulation"] == "faceswap"
    train = open_dataset("face-manipulations", tmp_path, split="train")
    val = open_dataset("face-manipulations", tmp_path, split="val")
    assert sorted(train.names() + val.names()) == sorted(full.names())
    base = {n.split("_")[1] for n in train.names()}
    assert base.isdisjoint(n.split("_")[1] for n in val.names())  # no base photo on both sides
    swaps = open_dataset("face-manipulations", tmp_path, manipulations="faceswap")
    assert len(swaps) == 6 and all(n.startswith("faceswap") for n in swaps.names())


def test_face_manipulations_errors(tmp_path, rng):
    with pytest.raises(DatasetError, match="image/"):
        open_dataset("face-manipulations", tmp_path)
    _faces(tmp_path, rng, n_bases=1)
    with pytest.raises(DatasetError, match="split"):
        open_dataset("face-manipulations", tmp_path, split="test")
    with pytest.raises(DatasetError, match="unknown manipulation"):
        open_dataset("face-manipulations", tmp_path, manipulations="morph")
    (tmp_path / "mask_fake" / "faceswap_000.png").unlink()
    with pytest.warns(UserWarning, match="faceswap_000.png"):
        assert len(open_dataset("face-manipulations", tmp_path)) == 1


# ---------------------------------------------------------------- inpainting removal


def test_inpainting_removal_with_originals(tmp_path, rng):
    for n in (1, 2, 10):
        _img(tmp_path / "inpainted" / f"case{n}.png", rng)
        _img(tmp_path / "original" / f"case{n}.png", rng)
        _grey(tmp_path / "mask" / f"case{n}.png", _blocks() == 1)
    ds = open_dataset("inpainting-removal", tmp_path)
    assert ds.names()[:3] == ["inpainted/case1", "inpainted/case2", "inpainted/case10"]
    assert [s["label"] for s in ds] == [1, 1, 1, 0, 0, 0]
    assert ds[0]["mask"].sum() == 16 and ds[3]["mask"].sum() == 0
    assert ds[0]["meta"]["original_path"].endswith("case1.png")
    assert len(open_dataset("inpainting-removal", tmp_path, include_authentic=False)) == 3


def test_inpainting_removal_errors(tmp_path, rng):
    with pytest.raises(DatasetError, match="inpainted/"):
        open_dataset("inpainting-removal", tmp_path)
    _img(tmp_path / "inpainted" / "case1.png", rng)
    with pytest.warns(UserWarning, match="case1.png"), pytest.raises(DatasetError, match="mask"):
        open_dataset("inpainting-removal", tmp_path)
