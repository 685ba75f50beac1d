"""Decoding and writing of images and masks.

Every image that enters tamperscope goes through :func:`read_image` (from a path, bytes or a
stream), which returns the pixels
as the camera meant them to be seen: EXIF orientation applied, grey, palette, alpha, CMYK and
16-bit images converted to 8-bit RGB. Failures raise :class:`~tamperscope.errors.ImageReadError`
naming the file and the problem. Writes are atomic (temporary file, then rename), so an
interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tamperscope.errors import ImageReadError

#: Largest image accepted, in pixels (width x height). Larger files are refused as possible
#: decompression bombs. 24k x 24k is far beyond any camera on the market.
MAX_IMAGE_PIXELS = 24_000 * 24_000

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".ppm", ".pgm"}
)

#: What :func:`read_image` and :func:`read_mask` decode: a file path, the encoded bytes, or a
#: binary stream (an open file, ``io.BytesIO``, an upload).
ImageSource = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO

# Pillow refuses images over twice its process-wide MAX_IMAGE_PIXELS while opening them. It is
# raised once, here, to tamperscope's documented limit (never lowered, never changed per call,
# which would race between threads); each read then applies its own ``max_pixels`` from the
# header size before any pixel is decoded.
if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_IMAGE_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


def source_name(source: ImageSource, name: str | None = None) -> Path:
    """The name messages use for ``source``: ``name``, the path, or ``<bytes>``/``<stream>``."""
    if name is not None:
        return Path(name)
    if isinstance(source, (str, os.PathLike)):
        return Path(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return Path("<bytes>")
    return Path(str(getattr(source, "name", "<stream>")))


def _stream(source: ImageSource, where: Path) -> BinaryIO | Path:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageReadError(where, "file does not exist")
        if path.is_dir():
            raise ImageReadError(where, "is a folder, not an image file")
        if path.stat().st_size == 0:
            raise ImageReadError(where, "file is empty (0 bytes)")
        return path
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageReadError(where, "no data (0 bytes)")
        return io.BytesIO(bytes(source))
    if not hasattr(source, "read"):
        raise ImageReadError(
            where, f"not a path, bytes or binary stream (got {type(source).__name__})"
        )
    return source


def _open(source: ImageSource, max_pixels: int, where: Path) -> Image.Image:
    if not 0 < max_pixels <= MAX_IMAGE_PIXELS:
        raise ValueError(f"max_pixels must be in [1, {MAX_IMAGE_PIXELS}], got {max_pixels}")
    fp = _stream(source, where)
    limit = (
        f"over the limit of {max_pixels} pixels ({max_pixels / 1e6:.0f} megapixels; possible "
        "decompression bomb)"
    )
    try:
        img = Image.open(fp)
        width, height = img.size
        if width * height > max_pixels:
            raise ImageReadError(
                where, f"image is {width}x{height} = {width * height} pixels, {limit}"
            )
        img.load()
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(where, limit) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(
            where, "not an image file, or a format that cannot be decoded"
        ) from exc
    except OSError as exc:
        raise ImageReadError(where, f"corrupt or truncated image ({exc})") from exc
    except (ValueError, SyntaxError) as exc:
        raise ImageReadError(where, f"cannot decode image ({exc})") from exc
    return img


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Rescale integer or float arrays to uint8 by their type's range."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.integer):
        peak = 65535 if arr.max(initial=0) > 255 else 255
        return np.clip(np.rint(arr.astype(np.float64) * 255.0 / peak), 0, 255).astype(np.uint8)
    arr = arr.astype(np.float64)
    if arr.max(initial=0.0) <= 1.0:
        arr = arr * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def read_image(
    source: ImageSource, *, max_pixels: int = MAX_IMAGE_PIXELS, name: str | None = None
) -> np.ndarray:
    """Decode an image to 8-bit RGB, as it is meant to be displayed.

    EXIF orientation is applied; grey, palette, CMYK and YCbCr images are converted to RGB;
    alpha is dropped (composited on nothing: the colour channels are kept as stored); 16-bit and
    float images are rescaled to 0-255.

    Args:
        source: an image file path (PNG, JPEG, TIFF, BMP, WebP, GIF first frame, PPM/PGM), its
            encoded bytes, or a binary stream positioned at its start (read, not closed).
        max_pixels: refuse images with more pixels than this (decompression bombs); at most
            :data:`MAX_IMAGE_PIXELS`.
        name: what messages call the image (default: the path, ``<bytes>`` or the stream's
            ``name``).

    Returns:
        (H, W, 3) uint8 array in [0, 255], RGB, C-contiguous.

    Raises:
        ImageReadError: the file is missing, empty, not an image, corrupt or truncated, or over
            ``max_pixels``. The message names the file and the problem.
        ValueError: ``max_pixels`` outside [1, MAX_IMAGE_PIXELS].
    """
    path = source_name(source, name)
    img = _open(source, max_pixels, path)
    try:
        img = ImageOps.exif_transpose(img) or img
    except Exception:  # noqa: BLE001 - a broken EXIF block must not make the pixels unreadable
        pass
    try:
        if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            arr = _to_uint8(np.asarray(img))
            rgb = np.repeat(arr[..., None], 3, axis=2)
        elif img.mode in ("RGB",):
            rgb = np.asarray(img)
        elif img.mode in ("RGBA", "LA", "PA"):
            rgb = np.asarray(img.convert("RGBA"))[..., :3]
        else:  # L, 1, P, CMYK, YCbCr, LAB, HSV ...
            rgb = np.asarray(img.convert("RGB"))
        if rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype != np.uint8:
            rgb = _to_uint8(rgb)
    except (OSError, ValueError) as exc:
        raise ImageReadError(
            path, f"cannot convert image of mode {img.mode} to RGB ({exc})"
        ) from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageReadError(path, f"decoded to an unusable shape {rgb.shape}")
    rgb = np.ascontiguousarray(rgb)
    return rgb if rgb.flags.writeable else rgb.copy()


def read_mask(
    source: ImageSource, *, max_pixels: int = MAX_IMAGE_PIXELS, name: str | None = None
) -> np.ndarray:
    """Decode a mask file as stored, without orientation changes.

    Ground-truth masks are read raw: their pixel values carry the labels, so no EXIF rotation
    and no colour conversion beyond dropping alpha are applied.

    Args:
        source: mask file path, encoded bytes or binary stream.
        max_pixels: refuse masks with more pixels than this.
        name: what messages call the mask (default as :func:`read_image`).

    Returns:
        (H, W) uint8 for single-channel masks, or (H, W, 3) uint8 RGB for colour masks. 16-bit
        and float masks are rescaled to 0-255; 1-bit masks become {0, 255}.

    Raises:
        ImageReadError: the file is missing, empty, not an image, corrupt or too large.
        ValueError: ``max_pixels`` outside [1, MAX_IMAGE_PIXELS].
    """
    path = source_name(source, name)
    img = _open(source, max_pixels, path)
    try:
        if img.mode == "1":
            arr = np.asarray(img.convert("L"))
        elif img.mode == "P":
            arr = np.asarray(img.convert("RGB"))
        elif img.mode in ("RGBA", "LA"):
            arr = np.asarray(img)[..., :-1] if img.mode == "RGBA" else np.asarray(img)[..., 0]
        elif img.mode == "CMYK":
            arr = np.asarray(img.convert("RGB"))
        else:
            arr = np.asarray(img)
        arr = _to_uint8(arr)
    except (OSError, ValueError) as exc:
        raise ImageReadError(path, f"cannot decode mask of mode {img.mode} ({exc})") from exc
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ImageReadError(path, f"decoded to an unusable shape {arr.shape}")
    arr = np.ascontiguousarray(arr)
    return arr if arr.flags.writeable else arr.copy()


def binarize_mask(mask: np.ndarray, threshold: int = 128) -> np.ndarray:
    """Turn a grey or colour mask into {0, 1}.

    Args:
        mask: (H, W) or (H, W, C) uint8.
        threshold: a pixel is 1 when its (maximum channel) value is >= threshold.

    Returns:
        (H, W) uint8 in {0, 1}.
    """
    if mask.ndim == 3:
        mask = mask.max(axis=2)
    return (mask >= threshold).astype(np.uint8)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_image(path: str | Path, array: np.ndarray, *, jpeg_quality: int = 95) -> None:
    """Write an image or mask atomically; the format follows the suffix.

    Args:
        path: destination (.png, .jpg, .tif, ...).
        array: (H, W) or (H, W, 3) uint8 (RGB), or bool (written as 0/255).
        jpeg_quality: JPEG quality 1-100 when the suffix is .jpg/.jpeg.

    Raises:
        ValueError: the array has an unsupported shape or dtype.
    """
    path = Path(path)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(
            f"{path}: expected (H, W) or (H, W, 3) uint8, got {array.shape} {array.dtype}"
        )
    img = Image.fromarray(np.ascontiguousarray(array))
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image suffix {path.suffix!r}")
    kwargs: dict[str, Any] = {}
    if fmt == "JPEG":
        kwargs = {"quality": int(jpeg_quality), "subsampling": 0 if jpeg_quality >= 90 else 2}
    elif fmt == "PNG":
        kwargs = {"compress_level": 6}
    with atomic_open(path, "wb") as fh:
        img.save(fh, format=fmt, **kwargs)


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (UTF-8, indented, keys in insertion order)."""
    with atomic_open(path, "w") as fh:
        json.dump(obj, fh, indent=2, default=json_default)
        fh.write("\n")


def json_default(obj: Any) -> Any:
    """The ``default`` of :func:`json.dump` for numpy values and paths.

    Returns:
        A numpy scalar as a Python number, an array as nested lists, a path as a string.

    Raises:
        TypeError: ``obj`` is none of these.
    """
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def list_images(folder: str | Path, *, recursive: bool = False) -> list[Path]:
    """Image files of a folder, sorted by name (suffixes in :data:`IMAGE_EXTENSIONS`)."""
    folder = Path(folder)
    pattern = "**/*" if recursive else "*"
    return sorted(
        p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
