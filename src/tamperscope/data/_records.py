"""A file-backed dataset made of records: the common machinery of the folder readers.

A reader scans its layout once, at construction, into a list of :class:`Record` (names, paths,
labels; no pixels). :meth:`RecordDataset.load` then decodes one record on demand, so opening a
dataset is cheap and a ``DataLoader`` can wrap it as it is.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tamperscope.data.base import ForgeryDataset
from tamperscope.errors import DatasetError
from tamperscope.io import read_image
from tamperscope.types import MaskKind, Sample


@dataclass(frozen=True)
class Record:
    """One sample of a file-backed dataset, before decoding.

    Attributes:
        name: unique name of the sample within the dataset.
        image: the image file.
        label: 1 tampered, 0 authentic, -1 unknown.
        mask_kind: ``"three_class"`` or ``"binary"``.
        masks: role -> mask file (roles are the reader's: ``"mask"``, ``"source"``, ...).
        original: the untouched image the forgery was made from, when known.
        meta: facts about the sample (file names, attack, forgery type), JSON-friendly.
    """

    name: str
    image: Path
    label: int
    mask_kind: MaskKind
    masks: dict[str, Path] = field(default_factory=dict)
    original: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class RecordDataset(ForgeryDataset):
    """A :class:`ForgeryDataset` over a list of :class:`Record`.

    Subclasses fill ``self._records`` and implement :meth:`read_mask`.

    Args:
        load_original: also decode the original image into ``sample["original"]`` (``None``
            when the record has none).
    """

    def __init__(self, records: Sequence[Record], *, load_original: bool = False) -> None:
        names = [r.name for r in records]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})[:5]
            raise DatasetError(f"duplicate sample names in {type(self).__name__}: {dupes}")
        self._records = list(records)
        self.load_original = load_original

    def __len__(self) -> int:
        return len(self._records)

    def names(self) -> list[str]:
        return [r.name for r in self._records]

    def records(self) -> list[Record]:
        """The undecoded records, in index order (paths, labels, meta)."""
        return list(self._records)

    def read_mask(self, record: Record, shape: tuple[int, int]) -> np.ndarray | None:
        """Decode the mask of ``record`` at the image size ``shape`` (H, W).

        Returns:
            (H, W) uint8 in the record's mask convention, or ``None`` when there is no ground
            truth.
        """
        raise NotImplementedError

    def load(self, index: int) -> Sample:
        record = self._records[index]
        image = read_image(record.image)
        mask = self.read_mask(record, image.shape[:2])
        sample = Sample(
            image=image,
            mask=mask,
            mask_kind=record.mask_kind,
            label=record.label,
            name=record.name,
            path=str(record.image),
        )
        meta = dict(record.meta)
        if record.original is not None:
            meta.setdefault("original_path", str(record.original))
        sample["meta"] = meta
        if self.load_original:
            sample["original"] = None if record.original is None else read_image(record.original)
        return sample


def warn_missing(reader: str, missing: Sequence[str], action: str) -> None:
    """Warn once about images that have no ground-truth file (lists the first few)."""
    if not missing:
        return
    shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
    warnings.warn(
        f"{reader}: {len(missing)} image(s) have no mask file ({shown}); {action}",
        UserWarning,
        stacklevel=3,
    )
