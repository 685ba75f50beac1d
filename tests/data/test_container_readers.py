"""BusterNet's HDF5 files and the USC-ISI LMDB, on tiny files written the same way."""

from __future__ import annotations

import io
import json
import pickle
import sys

import h5py
import lmdb
import numpy as np
import pytest
from PIL import Image

from tamperscope.data import open_dataset
from tamperscope.data.busternet_hdf5 import VGG_BGR_MEANS
from tamperscope.errors import DatasetError, ImageReadError


def _labels(h: int = 16, w: int = 16) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[2:6, 2:6] = 1
    m[9:13, 9:13] = 2
    return m


def _one_hot(labels: np.ndarray) -> np.ndarray:
    # channel order (target, source, pristine), as in BusterNet's files
    return np.stack([labels == 2, labels == 1, labels == 0], axis=-1).astype(np.float32)


def _vgg(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., ::-1].astype(np.float64) - VGG_BGR_MEANS).astype(np.float32)


def test_busternet_casia_style_vgg_file(tmp_path, rng):
    rgb = rng.integers(0, 256, size=(3, 16, 16, 3), dtype=np.uint8)
    with h5py.File(tmp_path / "CASIA-CMFD-Pos.hd5", "w") as f:
        f["X"] = np.stack([_vgg(x) for x in rgb])
        f["Y"] = np.stack([_one_hot(_labels())] * 3)
    ds = open_dataset("busternet-hdf5", tmp_path)
    assert ds.preprocessing == "vgg" and ds.names() == ["000000", "000001", "000002"]
    s = ds[1]
    np.testing.assert_array_equal(s["image"], rgb[1])
    np.testing.assert_array_equal(s["mask"], _labels())
    assert s["label"] == 1 and s["mask_kind"] == "three_class"
    clone = pickle.loads(pickle.dumps(ds))  # DataLoader workers reopen the file
    np.testing.assert_array_equal(clone[2]["image"], rgb[2])


def test_busternet_comofod_style_names(tmp_path, rng):
    rgb = rng.integers(0, 256, size=(3, 16, 16, 3), dtype=np.uint8)
    masks = np.stack([_one_hot(_labels()), _one_hot(np.zeros((16, 16), np.uint8))])
    with h5py.File(tmp_path / "CoMoFoD-CMFD.hd5", "w") as f:
        f["X"] = rgb
        f["XN"] = np.array([b"001_F", b"001_F_JC5", b"002_F_BC1"])
        f["Y"] = (masks * 255).astype(np.uint8)
        f["YN"] = np.array([b"001", b"002"])
    ds = open_dataset("busternet-hdf5", tmp_path / "CoMoFoD-CMFD.hd5")
    assert ds.names() == ["001_F", "001_F_JC5", "002_F_BC1"]
    s = ds[1]
    np.testing.assert_array_equal(s["image"], rgb[1])
    np.testing.assert_array_equal(s["mask"], _labels())
    assert s["meta"]["attack"] == "JC" and s["meta"]["jpeg_quality"] == 60
    assert ds[2]["meta"]["mask_index"] == 1 and ds[2]["label"] == 0


def test_busternet_errors(tmp_path):
    with pytest.raises(DatasetError, match="expected one HDF5 file"):
        open_dataset("busternet-hdf5", tmp_path)
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["X"] = np.zeros((2, 4, 4, 3), np.uint8)
    with pytest.raises(DatasetError, match="no dataset 'Y'"):
        open_dataset("busternet-hdf5", tmp_path / "bad.h5")
    with h5py.File(tmp_path / "bad.h5", "a") as f:
        f["Y"] = np.zeros((3, 4, 4, 3), np.uint8)
    with pytest.raises(DatasetError, match="2 images but 3 masks"):
        open_dataset("busternet-hdf5", tmp_path / "bad.h5")
    with pytest.raises(DatasetError, match="preprocessing must be"):
        open_dataset("busternet-hdf5", tmp_path / "bad.h5", preprocessing="caffe")
    (tmp_path / "junk.hd5").write_bytes(b"not hdf5")
    with pytest.raises(DatasetError, match="cannot open as HDF5"):
        open_dataset("busternet-hdf5", tmp_path / "junk.hd5")


def _encode(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def test_usc_isi_published_json_layout(tmp_path):
    env = lmdb.open(str(tmp_path), map_size=1 << 24)
    yy, xx = np.mgrid[0:16, 0:20]  # smooth, so JPEG keeps it close
    rgb = np.stack([xx * 12, yy * 15, np.full_like(xx, 90)], axis=-1).astype(np.uint8)
    jpeg = _encode(rgb, "JPEG")
    lut = {
        "image_jpeg_buffer": list(jpeg),
        "image_height": 16,
        "image_width": 20,
        "source_contour": [[2, 2, 6, 2, 6, 6, 2, 6]],
        "target_contour": [[10, 8, 14, 8, 14, 12, 10, 12]],
        "transform_matrix": [1, 0, 8, 0, 1, 6, 0, 0, 1],
    }
    with env.begin(write=True) as txn:
        txn.put(b"k1", json.dumps(lut).encode())
        txn.put(b"k2", json.dumps({**lut, "image_jpeg_buffer": [1, 2, 3]}).encode())
    env.close()
    (tmp_path / "samples.keys").write_text("k1\nk2\nk1\n")
    with pytest.warns(UserWarning, match="1 duplicate key"):
        ds = open_dataset("usc-isi", tmp_path)
    assert ds.layout == "json" and ds.names() == ["k1", "k2"]
    s = ds[0]
    assert s["image"].shape == (16, 20, 3) and np.abs(s["image"].astype(int) - rgb).mean() < 6
    assert s["mask"][4, 4] == 1 and s["mask"][10, 12] == 2 and s["mask"][0, 0] == 0
    assert s["meta"]["transform_matrix"][0] == [1.0, 0.0, 8.0]
    with pytest.raises(ImageReadError, match="k2: cannot decode image bytes"):
        ds[1]


def test_usc_isi_image_mask_layout(tmp_path, rng):
    env = lmdb.open(str(tmp_path), map_size=1 << 24)
    rgb = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    colour = np.array([[0, 0, 255], [0, 255, 0], [255, 0, 0]], np.uint8)[_labels()]
    with env.begin(write=True) as txn:
        txn.put(b"a-image", _encode(rgb))
        txn.put(b"a-mask", _encode(colour))
        txn.put(b"b-image", _encode(rgb))
        txn.put(b"b-mask", _encode(_labels()))
    env.close()
    ds = open_dataset("usc-isi", tmp_path)
    assert ds.layout == "pair" and ds.names() == ["a", "b"]
    np.testing.assert_array_equal(ds[0]["image"], rgb)
    np.testing.assert_array_equal(ds[0]["mask"], _labels())
    np.testing.assert_array_equal(ds[1]["mask"], _labels())


def test_usc_isi_errors(tmp_path, monkeypatch):
    with pytest.raises(DatasetError, match="not an LMDB folder"):
        open_dataset("usc-isi", tmp_path)
    env = lmdb.open(str(tmp_path), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"x", b"plain")
    env.close()
    (tmp_path / "samples.keys").write_text("x\n")
    with pytest.raises(DatasetError, match="neither a JSON record"):
        open_dataset("usc-isi", tmp_path)
    monkeypatch.setitem(sys.modules, "lmdb", None)
    with pytest.raises(ImportError, match=r"pip install tamperscope\[lmdb\]"):
        open_dataset("usc-isi", tmp_path)
