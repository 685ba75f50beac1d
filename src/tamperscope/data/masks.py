"""Ground-truth mask helpers shared by the dataset readers.

Benchmarks store their ground truth in many ways: grey 0/255 images, 1-bit images, colour
images where red, green and blue name the classes, label maps with values 0/1/2, masks saved as
JPEG (so with compression noise around the edges), masks whose size differs from their image,
and files whose names do not quite match their image. The functions here turn all of these into
the :mod:`tamperscope.types` conventions:

* 3-class mask: (H, W) uint8 in {0 pristine, 1 source, 2 target};
* binary mask: (H, W) uint8 in {0, 1}.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from tamperscope.errors import ImageReadError
from tamperscope.io import IMAGE_EXTENSIONS, read_mask
from tamperscope.types import PRISTINE, SOURCE, TARGET

#: Colours of the 3-class colour masks used by BusterNet (USC-ISI CMFD, CASIA-CMFD,
#: CoMoFoD-CMFD), NoSo ``*_st.png`` and the copy-move disambiguation set: red = target,
#: green = source, blue = pristine. Black is accepted as pristine too (masks drawn on black).
THREE_CLASS_PALETTE: dict[int, tuple[tuple[int, int, int], ...]] = {
    PRISTINE: ((0, 0, 255), (0, 0, 0)),
    SOURCE: ((0, 255, 0),),
    TARGET: ((255, 0, 0),),
}

#: Default tolerance of the nearest-colour decoding: Euclidean RGB distance (0-441). Pure red,
#: green and blue are 360 apart, so 100 leaves room for JPEG noise and never confuses classes.
DEFAULT_COLOUR_TOLERANCE = 100.0

#: Largest fraction of pixels allowed farther than the tolerance from every palette colour
#: (anti-aliased or JPEG-damaged edges); they take the nearest class. Above it the file is
#: refused, because it is most likely not a mask in this palette.
DEFAULT_MAX_OUTLIER_FRACTION = 0.01


def decode_colour_mask(
    rgb: np.ndarray,
    palette: Mapping[int, Sequence[tuple[int, int, int]]] = THREE_CLASS_PALETTE,
    *,
    tolerance: float = DEFAULT_COLOUR_TOLERANCE,
    max_outlier_fraction: float = DEFAULT_MAX_OUTLIER_FRACTION,
    path: str | Path = "<array>",
) -> np.ndarray:
    """Decode a colour-coded mask to class indices by nearest palette colour.

    Args:
        rgb: (H, W, 3) uint8 RGB mask.
        palette: class value -> one or more RGB colours (0-255) that mean that class.
        tolerance: Euclidean RGB distance (0-441) within which a pixel counts as a palette
            colour.
        max_outlier_fraction: fraction (0-1) of pixels that may be farther than ``tolerance``
            from every colour; they still take the nearest class.
        path: file name used in error messages.

    Returns:
        (H, W) uint8 class map with values among the palette's keys.

    Raises:
        ImageReadError: ``rgb`` is not (H, W, 3), or more than ``max_outlier_fraction`` of its
            pixels match no palette colour (the message gives the count and an example colour).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageReadError(path, f"expected a colour (H, W, 3) mask, got shape {rgb.shape}")
    classes: list[int] = []
    colours: list[tuple[int, int, int]] = []
    for value, cols in palette.items():
        for col in cols:
            classes.append(int(value))
            colours.append(tuple(int(c) for c in col))  # type: ignore[arg-type]
    ref = np.asarray(colours, dtype=np.float32)  # (K, 3)
    flat = rgb.reshape(-1, 3).astype(np.float32)
    # Decode unique colours only: masks hold a handful of colours, images millions of pixels.
    uniq, inverse = np.unique(flat, axis=0, return_inverse=True)
    dist = np.linalg.norm(uniq[:, None, :] - ref[None, :, :], axis=2)  # (U, K)
    nearest = dist.argmin(axis=1)
    far = dist[np.arange(len(uniq)), nearest] > tolerance
    if far.any():
        counts = np.bincount(inverse.ravel(), minlength=len(uniq))
        n_far = int(counts[far].sum())
        if n_far > max_outlier_fraction * flat.shape[0]:
            example = tuple(int(v) for v in uniq[far][0])
            raise ImageReadError(
                path,
                f"{n_far} of {flat.shape[0]} pixels match no mask colour within tolerance "
                f"{tolerance:g} (e.g. RGB {example}); expected colours "
                + ", ".join(f"{c} for class {k}" for k, c in zip(classes, colours, strict=True)),
            )
    lut = np.asarray(classes, dtype=np.uint8)[nearest]
    return lut[inverse.ravel()].reshape(rgb.shape[:2])


def to_binary(mask: np.ndarray, *, threshold: int = 128) -> np.ndarray:
    """Turn a raw mask into the binary convention.

    A mask whose values are already within {0, 1} is kept as it is (label maps); otherwise a
    pixel is tampered when its largest channel is >= ``threshold`` (grey or colour 0/255
    masks, JPEG-noisy masks).

    Args:
        mask: (H, W) or (H, W, C) uint8 raw mask.
        threshold: grey level (0-255) from which a pixel counts as tampered.

    Returns:
        (H, W) uint8 in {0, 1}.
    """
    if mask.ndim == 3:
        mask = mask.max(axis=2)
    if mask.max(initial=0) <= 1:
        return mask.astype(np.uint8, copy=True)
    return (mask >= threshold).astype(np.uint8)


def to_three_class(
    mask: np.ndarray,
    *,
    palette: Mapping[int, Sequence[tuple[int, int, int]]] = THREE_CLASS_PALETTE,
    tolerance: float = DEFAULT_COLOUR_TOLERANCE,
    path: str | Path = "<array>",
) -> np.ndarray:
    """Turn a raw mask into the 3-class convention.

    Single-channel masks must already be label maps with values in {0, 1, 2}; colour masks are
    decoded with :func:`decode_colour_mask`.

    Args:
        mask: (H, W) uint8 label map or (H, W, 3) uint8 colour mask.
        palette: colours of the classes for colour masks.
        tolerance: nearest-colour tolerance (Euclidean RGB distance).
        path: file name used in error messages.

    Returns:
        (H, W) uint8 in {0 pristine, 1 source, 2 target}.

    Raises:
        ImageReadError: a single-channel mask holds values other than 0, 1, 2, or a colour
            mask does not match the palette.
    """
    if mask.ndim == 2:
        if mask.max(initial=0) > TARGET:
            values = np.unique(mask)[:8].tolist()
            raise ImageReadError(
                path,
                f"single-channel 3-class mask must hold values 0, 1, 2; found {values}",
            )
        return mask.astype(np.uint8, copy=True)
    return decode_colour_mask(mask, palette, tolerance=tolerance, path=path)


def resize_mask(mask: np.ndarray, shape: tuple[int, int], *, path: str | Path) -> np.ndarray:
    """Bring a mask to its image's size (nearest neighbour), warning when it had to.

    Args:
        mask: (h, w) uint8 class map (binary or 3-class).
        shape: (H, W) of the image, in pixels.
        path: the mask file, named in the warning.

    Returns:
        (H, W) uint8 with the same class values; ``mask`` itself when the sizes already agree.

    Warns:
        UserWarning: naming the file and both sizes, whenever a resize happens.
    """
    height, width = int(shape[0]), int(shape[1])
    if mask.shape[:2] == (height, width):
        return mask
    warnings.warn(
        f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image is {width}x{height}; "
        "resized with nearest neighbour",
        UserWarning,
        stacklevel=2,
    )
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)


def read_binary_mask(
    path: str | Path, shape: tuple[int, int] | None = None, *, threshold: int = 128
) -> np.ndarray:
    """Read a mask file as a binary mask, resized to ``shape`` when given.

    Args:
        path: mask file (any format :func:`~tamperscope.io.read_mask` reads).
        shape: (H, W) of the image in pixels, or ``None`` to keep the file's size.
        threshold: grey level (0-255) from which a pixel counts as tampered.

    Returns:
        (H, W) uint8 in {0, 1}.

    Raises:
        ImageReadError: the file cannot be decoded.

    Warns:
        UserWarning: the mask was resized to the image size.
    """
    mask = to_binary(read_mask(path), threshold=threshold)
    return mask if shape is None else resize_mask(mask, shape, path=path)


def read_three_class_mask(
    path: str | Path,
    shape: tuple[int, int] | None = None,
    *,
    palette: Mapping[int, Sequence[tuple[int, int, int]]] = THREE_CLASS_PALETTE,
    tolerance: float = DEFAULT_COLOUR_TOLERANCE,
) -> np.ndarray:
    """Read a 3-class mask file (label map or colour mask), resized to ``shape`` when given.

    Args:
        path: mask file.
        shape: (H, W) of the image in pixels, or ``None``.
        palette: colours of the classes for colour masks.
        tolerance: nearest-colour tolerance (Euclidean RGB distance).

    Returns:
        (H, W) uint8 in {0 pristine, 1 source, 2 target}.

    Raises:
        ImageReadError: the file cannot be decoded or does not match the palette.

    Warns:
        UserWarning: the mask was resized to the image size.
    """
    mask = to_three_class(read_mask(path), palette=palette, tolerance=tolerance, path=path)
    return mask if shape is None else resize_mask(mask, shape, path=path)


def compose_three_class(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Combine binary source and target masks into one 3-class mask.

    Where the two overlap the pixel is labelled target: in the forged image the pasted copy
    covers whatever was there.

    Args:
        source: (H, W) uint8/bool, nonzero on the copied region.
        target: (H, W) uint8/bool, nonzero on the pasted copy.

    Returns:
        (H, W) uint8 in {0 pristine, 1 source, 2 target}.

    Raises:
        ValueError: the two masks differ in shape.
    """
    if source.shape != target.shape:
        raise ValueError(f"source mask {source.shape} and target mask {target.shape} differ")
    out = np.zeros(source.shape, dtype=np.uint8)
    out[source.astype(bool)] = SOURCE
    out[target.astype(bool)] = TARGET
    return out


_MASK_SUFFIXES = ("_gt", "-gt", "_mask", "-mask", "gt", "mask")


def normalize_stem(stem: str, *, strip: Iterable[str] = _MASK_SUFFIXES) -> str:
    """Lower-case a file stem and drop one mask suffix (``_gt``, ``_mask``, ...).

    Used to match an image with its mask despite the naming slips of public releases
    (``_gt`` missing, upper-case extension or name, ``.tif`` instead of ``.png``).
    """
    low = stem.lower()
    for suffix in strip:
        if low.endswith(suffix) and len(low) > len(suffix):
            return low[: -len(suffix)]
    return low


class StemIndex:
    """Files of one or more folders indexed by their normalized stem, for mask look-ups.

    Args:
        files: the candidate files (e.g. every mask of a dataset).
        strip: suffixes removed from stems before indexing (see :func:`normalize_stem`).
    """

    def __init__(self, files: Iterable[Path], *, strip: Iterable[str] = _MASK_SUFFIXES) -> None:
        self._strip = tuple(strip)
        self._by_stem: dict[str, list[Path]] = {}
        for f in sorted(files):
            self._by_stem.setdefault(normalize_stem(f.stem, strip=self._strip), []).append(f)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_stem.values())

    def find(self, stem: str) -> Path | None:
        """The file whose normalized stem equals ``stem``'s; PNG preferred when several."""
        hits = self._by_stem.get(normalize_stem(stem, strip=self._strip))
        if not hits:
            return None
        hits = sorted(hits, key=lambda p: (p.suffix.lower() != ".png", str(p)))
        return hits[0]

    def stems(self) -> list[str]:
        """Normalized stems of all indexed files, sorted."""
        return sorted(self._by_stem)


def find_by_stem(
    folder: str | Path, stem: str, *, suffixes: Iterable[str] = IMAGE_EXTENSIONS
) -> Path | None:
    """Find ``folder/stem.<ext>`` for any image extension, ignoring case.

    Args:
        folder: directory to look in.
        stem: file name without extension.
        suffixes: accepted extensions (with the dot, lower case).

    Returns:
        The file, or ``None`` when there is none. An exact-case match wins; then ``.png``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    allowed = {s.lower() for s in suffixes}
    hits = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in allowed and p.stem.lower() == stem.lower()
    ]
    if not hits:
        return None
    hits.sort(key=lambda p: (p.stem != stem, p.suffix.lower() != ".png", p.name))
    return hits[0]


def natural_key(text: str) -> tuple:
    """Sort key ordering embedded numbers by value (``2`` before ``10``)."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text))


def unique_names(paths: Sequence[Path], root: Path) -> list[str]:
    """Sample names for files: the path relative to ``root`` without extension, POSIX style.

    Files that would share a name (``a.jpg`` beside ``a.png``) keep their extension.

    Args:
        paths: files under ``root``.
        root: the dataset root.

    Returns:
        One name per path, in the same order, all distinct.
    """
    rel = [p.relative_to(root) if p.is_relative_to(root) else Path(p.name) for p in paths]
    bare = [r.with_suffix("").as_posix() for r in rel]
    seen: dict[str, int] = {}
    for b in bare:
        seen[b] = seen.get(b, 0) + 1
    return [r.as_posix() if seen[b] > 1 else b for r, b in zip(rel, bare, strict=True)]
