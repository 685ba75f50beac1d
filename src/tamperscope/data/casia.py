"""Reader of CASIA v1.0 and v2.0 with the ground truth of Pham et al.

J. Dong, W. Wang and T. Tan, "CASIA image tampering detection evaluation database", IEEE ChinaSIP
2013; ground-truth masks: N. T. Pham, J.-W. Lee, G.-R. Kwon and C.-S. Park, "Hybrid image-retrieval
method for image-splicing validation", Symmetry 11(1), 2019
(https://github.com/namtpham/casia1groundtruth, .../casia2groundtruth).

File names say what an image is: ``Au_*`` authentic; v1 tampered ``Sp_S_*`` (copy-move, "same
image") and ``Sp_D_*`` (splicing, "different images"); v2 tampered ``Tp_S_*`` and ``Tp_D_*``.
Masks are binary (white = tampered) and named ``<image stem>_gt.png``.

Any of these arrangements under ``root`` is read (the folders are searched recursively):

* the releases: ``Au/``, ``Tp/`` (v1: ``Tp/CM``, ``Tp/Sp``) beside a ground-truth folder
  (``CASIA 2 Groundtruth/``, ``gt/``, ``mask/`` ...);
* per-type folders ``{CM,Sp}/{authentic,tampered,mask}/``, where the authentic originals may carry
  the name of the tampered image they belong to;
* one flat folder with each ``*_gt.png`` beside its image.

A file is a mask when its stem ends in ``_gt`` or it lies in a folder named like ``mask``,
``gt`` or ``groundtruth``; it is authentic when it lies in a folder named ``authentic``/``Au`` or
its name starts with ``Au_``. Known name slips are tolerated: masks with another extension or
case, without the ``_gt`` suffix, and, as a last resort, masks found by the image's serial number
(the last number of the name) when it is unique; such fuzzy matches are reported by a warning.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from tamperscope.data._records import Record, RecordDataset, warn_missing
from tamperscope.data.base import register_dataset
from tamperscope.data.masks import (
    StemIndex,
    normalize_stem,
    read_binary_mask,
    resize_mask,
    unique_names,
)
from tamperscope.errors import DatasetError
from tamperscope.io import list_images

_TAMPERED = re.compile(r"^(sp|tp)_([sd])_", re.IGNORECASE)
_SERIAL = re.compile(r"_(\d+)$")
_MASK_DIRS = {"mask", "masks", "gt", "gts", "groundtruth", "groundtruths", "ground_truth"}
_AUTH_DIRS = {"authentic", "au", "original", "originals", "pristine"}
SUBSETS = ("all", "copy_move", "splicing")


def _is_mask_dir(part: str) -> bool:
    squeezed = part.lower().replace(" ", "").replace("-", "").replace("_", "")
    return part.lower() in _MASK_DIRS or "groundtruth" in squeezed or squeezed in _MASK_DIRS


def _forgery(stem: str) -> tuple[int | None, str | None]:
    """(CASIA version, forgery type) from a file name; (None, None) when the name says nothing."""
    m = _TAMPERED.match(stem)
    if not m:
        return None, None
    version = 1 if m.group(1).lower() == "sp" else 2
    return version, "copy_move" if m.group(2).lower() == "s" else "splicing"


def _serial_key(stem: str) -> tuple[str, str] | None:
    norm = normalize_stem(stem)
    m, t = _SERIAL.search(norm), _TAMPERED.match(norm)
    if not m or not t:
        return None
    return t.group(2).lower(), m.group(1)


@register_dataset("casia")
class CasiaDataset(RecordDataset):
    """CASIA v1/v2 tampered images with binary masks, and authentic images as label 0.

    Samples are named by their path relative to ``root`` without extension (so the authentic
    and tampered copies of a name in per-type folders stay distinct), in sorted order.

    Args:
        root: a CASIA folder in one of the arrangements above.
        subset: ``"all"``, ``"copy_move"`` or ``"splicing"``. Authentic images whose name tells
            their type (per-type folders) follow it; ``Au_*`` images belong to every subset.
        include_authentic: list authentic images (label 0, all-zero mask).
        missing_mask: tampered images with no mask are ``"skip"``-ped (default) or ``"keep"``-t
            as unlabeled (``mask`` None, label 1); either way a warning lists them.
        load_original: no originals are paired in CASIA; ``sample["original"]`` is ``None``.

    Raises:
        DatasetError: no CASIA images under ``root``, or a bad ``subset``/``missing_mask``.

    Warns:
        UserWarning: images without a mask, masks matched by serial number only, and masks
            resized to their image.
    """

    kind = "casia"
    mask_kind = "binary"

    def __init__(
        self,
        root: str | Path,
        *,
        subset: str = "all",
        include_authentic: bool = True,
        missing_mask: str = "skip",
        load_original: bool = False,
    ) -> None:
        root = Path(root)
        if subset not in SUBSETS:
            raise DatasetError(f"subset must be one of {', '.join(SUBSETS)}; got {subset!r}")
        if missing_mask not in ("skip", "keep"):
            raise DatasetError(f"missing_mask must be 'skip' or 'keep'; got {missing_mask!r}")
        tampered: list[Path] = []
        authentic: list[Path] = []
        masks: list[Path] = []
        for p in list_images(root, recursive=True):
            dirs = p.relative_to(root).parts[:-1]
            if p.stem.lower().endswith("_gt") or any(_is_mask_dir(d) for d in dirs):
                masks.append(p)
            elif any(d.lower() in _AUTH_DIRS for d in dirs) or p.stem.lower().startswith("au_"):
                authentic.append(p)
            elif _TAMPERED.match(p.stem):
                tampered.append(p)
        if not tampered and not authentic:
            raise DatasetError(
                f"{root}: no CASIA images found: expected tampered images named Tp_* (v2) or "
                "Sp_* (v1), authentic images named Au_* or in an authentic/ folder, and "
                "*_gt.png masks"
            )
        index = StemIndex(masks)
        by_serial: dict[tuple[str, str], list[Path]] = {}
        for m in masks:
            if (key := _serial_key(m.stem)) is not None:
                by_serial.setdefault(key, []).append(m)

        keep = {"all": ("copy_move", "splicing", None), "copy_move": ("copy_move", None)}.get(
            subset, ("splicing", None)
        )
        chosen: list[tuple[Path, int, Path | None, str]] = []  # path, label, mask, how matched
        missing: list[str] = []
        fuzzy: list[str] = []
        for p in tampered:
            if _forgery(p.stem)[1] not in keep:
                continue
            mask, how = index.find(p.stem), "name"
            if mask is None and (key := _serial_key(p.stem)) is not None:
                candidates = by_serial.get(key, [])
                if len(candidates) == 1:
                    mask, how = candidates[0], "serial"
                    fuzzy.append(f"{p.name} -> {mask.name}")
            if mask is None:
                missing.append(p.name)
                if missing_mask == "skip":
                    continue
                how = "none"
            chosen.append((p, 1, mask, how))
        if include_authentic:
            for p in authentic:
                if _forgery(p.stem)[1] in keep:
                    chosen.append((p, 0, None, "authentic"))
        warn_missing("casia", missing, "skipped" if missing_mask == "skip" else "kept unlabeled")
        if fuzzy:
            warnings.warn(
                f"casia: {len(fuzzy)} mask(s) matched by serial number only: "
                + ", ".join(fuzzy[:5])
                + (", ..." if len(fuzzy) > 5 else ""),
                UserWarning,
                stacklevel=2,
            )
        names = unique_names([c[0] for c in chosen], root)
        records = []
        for name, (p, label, mask, how) in sorted(
            zip(names, chosen, strict=True), key=lambda t: t[0]
        ):
            version, forgery = _forgery(p.stem)
            meta = {"version": version, "forgery": forgery, "mask_match": how}
            if mask is not None:
                meta["mask_file"] = mask.relative_to(root).as_posix()
            records.append(
                Record(
                    name=name,
                    image=p,
                    label=label,
                    mask_kind="binary",
                    masks={"mask": mask} if mask is not None else {},
                    meta=meta,
                )
            )
        self.root = root
        self.subset = subset
        super().__init__(records, load_original=load_original)

    def read_mask(self, record: Record, shape: tuple[int, int]) -> np.ndarray | None:
        if record.label == 0:
            return np.zeros(shape, dtype=np.uint8)
        path = record.masks.get("mask")
        if path is None:
            return None
        return resize_mask(read_binary_mask(path), shape, path=path)
