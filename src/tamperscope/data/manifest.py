"""Reader of a generic manifest: a CSV or JSON-lines file listing images and masks.

Single images, one row each::

    image,mask,label,mask_kind
    photos/a.jpg,masks/a.png,1,binary
    photos/b.jpg,,0,

Columns: ``image`` (required); ``mask`` (optional; empty or absent = no ground truth);
``label`` (optional; default 1 when the mask has tampered pixels, 0 when it has none, -1 when
there is no mask); ``mask_kind`` (optional, ``binary`` or ``three_class``; default the reader's
``mask_kind``); ``name`` (optional; default the image path without extension). Other columns go
to ``sample["meta"]``.

Probe/donor pairs, one row each: ``probe``, ``donor`` (required), ``probe_mask``,
``donor_mask``, ``label``, ``pair_type``, ``name`` (optional). A manifest with a ``probe``
column is read as pairs.

Paths are relative to the manifest file (absolute paths are kept). JSON lines hold one object
per line with the same keys (``null`` for absent values).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from tamperscope.data._records import Record, RecordDataset
from tamperscope.data.base import PairDataset, register_dataset
from tamperscope.data.masks import read_binary_mask, read_three_class_mask, unique_names
from tamperscope.errors import DatasetError
from tamperscope.io import read_image
from tamperscope.types import MaskKind, PairSample, Sample

_MANIFEST_NAMES = ("manifest.jsonl", "manifest.csv", "manifest.json")
_MASK_KINDS = ("binary", "three_class")


def find_manifest(root: Path) -> Path:
    """The manifest file: ``root`` itself, or ``root/manifest.{jsonl,csv}``.

    Raises:
        DatasetError: ``root`` is a folder without a manifest file.
    """
    if root.is_file():
        return root
    for name in _MANIFEST_NAMES:
        if (root / name).is_file():
            return root / name
    raise DatasetError(f"{root}: no manifest file (expected one of {', '.join(_MANIFEST_NAMES)})")


def read_manifest_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV (header line) or JSON-lines manifest, empty CSV cells as ``None``.

    Raises:
        DatasetError: a JSON line does not parse or is not an object (names the line), or the
            file is empty.
    """
    text = path.read_text(encoding="utf-8-sig")
    rows: list[dict[str, Any]] = []
    if path.suffix.lower() == ".csv":
        for row in csv.DictReader(text.splitlines()):
            rows.append({k.strip(): (v if v not in ("", None) else None) for k, v in row.items()})
    else:
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise DatasetError(f"{path}:{lineno}: expected a JSON object per line")
            rows.append(obj)
    if not rows:
        raise DatasetError(f"{path}: manifest has no rows")
    return rows


def parse_label(value: Any, where: str) -> int | None:
    """An image label from a manifest cell (``None`` when absent).

    Raises:
        DatasetError: the value is not one of -1, 0, 1.
    """
    if value is None:
        return None
    try:
        label = int(float(value)) if not isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        label = None
    if label not in (-1, 0, 1):
        raise DatasetError(f"{where}: label must be 0, 1 or -1, got {value!r}")
    return label


def _resolve(base: Path, value: Any) -> Path | None:
    return None if value in (None, "") else base / str(value)


def _read_any_mask(path: Path, kind: str, shape: tuple[int, int]) -> np.ndarray:
    if kind == "three_class":
        return read_three_class_mask(path, shape)
    return read_binary_mask(path, shape)


class ManifestDataset(RecordDataset):
    """Single images listed by a manifest (see the module docstring).

    Args:
        root: the manifest file, or a folder holding ``manifest.jsonl``/``manifest.csv``.
        mask_kind: convention of masks whose row gives no ``mask_kind``.
        load_original: read an ``original`` column into ``sample["original"]``.

    Raises:
        DatasetError: no manifest, a row without ``image``, a bad label or mask kind, or two
            rows with the same name.
    """

    kind = "manifest"

    def __init__(
        self, root: str | Path, *, mask_kind: MaskKind = "binary", load_original: bool = False
    ) -> None:
        path = find_manifest(Path(root))
        rows = read_manifest_rows(path)
        base = path.parent
        if mask_kind not in _MASK_KINDS:
            raise DatasetError(f"mask_kind must be binary or three_class, got {mask_kind!r}")
        images: list[Path] = []
        for i, row in enumerate(rows, start=1):
            if not row.get("image"):
                raise DatasetError(
                    f"{path}: row {i} has no 'image' (expected columns image, mask, label, "
                    "mask_kind; or probe, donor, probe_mask, donor_mask, label for pairs)"
                )
            images.append(base / str(row["image"]))
        default_names = unique_names(images, base)
        records = []
        kinds = set()
        for i, (row, image, default) in enumerate(zip(rows, images, default_names, strict=True)):
            where = f"{path}: row {i + 1}"
            kind = row.get("mask_kind") or mask_kind
            if kind not in _MASK_KINDS:
                raise DatasetError(
                    f"{where}: mask_kind must be binary or three_class, got {kind!r}"
                )
            kinds.add(kind)
            mask = _resolve(base, row.get("mask"))
            label = parse_label(row.get("label"), where)
            extra = {
                k: v
                for k, v in row.items()
                if k not in ("image", "mask", "label", "mask_kind", "name", "original")
            }
            records.append(
                Record(
                    name=str(row.get("name") or default),
                    image=image,
                    label=-1 if label is None else label,
                    mask_kind=kind,
                    masks={"mask": mask} if mask is not None else {},
                    original=_resolve(base, row.get("original")),
                    meta=extra | {"label_given": label is not None},
                )
            )
        self.mask_kind = kinds.pop() if len(kinds) == 1 else mask_kind
        self.manifest = path
        super().__init__(records, load_original=load_original)

    def read_mask(self, record: Record, shape: tuple[int, int]) -> np.ndarray | None:
        path = record.masks.get("mask")
        return None if path is None else _read_any_mask(path, record.mask_kind, shape)

    def load(self, index: int) -> Sample:
        sample = super().load(index)
        if not sample["meta"].pop("label_given") and sample["mask"] is not None:
            sample["label"] = int(bool(sample["mask"].any()))
        return sample


class ManifestPairDataset(PairDataset):
    """Probe/donor pairs listed by a manifest with ``probe`` and ``donor`` columns.

    Args:
        root: the manifest file, or a folder holding it.

    Raises:
        DatasetError: no manifest, a row without ``probe`` or ``donor``, a bad label, or two
            rows with the same name.
    """

    kind = "manifest-pairs"

    def __init__(self, root: str | Path) -> None:
        path = find_manifest(Path(root))
        rows = read_manifest_rows(path)
        base = path.parent
        self._rows: list[dict[str, Any]] = []
        for i, row in enumerate(rows, start=1):
            if not row.get("probe") or not row.get("donor"):
                raise DatasetError(f"{path}: row {i} needs both 'probe' and 'donor'")
            label = parse_label(row.get("label"), f"{path}: row {i}")
            probe, donor = base / str(row["probe"]), base / str(row["donor"])
            name = str(row.get("name") or f"{probe.stem}__{donor.stem}")
            self._rows.append(
                {
                    "name": name,
                    "probe": probe,
                    "donor": donor,
                    "probe_mask": _resolve(base, row.get("probe_mask")),
                    "donor_mask": _resolve(base, row.get("donor_mask")),
                    "label": label,
                    "pair_type": str(row.get("pair_type") or "unknown"),
                    "meta": {
                        k: v
                        for k, v in row.items()
                        if k not in ("probe", "donor", "probe_mask", "donor_mask", "label", "name")
                        and k != "pair_type"
                    },
                }
            )
        names = [r["name"] for r in self._rows]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})[:5]
            raise DatasetError(f"{path}: duplicate pair names {dupes}")
        self.manifest = path

    def __len__(self) -> int:
        return len(self._rows)

    def names(self) -> list[str]:
        return [r["name"] for r in self._rows]

    def load(self, index: int) -> PairSample:
        return load_pair(self._rows[index])


def load_pair(row: dict[str, Any]) -> PairSample:
    """Decode one pair row (paths already resolved) into a :class:`PairSample`.

    The label defaults to 1 when the probe mask has shared pixels, 0 when it has none, and -1
    when neither label nor masks are given.

    Raises:
        ImageReadError: an image or mask cannot be decoded.
    """
    probe, donor = read_image(row["probe"]), read_image(row["donor"])
    pm = None if row["probe_mask"] is None else read_binary_mask(row["probe_mask"], probe.shape[:2])
    dm = None if row["donor_mask"] is None else read_binary_mask(row["donor_mask"], donor.shape[:2])
    label = row["label"]
    if label is None:
        label = -1 if pm is None else int(bool(pm.any()))
    sample = PairSample(
        probe=probe,
        donor=donor,
        probe_mask=pm,
        donor_mask=dm,
        label=label,
        pair_type=row["pair_type"],
        name=row["name"],
        probe_path=str(row["probe"]),
        donor_path=str(row["donor"]),
    )
    sample["meta"] = dict(row.get("meta", {}))
    return sample


@register_dataset("manifest")
def open_manifest(root: str | Path, **kwargs: Any) -> ManifestDataset | ManifestPairDataset:
    """Open a manifest as single images, or as pairs when it has a ``probe`` column.

    Args:
        root: the manifest file, or a folder holding ``manifest.jsonl``/``manifest.csv``.
        **kwargs: passed to :class:`ManifestDataset` (single images only).

    Raises:
        DatasetError: see :class:`ManifestDataset` and :class:`ManifestPairDataset`.
    """
    path = find_manifest(Path(root))
    rows = read_manifest_rows(path)
    if "probe" in rows[0]:
        if kwargs:
            raise DatasetError(f"options {sorted(kwargs)} do not apply to a pair manifest")
        return ManifestPairDataset(path)
    return ManifestDataset(path, **kwargs)
