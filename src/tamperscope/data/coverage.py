"""Reader of COVERAGE, the copy-move database with similar but genuine objects.

B. Wen, Y. Zhu, R. Subramanian, T.-T. Ng, X. Shen and S. Winkler, "COVERAGE - A novel database
for copy-move forgery detection", IEEE ICIP 2016 (https://github.com/wenbihan/coverage).

Layout (the public release)::

    ROOT/image/N.tif         original (authentic) image, N = 1..100
    ROOT/image/Nt.tif        forged image
    ROOT/mask/Ncopy.tif      duplicated region: the source of the copy
    ROOT/mask/Nforged.tif    forged region: the pasted copy (the target)
    ROOT/mask/Npaste.tif     the similar-but-genuine object covered by the paste

Some re-distributions lack ``Nforged.tif``; the target is then read from ``Npaste.tif``, which
marks the same place (the region the paste covered). Several masks of the release (41, 48, 55-59,
61, 95) differ in size from their image: they are resized (nearest) with a warning.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tamperscope.data._records import Record, RecordDataset, warn_missing
from tamperscope.data.base import register_dataset
from tamperscope.data.masks import (
    compose_three_class,
    find_by_stem,
    natural_key,
    read_binary_mask,
    resize_mask,
)
from tamperscope.errors import DatasetError
from tamperscope.io import list_images

_FORGED = re.compile(r"^(\d+)t$", re.IGNORECASE)
_ORIGINAL = re.compile(r"^(\d+)$")


@register_dataset("coverage")
class CoverageDataset(RecordDataset):
    """COVERAGE forged images with 3-class masks, and their originals as authentic samples.

    Forged samples are named ``"Nt"`` (label 1, mask source 1 / target 2), originals ``"N"``
    (label 0, all-zero mask); forged ones come first, each group in numeric order.

    Args:
        root: the COVERAGE folder (holding ``image/`` and ``mask/``).
        include_authentic: also list the originals ``N.tif`` as label 0.
        target_mask: ``"forged"`` (default, falls back to ``paste`` when absent) or ``"paste"``.
        load_original: put the original image of a forged sample in ``sample["original"]``.

    Raises:
        DatasetError: ``root/image`` or ``root/mask`` is missing, no ``Nt`` image is found,
            or ``target_mask`` is not one of the two choices.

    Warns:
        UserWarning: forged images without a source or target mask (skipped), and masks
            resized to their image.
    """

    kind = "coverage"
    mask_kind = "three_class"

    def __init__(
        self,
        root: str | Path,
        *,
        include_authentic: bool = True,
        target_mask: str = "forged",
        load_original: bool = False,
    ) -> None:
        root = Path(root)
        if target_mask not in ("forged", "paste"):
            raise DatasetError(f"target_mask must be 'forged' or 'paste', got {target_mask!r}")
        image_dir, mask_dir = root / "image", root / "mask"
        for folder in (image_dir, mask_dir):
            if not folder.is_dir():
                raise DatasetError(
                    f"{root}: not a COVERAGE folder: expected {folder.name}/ holding "
                    "N.tif / Nt.tif images and mask/ holding Ncopy.tif, Nforged.tif (or Npaste.tif)"
                )
        forged: dict[str, Path] = {}
        originals: dict[str, Path] = {}
        for p in list_images(image_dir):
            if m := _FORGED.match(p.stem):
                forged[m.group(1)] = p
            elif m := _ORIGINAL.match(p.stem):
                originals[m.group(1)] = p
        if not forged:
            raise DatasetError(f"{image_dir}: no forged images named Nt.tif (e.g. 1t.tif)")
        records: list[Record] = []
        missing: list[str] = []
        order = ("forged", "paste") if target_mask == "forged" else ("paste", "forged")
        for num in sorted(forged, key=natural_key):
            source = find_by_stem(mask_dir, f"{num}copy")
            target = next(
                (t for kind in order if (t := find_by_stem(mask_dir, f"{num}{kind}")) is not None),
                None,
            )
            if source is None or target is None:
                missing.append(forged[num].name)
                continue
            records.append(
                Record(
                    name=f"{num}t",
                    image=forged[num],
                    label=1,
                    mask_kind="three_class",
                    masks={"source": source, "target": target},
                    original=originals.get(num),
                    meta={"id": int(num), "source_mask": source.name, "target_mask": target.name},
                )
            )
        warn_missing("coverage", missing, "skipped")
        if include_authentic:
            for num in sorted(originals, key=natural_key):
                records.append(
                    Record(
                        name=num,
                        image=originals[num],
                        label=0,
                        mask_kind="three_class",
                        meta={"id": int(num)},
                    )
                )
        self.root = root
        super().__init__(records, load_original=load_original)

    def read_mask(self, record: Record, shape: tuple[int, int]) -> np.ndarray:
        if record.label == 0:
            return np.zeros(shape, dtype=np.uint8)
        source = read_binary_mask(record.masks["source"])
        target = read_binary_mask(record.masks["target"])
        source = resize_mask(source, shape, path=record.masks["source"])
        target = resize_mask(target, shape, path=record.masks["target"])
        return compose_three_class(source, target)
