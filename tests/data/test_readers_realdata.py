"""Readers on the real forgeries in ../shared/data/real-dev (skipped when absent)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tamperscope.data import open_dataset

pytestmark = pytest.mark.realdata


def _check(sample, mask_values: set[int]) -> None:
    image, mask = sample["image"], sample["mask"]
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert mask is not None and mask.shape == image.shape[:2] and mask.dtype == np.uint8
    assert set(np.unique(mask).tolist()) <= mask_values


def test_casia1_samples(shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every image has its mask: no warning expected
        ds = open_dataset("casia", shared_data / "real-dev" / "casia1-samples")
    assert len(ds) == 72
    assert sum(s["label"] for s in ds) == 36
    tampered = [s for s in ds if s["label"] == 1]
    for s in tampered:
        _check(s, {0, 1})
        assert s["mask"].any()
    cm = open_dataset("casia", shared_data / "real-dev" / "casia1-samples", subset="copy_move")
    assert len(cm) == 36 and {n.split("/")[0] for n in cm.names()} == {"CM"}


def test_casia2_samples(shared_data):
    ds = open_dataset("casia", shared_data / "real-dev" / "casia2-samples")
    assert len(ds) == 17 and all(s["meta"]["mask_match"] == "name" for s in ds)
    for s in ds:
        _check(s, {0, 1})
        assert s["mask"].any()
    splicing = open_dataset("casia", shared_data / "real-dev" / "casia2-samples", subset="splicing")
    assert all(n.startswith("Tp_D_") for n in splicing.names()) and len(splicing) > 0


def test_noso(shared_data):
    root = shared_data / "real-dev" / "noso"
    ds = open_dataset("noso", root)
    assert len(ds) == 18 + 13
    three = open_dataset("noso", root, three_class_only=True)
    assert len(three) == 14 and three.mask_kind == "three_class"
    s = three[0]
    _check(s, {0, 1, 2})
    assert {1, 2} <= set(np.unique(s["mask"]).tolist())


def test_cm_disambiguation(shared_data):
    ds = open_dataset("cm-disambiguation", shared_data / "real-dev" / "cm-disambiguation")
    assert ds.names() == ["test01", "test02", "test03"]
    s = open_dataset(
        "cm-disambiguation",
        shared_data / "real-dev" / "cm-disambiguation",
        load_tm_mask=True,
    )[0]
    _check(s, {0, 1, 2})
    forged, tm = s["mask"] > 0, s["meta"]["tm_mask"].astype(bool)
    assert tm.shape == forged.shape and set(np.unique(s["meta"]["tm_mask"])) == {0, 1}
    assert (forged & tm).sum() / tm.sum() > 0.8  # the _tm mask lies on the forged regions


def test_face_manipulations(shared_data):
    root = shared_data / "real-dev" / "face-manipulations"
    full = open_dataset("face-manipulations", root)
    assert len(full) == 148
    _check(full[0], {0, 1})
    train = open_dataset("face-manipulations", root, split="train")
    val = open_dataset("face-manipulations", root, split="val")
    assert len(train) + len(val) == 148 and 30 <= len(val) <= 70
    assert {r.meta["manipulation"] for r in val.records()} == {
        "faceswap",
        "sdinpaint",
        "poissonlocal",
    }


def test_deepfill_removal(shared_data):
    ds = open_dataset("inpainting-removal", shared_data / "real-dev" / "deepfill-v2-removal")
    assert len(ds) == 12 and sum(s["label"] for s in ds) == 6
    for s in ds:
        _check(s, {0, 1})
        assert s["mask"].any() == bool(s["label"])
