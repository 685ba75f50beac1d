"""Reader of the HDF5 test sets published with BusterNet (CASIA-CMFD, CoMoFoD-CMFD).

Y. Wu, W. Abd-Almageed and P. Natarajan, "BusterNet: Detecting copy-move image forgery with
source/target localization", ECCV 2018 (https://github.com/isi-vista/BusterNet).

What the files hold, as BusterNet's own notebooks read them:

* ``X``: (N, 256, 256, 3) images. In the published files they are already passed through Keras'
  VGG16 ``preprocess_input``: float32, BGR, ImageNet BGR means (103.939, 116.779, 123.68)
  subtracted. Undone here (means added back, rounded, BGR -> RGB). uint8 files are taken as RGB.
* ``Y``: (M, 256, 256, 3) one-hot masks, channels (target, source, pristine): red = target,
  green = source, blue = pristine. A single channel is read as a binary mask.
* Names, when present: ``keys`` or ``XN`` (one per image) and ``YN`` (one per mask). In
  CoMoFoD-CMFD.hd5 there are fewer masks than images: image ``"001_F_JC5"`` uses mask ``"001"``;
  images are matched to masks through ``YN`` by the part of the name before ``_F``.
  Without names, image ``i`` uses mask ``i`` and is named ``"000i"`` (zero-padded).

The file is opened lazily (on first access, and again in each DataLoader worker).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from tamperscope.data.base import ForgeryDataset, register_dataset
from tamperscope.data.comofod import ATTACKS, attack_meta
from tamperscope.errors import DatasetError, ImageReadError
from tamperscope.types import PRISTINE, SOURCE, TARGET, MaskKind, Sample

#: ImageNet channel means in BGR order, as subtracted by Keras' VGG16 preprocess_input.
VGG_BGR_MEANS = np.array([103.939, 116.779, 123.68], dtype=np.float64)
_SUFFIXES = (".hd5", ".h5", ".hdf5", ".hdf")
_COMOFOD_NAME = re.compile(r"^(\d+)_F(?:_([A-Za-z]{2})(\d+))?$")
_CHANNELS = ("target", "source", "pristine")


def _decode_names(values: Any) -> list[str]:
    return [
        v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()
    ]


@register_dataset("busternet-hdf5")
class BusterNetHDF5Dataset(ForgeryDataset):
    """Images and 3-class masks of a BusterNet HDF5 file.

    Args:
        root: the ``.hd5``/``.h5`` file, or a folder holding exactly one.
        preprocessing: how ``X`` is stored: ``"auto"`` (uint8 = RGB; float with negative values
            = VGG; float in [0, 1] = RGB scaled to 1; other floats = RGB 0-255), ``"vgg"``,
            ``"rgb"`` or ``"bgr"``.
        channels: the meaning of ``Y``'s channels, in order (default target, source, pristine).
        threshold: a one-hot channel is on when its value is > threshold.

    Raises:
        DatasetError: no HDF5 file, no ``X``/``Y`` datasets, shapes that do not fit, or an
            unknown ``preprocessing`` / ``channels`` value.
    """

    kind = "busternet-hdf5"
    mask_kind: MaskKind = "three_class"

    def __init__(
        self,
        root: str | Path,
        *,
        preprocessing: str = "auto",
        channels: tuple[str, str, str] = _CHANNELS,
        threshold: float = 0.5,
    ) -> None:
        import h5py

        self.path = self._find_file(Path(root))
        if preprocessing not in ("auto", "vgg", "rgb", "bgr"):
            raise DatasetError(
                f"preprocessing must be auto, vgg, rgb or bgr; got {preprocessing!r}"
            )
        if sorted(channels) != sorted(_CHANNELS):
            raise DatasetError(f"channels must order {', '.join(_CHANNELS)}; got {channels!r}")
        self.channels = tuple(channels)
        self.threshold = threshold
        self._file: Any = None
        try:
            with h5py.File(self.path, "r") as f:
                for key in ("X", "Y"):
                    if key not in f:
                        raise DatasetError(
                            f"{self.path}: no dataset {key!r} (expected X images and Y masks as "
                            f"in BusterNet's files; found {', '.join(sorted(f.keys()))})"
                        )
                x, y = f["X"], f["Y"]
                if x.ndim != 4 or x.shape[-1] != 3 or y.ndim not in (3, 4):
                    raise DatasetError(
                        f"{self.path}: expected X of shape (N, H, W, 3) and Y of shape "
                        f"(M, H, W, 3); got {x.shape} and {y.shape}"
                    )
                n, m = x.shape[0], y.shape[0]
                x_names = next((_decode_names(f[k][()]) for k in ("keys", "XN") if k in f), None)
                y_names = _decode_names(f["YN"][()]) if "YN" in f else None
                first = np.asarray(x[0]) if n else np.zeros((1, 1, 3), np.uint8)
                single_channel = y.ndim == 3 or y.shape[-1] == 1
        except OSError as exc:
            raise DatasetError(f"{self.path}: cannot open as HDF5 ({exc})") from exc
        if preprocessing == "auto":
            if first.dtype == np.uint8:
                preprocessing = "rgb"
            elif float(first.min()) < 0:
                preprocessing = "vgg"
            else:
                preprocessing = "rgb"
        self.preprocessing = preprocessing
        self.mask_kind = "binary" if single_channel else "three_class"
        self._names = x_names if x_names is not None else [f"{i:06d}" for i in range(n)]
        if len(self._names) != n or len(set(self._names)) != n:
            raise DatasetError(f"{self.path}: image names are not {n} distinct values")
        self._mask_index = self._match_masks(n, m, self._names, y_names)

    @staticmethod
    def _find_file(root: Path) -> Path:
        if root.is_file():
            return root
        files = sorted(p for p in root.iterdir() if p.suffix.lower() in _SUFFIXES)
        if len(files) != 1:
            raise DatasetError(
                f"{root}: expected one HDF5 file ({', '.join(_SUFFIXES)}), found {len(files)}; "
                "pass the file itself"
            )
        return files[0]

    def _match_masks(
        self, n: int, m: int, names: list[str], y_names: list[str] | None
    ) -> list[int]:
        if y_names is not None and m != n:
            lookup = {y: j for j, y in enumerate(y_names)}
            index = []
            for name in names:
                match = _COMOFOD_NAME.match(name)
                key = match.group(1) if match else name.split("_")[0]
                if key not in lookup:
                    raise DatasetError(
                        f"{self.path}: no mask named {key!r} in YN for image {name!r}"
                    )
                index.append(lookup[key])
            return index
        if m != n:
            raise DatasetError(
                f"{self.path}: {n} images but {m} masks and no YN names to match them"
            )
        return list(range(n))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_file"] = None  # h5py handles do not cross process boundaries
        return state

    def _h5(self) -> Any:
        if self._file is None:
            import h5py

            self._file = h5py.File(self.path, "r")
        return self._file

    def __len__(self) -> int:
        return len(self._names)

    def names(self) -> list[str]:
        return list(self._names)

    def decode_image(self, x: np.ndarray) -> np.ndarray:
        """Turn one stored ``X`` entry into (H, W, 3) uint8 RGB (see ``preprocessing``)."""
        x = np.asarray(x)
        if self.preprocessing == "vgg":
            rgb = (x.astype(np.float64) + VGG_BGR_MEANS)[..., ::-1]
        else:
            rgb = x.astype(np.float64) if x.dtype != np.uint8 else x
            if self.preprocessing == "bgr":
                rgb = rgb[..., ::-1]
            if rgb.dtype != np.uint8 and float(rgb.max(initial=0)) <= 1.0:
                rgb = rgb * 255.0
        if rgb.dtype != np.uint8:
            rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(rgb)

    def decode_mask(self, y: np.ndarray) -> np.ndarray:
        """Turn one stored ``Y`` entry into a (H, W) uint8 mask.

        Three channels give the 3-class convention (target wins where channels overlap); a
        single channel gives a binary mask.
        """
        y = np.asarray(y)
        if y.ndim == 2 or y.shape[-1] == 1:
            return (y.reshape(y.shape[:2]) > self.threshold).astype(np.uint8)
        on = y.astype(np.float32) > self.threshold
        out = np.full(y.shape[:2], PRISTINE, dtype=np.uint8)
        out[on[..., self.channels.index("source")]] = SOURCE
        out[on[..., self.channels.index("target")]] = TARGET
        return out

    def load(self, index: int) -> Sample:
        f = self._h5()
        name = self._names[index]
        where = f"{self.path}[{index}] ({name})"
        try:
            image = self.decode_image(f["X"][index])
            mask = self.decode_mask(f["Y"][self._mask_index[index]])
        except (OSError, ValueError, KeyError) as exc:
            raise ImageReadError(where, f"cannot read from HDF5 ({exc})") from exc
        meta: dict[str, Any] = {
            "file": str(self.path),
            "index": index,
            "mask_index": self._mask_index[index],
        }
        if (match := _COMOFOD_NAME.match(name)) and match.group(2) in (None, *ATTACKS):
            level = int(match.group(3)) if match.group(3) else None
            meta |= {"id": int(match.group(1)), **attack_meta(match.group(2), level)}
        return Sample(
            image=image,
            mask=mask,
            mask_kind=self.mask_kind,
            label=int(bool(mask.any())),
            name=name,
            path=where,
            meta=meta,
        )
