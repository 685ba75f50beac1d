"""Reader of the synthetic sets written by ``tamperscope synth``.

Layout (paths in the manifest are relative to ``OUT``)::

    OUT/config.json        the resolved generation config
    OUT/manifest.jsonl     one JSON object per line:

    {"kind": "copy-move", "index", "name", "image", "mask", "original", "label",
     "mask_kind": "three_class", "group", "area_fraction", "params", ...}   mask PNG 0/1/2
    {"kind": "inpainting", "index", "name", "image", "mask", "original", "label",
     "mask_kind": "binary", "bbox": [xmin, ymin, xmax, ymax] or null, ...}  mask PNG 0/255
    {"kind": "splice", "index", "name", "image" (.png or .jpg), "mask", "original", "label",
     "mask_kind": "binary", "bbox", "donor_image", "params", ...}          mask PNG 0/255
    {"kind": "splice-pair", "index", "name", "probe", "donor", "probe_mask", "donor_mask",
     "label", "pair_type": "foreground|background|negative", "group", "transform", ...}

Design: single-image lines (copy-move, inpainting, splice) are read by
:class:`GeneratedDataset`, pair lines by :class:`GeneratedPairDataset`.
``open_dataset("generated", OUT)`` returns the first when the manifest has any single-image
line and the second when it holds only pairs; ``open_dataset("generated-pairs", OUT)`` always
returns the pairs. Every sample's ``meta`` is its
manifest line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from tamperscope.data._records import Record, RecordDataset
from tamperscope.data.base import PairDataset, register_dataset
from tamperscope.data.manifest import load_pair, parse_label, read_manifest_rows
from tamperscope.data.masks import read_binary_mask, read_three_class_mask
from tamperscope.errors import DatasetError
from tamperscope.types import MaskKind, PairSample, Sample

IMAGE_KINDS = ("copy-move", "inpainting", "splice")
PAIR_KIND = "splice-pair"


def _manifest_path(root: Path) -> Path:
    path = root / "manifest.jsonl"
    if not path.is_file():
        raise DatasetError(
            f"{root}: not a generated set: expected {path.name} (and config.json) as written "
            "by `tamperscope synth`"
        )
    return path


def _as_set(value: Any) -> set[str] | None:
    if value is None:
        return None
    if isinstance(value, str | int):
        return {str(value)}
    return {str(v) for v in value}


def transforms_of(record: dict[str, Any]) -> list[str]:
    """Names of the transforms a manifest line records.

    Looks at ``transform`` and ``params.transform``/``params.transforms``; each may be a name,
    a dict with a ``name``/``kind``/``type`` key, or a list of either.
    """
    raw = record.get("params")
    params: dict[str, Any] = raw if isinstance(raw, dict) else {}
    found: list[str] = []

    def add(value: Any) -> None:
        if value is None:
            return
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            found.extend(str(value[k]) for k in ("name", "kind", "type") if k in value)
        elif isinstance(value, Iterable):
            for v in value:
                add(v)

    add(record.get("transform"))
    add(params.get("transform"))
    add(params.get("transforms"))
    return found


def _keep(rec: dict[str, Any], groups, transforms, label) -> bool:  # noqa: ANN001
    if groups is not None and str(rec.get("group")) not in groups:
        return False
    if transforms is not None and not transforms & set(transforms_of(rec)):
        return False
    return label is None or rec.get("label") == label


def _read_config(root: Path) -> dict[str, Any]:
    path = root / "config.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc.msg})") from exc


@register_dataset("generated-images")
class GeneratedDataset(RecordDataset):
    """Copy-move, inpainting and single-image splice samples of a generated set.

    Copy-move samples have 3-class masks, inpainting and splice samples binary masks and
    ``sample["bbox"]`` (xmin, ymin, xmax, ymax, pixels) when the line gives one. When both
    kinds are present the dataset's :attr:`mask_kind` is ``"binary"`` and each sample keeps its
    own ``mask_kind``; ``binary=True`` turns every mask into the binary union.

    Args:
        root: the ``OUT`` folder of ``tamperscope synth``.
        kind: keep only ``"copy-move"``, ``"inpainting"`` or ``"splice"`` lines (default all).
        group: keep lines whose ``group`` is this value (or in this list).
        transform: keep lines recording this transform (or one of these), see
            :func:`transforms_of`.
        label: keep lines with this label (1 forged, 0 negative).
        binary: reduce 3-class masks to binary (source and target both 1).
        load_original: decode ``original`` into ``sample["original"]``.

    Raises:
        DatasetError: no ``manifest.jsonl``, a bad line, an unknown ``kind`` filter, or no
            single-image line left.
    """

    kind = "generated"

    def __init__(
        self,
        root: str | Path,
        *,
        kind: str | None = None,
        group: str | Iterable[str] | None = None,
        transform: str | Iterable[str] | None = None,
        label: int | None = None,
        binary: bool = False,
        load_original: bool = False,
    ) -> None:
        root = Path(root)
        path = _manifest_path(root)
        if kind is not None and kind not in IMAGE_KINDS:
            raise DatasetError(f"kind must be one of {', '.join(IMAGE_KINDS)}; got {kind!r}")
        kinds = (kind,) if kind else IMAGE_KINDS
        groups, transforms = _as_set(group), _as_set(transform)
        self.config = _read_config(root)
        self.binary = binary
        records: list[Record] = []
        for lineno, rec in enumerate(read_manifest_rows(path), start=1):
            if rec.get("kind") not in kinds or not _keep(rec, groups, transforms, label):
                continue
            where = f"{path}:{lineno}"
            if not rec.get("image"):
                raise DatasetError(f"{where}: {rec.get('kind')} line without 'image'")
            mask_kind: MaskKind = rec.get("mask_kind") or (
                "three_class" if rec["kind"] == "copy-move" else "binary"
            )
            if mask_kind not in ("binary", "three_class"):
                raise DatasetError(f"{where}: unknown mask_kind {mask_kind!r}")
            lab = parse_label(rec.get("label"), where)
            masks = {"mask": root / rec["mask"]} if rec.get("mask") else {}
            records.append(
                Record(
                    name=str(rec.get("name") or f"{int(rec.get('index', lineno - 1)):06d}"),
                    image=root / rec["image"],
                    label=1 if lab is None else lab,
                    mask_kind="binary" if binary else mask_kind,
                    masks=masks,
                    original=root / rec["original"] if rec.get("original") else None,
                    meta={**rec, "_mask_kind": mask_kind},
                )
            )
        if not records:
            raise DatasetError(
                f"{path}: no {' or '.join(kinds)} lines"
                + (" match the filters" if (groups or transforms or label is not None) else "")
            )
        present = {r.mask_kind for r in records}
        self.mask_kind = present.pop() if len(present) == 1 else "binary"
        self.root = root
        super().__init__(records, load_original=load_original)

    def read_mask(self, record: Record, shape: tuple[int, int]) -> np.ndarray | None:
        path = record.masks.get("mask")
        if path is None:
            return np.zeros(shape, dtype=np.uint8) if record.label == 0 else None
        if record.meta["_mask_kind"] == "three_class":
            mask = read_three_class_mask(path, shape)
            return (mask > 0).astype(np.uint8) if self.binary else mask
        return read_binary_mask(path, shape)

    def load(self, index: int) -> Sample:
        sample = super().load(index)
        sample["meta"].pop("_mask_kind", None)
        bbox = sample["meta"].get("bbox")
        sample["bbox"] = tuple(int(v) for v in bbox) if bbox else None  # type: ignore[typeddict-item]
        return sample


@register_dataset("generated-pairs")
class GeneratedPairDataset(PairDataset):
    """Splice pairs (probe/donor) of a generated set.

    Args:
        root: the ``OUT`` folder of ``tamperscope synth``.
        pair_type: keep ``"foreground"``, ``"background"`` or ``"negative"`` pairs (or a list).
        group: keep pairs whose ``group`` is this value (or in this list).
        transform: keep pairs recording this transform (or one of these).
        label: keep pairs with this label (1 correlated, 0 not).

    Raises:
        DatasetError: no ``manifest.jsonl``, a pair line without probe or donor, duplicate
            names, or no pair left.
    """

    kind = "generated-pairs"

    def __init__(
        self,
        root: str | Path,
        *,
        pair_type: str | Iterable[str] | None = None,
        group: str | Iterable[str] | None = None,
        transform: str | Iterable[str] | None = None,
        label: int | None = None,
    ) -> None:
        root = Path(root)
        path = _manifest_path(root)
        types, groups, transforms = _as_set(pair_type), _as_set(group), _as_set(transform)
        self.config = _read_config(root)
        self._rows: list[dict[str, Any]] = []
        for lineno, rec in enumerate(read_manifest_rows(path), start=1):
            if rec.get("kind") != PAIR_KIND or not _keep(rec, groups, transforms, label):
                continue
            if types is not None and str(rec.get("pair_type")) not in types:
                continue
            if not rec.get("probe") or not rec.get("donor"):
                raise DatasetError(f"{path}:{lineno}: splice-pair line needs probe and donor")
            self._rows.append(
                {
                    "name": str(rec.get("name") or f"{int(rec.get('index', lineno - 1)):06d}"),
                    "probe": root / rec["probe"],
                    "donor": root / rec["donor"],
                    "probe_mask": root / rec["probe_mask"] if rec.get("probe_mask") else None,
                    "donor_mask": root / rec["donor_mask"] if rec.get("donor_mask") else None,
                    "label": parse_label(rec.get("label"), f"{path}:{lineno}"),
                    "pair_type": str(rec.get("pair_type") or "unknown"),
                    "meta": rec,
                }
            )
        if not self._rows:
            raise DatasetError(f"{path}: no {PAIR_KIND} lines (matching the filters)")
        names = [r["name"] for r in self._rows]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})[:5]
            raise DatasetError(f"{path}: duplicate pair names {dupes}")
        self.root = root

    def __len__(self) -> int:
        return len(self._rows)

    def names(self) -> list[str]:
        return [r["name"] for r in self._rows]

    def load(self, index: int) -> PairSample:
        return load_pair(self._rows[index])


@register_dataset("generated")
def open_generated(root: str | Path, **kwargs: Any) -> GeneratedDataset | GeneratedPairDataset:
    """Open a generated set: single images if the manifest has any, else the splice pairs.

    Args:
        root: the ``OUT`` folder of ``tamperscope synth``.
        **kwargs: options of :class:`GeneratedDataset` or :class:`GeneratedPairDataset`.

    Raises:
        DatasetError: no ``manifest.jsonl``, or see the two classes.
    """
    root = Path(root)
    rows = read_manifest_rows(_manifest_path(root))
    if any(r.get("kind") in IMAGE_KINDS for r in rows):
        return GeneratedDataset(root, **kwargs)
    return GeneratedPairDataset(root, **kwargs)
