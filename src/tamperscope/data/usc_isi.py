"""Reader of USC-ISI CMFD, BusterNet's synthetic copy-move set, stored in LMDB.

Y. Wu, W. Abd-Almageed and P. Natarajan, "BusterNet: Detecting copy-move image forgery with
source/target localization", ECCV 2018 (https://github.com/isi-vista/BusterNet,
``Data/USCISI-CMFD-Small``).

``root`` is the LMDB folder (``data.mdb``, ``lock.mdb``), usually with ``samples.keys`` (one key
per line; the published list repeats some keys, which are read once). Two value layouts are
read, detected from the first key:

* the published one (BusterNet's ``api.py``): the value of ``<key>`` is a JSON object with
  ``image_jpeg_buffer`` (the JPEG file as a list of byte values, or base64 text),
  ``image_height``, ``image_width``, ``source_contour`` and ``target_contour`` (lists of
  polygons, each a flat list of x, y pixel coordinates) and ``transform_matrix`` (3x3, kept in
  ``meta``). Masks are the filled polygons; target wins where they overlap.
* a re-packed one: ``<key>-image`` holds an encoded image (JPEG/PNG bytes) and ``<key>-mask`` an
  encoded mask, either a colour mask (red = target, green = source, blue = pristine) or a label
  map with values 0/1/2.

Without ``samples.keys`` the keys are listed from the database (the ``-image`` keys of the
second layout). Needs the optional ``lmdb`` package: ``pip install tamperscope[lmdb]``.
"""

from __future__ import annotations

import base64
import io
import json
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from tamperscope.data.base import ForgeryDataset, register_dataset
from tamperscope.data.masks import compose_three_class, resize_mask, to_three_class
from tamperscope.errors import DatasetError, ImageReadError
from tamperscope.types import Sample

_INSTALL_HINT = "reading USC-ISI CMFD needs the lmdb package: pip install tamperscope[lmdb]"


def _import_lmdb() -> Any:
    try:
        import lmdb
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return lmdb


def decode_bytes(data: bytes, where: str, *, mask: bool = False) -> np.ndarray:
    """Decode encoded image bytes (JPEG, PNG, ...).

    Args:
        data: the encoded file.
        where: what to name in errors (``root::key``).
        mask: decode as a mask (no colour conversion beyond dropping alpha; grey stays 2-D).

    Returns:
        (H, W, 3) uint8 RGB, or for masks (H, W) / (H, W, 3) uint8.

    Raises:
        ImageReadError: the bytes are not a decodable image.
    """
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageReadError(where, f"cannot decode image bytes ({exc})") from exc
    if mask and img.mode in ("L", "P", "1", "I;16"):
        arr = np.asarray(img.convert("L"))
    else:
        arr = np.asarray(img.convert("RGB"))
    return np.ascontiguousarray(arr)


def _polygons_mask(contours: Any, height: int, width: int) -> np.ndarray:
    out = np.zeros((height, width), dtype=np.uint8)
    polys = [
        np.asarray(c, dtype=np.float64).reshape(-1, 1, 2).round().astype(np.int32)
        for c in contours or []
    ]
    if polys:
        cv2.fillPoly(out, polys, 1)
    return out


@register_dataset("usc-isi")
class USCISIDataset(ForgeryDataset):
    """USC-ISI CMFD samples with 3-class masks (all forged, label 1).

    Args:
        root: the LMDB folder.
        keys_file: the key list; default ``root/samples.keys`` when it exists.
        limit: read only the first ``limit`` keys (the full set has 100k samples).

    Raises:
        ImportError: ``lmdb`` is not installed (says how to install it).
        DatasetError: ``root`` is not an LMDB folder, has no keys, or its values have neither
            layout.

    Warns:
        UserWarning: duplicate keys in the key list (read once).
    """

    kind = "usc-isi"
    mask_kind = "three_class"

    def __init__(
        self, root: str | Path, *, keys_file: str | Path | None = None, limit: int | None = None
    ) -> None:
        lmdb = _import_lmdb()
        root = Path(root)
        if not (root / "data.mdb").is_file():
            raise DatasetError(
                f"{root}: not an LMDB folder: expected data.mdb (and samples.keys) as in "
                "BusterNet's USCISI-CMFD release"
            )
        self.root = root
        self._env: Any = None
        keys_path = Path(keys_file) if keys_file is not None else root / "samples.keys"
        env = lmdb.open(str(root), readonly=True, lock=False, readahead=False, subdir=True)
        try:
            with env.begin(write=False) as txn:
                if keys_path.is_file():
                    raw = [k.strip() for k in keys_path.read_text().splitlines() if k.strip()]
                    keys = list(dict.fromkeys(raw))
                    if len(keys) != len(raw):
                        warnings.warn(
                            f"{keys_path}: {len(raw) - len(keys)} duplicate key(s) read once",
                            UserWarning,
                            stacklevel=2,
                        )
                else:
                    keys = sorted(
                        k.decode()[: -len("-image")]
                        for k, _ in txn.cursor()
                        if k.decode(errors="replace").endswith("-image")
                    )
                if limit is not None:
                    keys = keys[:limit]
                if not keys:
                    raise DatasetError(
                        f"{root}: no sample keys (no samples.keys and no *-image keys)"
                    )
                self.layout = self._detect_layout(txn, keys[0])
        finally:
            env.close()
        self._keys = keys

    def _detect_layout(self, txn: Any, key: str) -> str:
        if txn.get(f"{key}-image".encode()) is not None:
            return "pair"
        value = txn.get(key.encode())
        if value is not None:
            try:
                lut = json.loads(value)
            except (ValueError, UnicodeDecodeError):
                lut = None
            if isinstance(lut, dict) and "image_jpeg_buffer" in lut:
                return "json"
        raise DatasetError(
            f"{self.root}: key {key!r} has neither a JSON record with image_jpeg_buffer nor "
            f"{key}-image / {key}-mask entries"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_env"] = None  # LMDB environments do not cross process boundaries
        return state

    def _txn_get(self, key: str) -> bytes | None:
        if self._env is None:
            lmdb = _import_lmdb()
            self._env = lmdb.open(
                str(self.root), readonly=True, lock=False, readahead=False, subdir=True
            )
        with self._env.begin(write=False) as txn:
            value = txn.get(key.encode())
        return None if value is None else bytes(value)

    def __len__(self) -> int:
        return len(self._keys)

    def names(self) -> list[str]:
        return list(self._keys)

    def load(self, index: int) -> Sample:
        key = self._keys[index]
        where = f"{self.root}::{key}"
        meta: dict[str, Any] = {"key": key, "layout": self.layout}
        if self.layout == "json":
            raw = self._txn_get(key)
            if raw is None:
                raise ImageReadError(where, "key not found in the LMDB")
            try:
                lut = json.loads(raw)
                buf = lut["image_jpeg_buffer"]
                data = base64.b64decode(buf) if isinstance(buf, str) else bytes(bytearray(buf))
                height, width = int(lut["image_height"]), int(lut["image_width"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ImageReadError(where, f"malformed USC-ISI record ({exc})") from exc
            image = decode_bytes(data, where)
            if image.shape[:2] != (height, width):
                raise ImageReadError(
                    where,
                    f"image is {image.shape[1]}x{image.shape[0]}, record says {width}x{height}",
                )
            source = _polygons_mask(lut.get("source_contour"), height, width)
            target = _polygons_mask(lut.get("target_contour"), height, width)
            mask = compose_three_class(source, target)
            if "transform_matrix" in lut:
                meta["transform_matrix"] = (
                    np.asarray(lut["transform_matrix"], dtype=np.float64).reshape(3, 3).tolist()
                )
        else:
            raw_image, raw_mask = self._txn_get(f"{key}-image"), self._txn_get(f"{key}-mask")
            if raw_image is None or raw_mask is None:
                raise ImageReadError(where, "missing -image or -mask entry")
            image = decode_bytes(raw_image, f"{where}-image")
            mask = to_three_class(
                decode_bytes(raw_mask, f"{where}-mask", mask=True), path=f"{where}-mask"
            )
            mask = resize_mask(mask, image.shape[:2], path=f"{where}-mask")
        return Sample(
            image=image,
            mask=mask,
            mask_kind="three_class",
            label=1,
            name=key,
            path=where,
            meta=meta,
        )
