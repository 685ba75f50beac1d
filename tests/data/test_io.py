"""Image decoding: every awkward input is decoded correctly or refused with a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tamperscope.errors import ImageReadError
from tamperscope.io import (
    binarize_mask,
    list_images,
    read_image,
    read_mask,
    write_image,
    write_json,
)


def _rgb(rng: np.random.Generator, h: int = 24, w: int = 32) -> np.ndarray:
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_png_roundtrip_exact(tmp_path, rng):
    img = _rgb(rng)
    write_image(tmp_path / "a.png", img)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), img)


def test_grey_image_becomes_rgb(tmp_path, rng):
    grey = rng.integers(0, 256, size=(10, 12), dtype=np.uint8)
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (10, 12, 3) and out.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


def test_alpha_is_dropped(tmp_path, rng):
    rgba = rng.integers(0, 256, size=(8, 9, 4), dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), rgba[..., :3])


def test_16bit_is_rescaled(tmp_path):
    arr = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "d.png")
    out = read_image(tmp_path / "d.png")
    assert out.dtype == np.uint8
    assert out[0, 0, 0] == 0 and out[0, 1, 0] == 255 and out[1, 0, 0] == 128


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    out = read_image(tmp_path / "c.jpg")
    assert out.shape == (8, 16, 3)
    assert out[..., 0].mean() > 200 and out[..., 1].mean() < 60  # red


def test_exif_orientation_is_applied(tmp_path):
    img = np.zeros((10, 20, 3), np.uint8)
    img[:, :5] = 255  # white band on the left
    pil = Image.fromarray(img)
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    pil.save(tmp_path / "r.jpg", exif=exif, quality=100)
    out = read_image(tmp_path / "r.jpg")
    assert out.shape == (20, 10, 3)
    assert out[:5].mean() > 200  # the band is now on top


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="does not exist") as exc:
        read_image(tmp_path / "nope.png")
    assert "nope.png" in str(exc.value)


def test_empty_file(tmp_path):
    (tmp_path / "z.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"z\.png: file is empty"):
        read_image(tmp_path / "z.png")


def test_not_an_image(tmp_path):
    (tmp_path / "t.jpg").write_text("hello, I am text")
    with pytest.raises(ImageReadError, match=r"t\.jpg: not an image file"):
        read_image(tmp_path / "t.jpg")


def test_truncated_image(tmp_path, rng):
    write_image(tmp_path / "full.jpg", _rgb(rng, 64, 64))
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.jpg: corrupt or truncated"):
        read_image(tmp_path / "cut.jpg")


def test_folder_is_refused(tmp_path):
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(tmp_path)


def test_decompression_bomb_is_refused(tmp_path):
    Image.new("L", (400, 300)).save(tmp_path / "big.png")
    with pytest.raises(ImageReadError, match="decompression bomb"):
        read_image(tmp_path / "big.png", max_pixels=100 * 100)


def test_read_mask_keeps_values_and_colours(tmp_path):
    m = np.array([[0, 1], [2, 0]], np.uint8)
    write_image(tmp_path / "m.png", m)
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), m)
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[0, 0] = (255, 0, 0)
    write_image(tmp_path / "c.png", colour)
    np.testing.assert_array_equal(read_mask(tmp_path / "c.png"), colour)
    Image.fromarray(np.array([[True, False]])).save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "b.png"), [[255, 0]])


def test_binarize_mask():
    m = np.array([[0, 127, 128, 255]], np.uint8)
    np.testing.assert_array_equal(binarize_mask(m), [[0, 0, 1, 1]])


def test_write_is_atomic_on_failure(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "x.png", np.zeros((4, 4), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_write_json_and_list_images(tmp_path, rng):
    write_json(tmp_path / "r.json", {"a": np.float32(0.5), "b": np.arange(2)})
    assert (tmp_path / "r.json").read_text().count("0.5") == 1
    write_image(tmp_path / "b.png", _rgb(rng))
    write_image(tmp_path / "a.jpg", _rgb(rng))
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.png"]


def test_bytes_and_streams_decode_like_files(tmp_path, rng):
    import io

    img = _rgb(rng)
    write_image(tmp_path / "a.png", img)
    data = (tmp_path / "a.png").read_bytes()
    np.testing.assert_array_equal(read_image(data), img)
    np.testing.assert_array_equal(read_image(io.BytesIO(data)), img)
    with open(tmp_path / "a.png", "rb") as fh:
        np.testing.assert_array_equal(read_image(fh), img)
    Image.fromarray(img[..., 0], mode="L").save(tmp_path / "m.png")
    mask_bytes = (tmp_path / "m.png").read_bytes()
    np.testing.assert_array_equal(read_mask(mask_bytes), img[..., 0])


def test_bytes_and_stream_errors_name_the_input():
    import io

    with pytest.raises(ImageReadError, match=r"^<bytes>: no data \(0 bytes\)"):
        read_image(b"")
    with pytest.raises(ImageReadError, match=r"^upload\.jpg: not an image file"):
        read_image(b"plain text, not pixels", name="upload.jpg")
    with pytest.raises(ImageReadError, match=r"^<stream>: not an image file"):
        read_image(io.BytesIO(b"plain text"))
    with pytest.raises(ImageReadError, match="not a path, bytes or binary stream"):
        read_image(12345)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_pixels must be in"):
        read_image(b"x", max_pixels=0)


def test_reading_leaves_pillows_limit_alone(tmp_path, rng):
    from concurrent.futures import ThreadPoolExecutor

    write_image(tmp_path / "a.png", _rgb(rng, 40, 40))
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageReadError, match="over the limit of 100 pixels"):
        read_image(tmp_path / "a.png", max_pixels=100)
    assert Image.MAX_IMAGE_PIXELS == before
    # Threads with different limits do not see each other's: no process-wide value changes.
    limits = [100, 10_000] * 8
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(
            pool.map(
                lambda m: _outcome(lambda: read_image(tmp_path / "a.png", max_pixels=m)), limits
            )
        )
    assert outcomes == ["refused", "read"] * 8
    assert Image.MAX_IMAGE_PIXELS == before


def _outcome(fn) -> str:
    try:
        fn()
    except ImageReadError:
        return "refused"
    return "read"
