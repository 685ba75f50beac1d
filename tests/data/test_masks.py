"""Mask helpers: colour decoding, conventions, resizing with a warning, name matching."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tamperscope.data.masks import (
    StemIndex,
    compose_three_class,
    decode_colour_mask,
    find_by_stem,
    read_binary_mask,
    read_three_class_mask,
    resize_mask,
    to_binary,
    to_three_class,
    unique_names,
)
from tamperscope.errors import ImageReadError


def _colour_mask(labels: np.ndarray) -> np.ndarray:
    colours = np.array([[0, 0, 255], [0, 255, 0], [255, 0, 0]], dtype=np.uint8)
    return colours[labels]


def test_colour_decoding_survives_jpeg_noise(rng):
    labels = rng.integers(0, 3, size=(20, 30))
    noisy = _colour_mask(labels).astype(np.int16) + rng.integers(-40, 41, size=(20, 30, 3))
    decoded = decode_colour_mask(np.clip(noisy, 0, 255).astype(np.uint8))
    np.testing.assert_array_equal(decoded, labels)


def test_colour_decoding_refuses_foreign_colours():
    white = np.full((4, 4, 3), 255, dtype=np.uint8)
    with pytest.raises(ImageReadError, match="16 of 16 pixels match no mask colour"):
        decode_colour_mask(white, path="m.png")


def test_black_counts_as_pristine():
    mask = np.zeros((3, 3, 3), dtype=np.uint8)
    mask[1, 1] = (0, 255, 0)
    expected = np.zeros((3, 3), np.uint8)
    expected[1, 1] = 1
    np.testing.assert_array_equal(decode_colour_mask(mask), expected)


def test_to_binary_keeps_label_maps_and_thresholds_grey():
    np.testing.assert_array_equal(to_binary(np.array([[0, 1]], np.uint8)), [[0, 1]])
    np.testing.assert_array_equal(
        to_binary(np.array([[0, 127, 128, 255]], np.uint8)), [[0, 0, 1, 1]]
    )


def test_three_class_label_map_values_are_checked():
    with pytest.raises(ImageReadError, match="values 0, 1, 2; found \\[0, 7\\]"):
        to_three_class(np.array([[0, 7]], np.uint8), path="x.png")


def test_resize_warns_with_file_name():
    mask = np.zeros((4, 6), np.uint8)
    mask[:2] = 2
    with pytest.warns(UserWarning, match=r"m\.png: mask is 6x4 but its image is 12x8"):
        out = resize_mask(mask, (8, 12), path="m.png")
    assert out.shape == (8, 12) and set(np.unique(out)) == {0, 2}


def test_resize_is_silent_when_sizes_agree(recwarn):
    mask = np.ones((3, 3), np.uint8)
    assert resize_mask(mask, (3, 3), path="m.png") is mask
    assert len(recwarn) == 0


def test_compose_three_class_target_wins():
    src = np.array([[1, 1, 0]], np.uint8)
    tgt = np.array([[0, 1, 1]], np.uint8)
    np.testing.assert_array_equal(compose_three_class(src, tgt), [[1, 2, 2]])
    with pytest.raises(ValueError, match="differ"):
        compose_three_class(src, tgt[:, :2])


def test_read_mask_files(tmp_path, rng):
    labels = rng.integers(0, 3, size=(10, 12)).astype(np.uint8)
    Image.fromarray(_colour_mask(labels)).save(tmp_path / "c.png")
    np.testing.assert_array_equal(read_three_class_mask(tmp_path / "c.png"), labels)
    Image.fromarray((labels > 0).astype(np.uint8) * 255).save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_binary_mask(tmp_path / "b.png"), labels > 0)
    with pytest.raises(ImageReadError, match="does not exist"):
        read_binary_mask(tmp_path / "missing.png")


def test_stem_index_tolerates_naming_slips(tmp_path):
    files = [tmp_path / "A_gt.png", tmp_path / "b.TIF", tmp_path / "c_mask.bmp"]
    index = StemIndex(files)
    assert index.find("a") == files[0]
    assert index.find("B") == files[1]
    assert index.find("c") == files[2]
    assert index.find("d") is None


def test_find_by_stem_any_extension_and_case(tmp_path):
    (tmp_path / "1Copy.TIF").write_bytes(b"x")
    assert find_by_stem(tmp_path, "1copy") == tmp_path / "1Copy.TIF"
    assert find_by_stem(tmp_path, "2copy") is None
    assert find_by_stem(tmp_path / "nope", "1copy") is None


def test_unique_names_keep_suffix_only_on_clash(tmp_path):
    paths = [tmp_path / "a.jpg", tmp_path / "a.png", tmp_path / "sub" / "b.png"]
    assert unique_names(paths, tmp_path) == ["a.jpg", "a.png", "sub/b"]
