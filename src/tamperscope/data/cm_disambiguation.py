"""Reader of the copy-move source/target disambiguation images.

Real copy-move forgeries annotated for telling the source from the target (the evaluation set
of copy-move disambiguation work such as BusterNet's discernibility analysis).

Layout (one flat folder)::

    testNN.tif        forged image
    testNN_gt.png     3-class colour mask: green = source, red = target, blue = pristine
    testNN_tm.png     binary tampering mask, described as the dilated target; in the
                      distributed files it marks both copies (source and target)
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tamperscope.data._records import Record, RecordDataset, warn_missing
from tamperscope.data.base import register_dataset
from tamperscope.data.masks import (
    DEFAULT_COLOUR_TOLERANCE,
    find_by_stem,
    natural_key,
    read_binary_mask,
    read_three_class_mask,
)
from tamperscope.errors import DatasetError
from tamperscope.io import list_images
from tamperscope.types import Sample

_IMAGE = re.compile(r"^test\d+$", re.IGNORECASE)


@register_dataset("cm-disambiguation")
class CMDisambiguationDataset(RecordDataset):
    """Forged images with 3-class masks; the ``_tm`` mask rides along in ``meta``.

    ``sample["meta"]["tm_mask_file"]`` names ``testNN_tm.png`` when present, and with
    ``load_tm_mask`` ``sample["meta"]["tm_mask"]`` holds it as (H, W) uint8 in {0, 1}.

    Args:
        root: the folder holding ``testNN.tif`` and the masks.
        load_tm_mask: decode ``testNN_tm.png`` into the meta as well.
        tolerance: nearest-colour tolerance (Euclidean RGB distance) for the colour masks.

    Raises:
        DatasetError: no ``testNN`` image in ``root``.

    Warns:
        UserWarning: images without ``testNN_gt.png`` (skipped), masks resized.
    """

    kind = "cm-disambiguation"
    mask_kind = "three_class"

    def __init__(
        self,
        root: str | Path,
        *,
        load_tm_mask: bool = False,
        tolerance: float = DEFAULT_COLOUR_TOLERANCE,
    ) -> None:
        root = Path(root)
        self.load_tm_mask = load_tm_mask
        self.tolerance = tolerance
        images = sorted(
            (p for p in list_images(root) if _IMAGE.match(p.stem)),
            key=lambda p: natural_key(p.stem),
        )
        if not images:
            raise DatasetError(
                f"{root}: no images named testNN.tif (with testNN_gt.png 3-class colour masks "
                "and testNN_tm.png binary masks)"
            )
        records: list[Record] = []
        missing: list[str] = []
        for p in images:
            gt = find_by_stem(root, f"{p.stem}_gt")
            if gt is None:
                missing.append(p.name)
                continue
            tm = find_by_stem(root, f"{p.stem}_tm")
            masks = {"mask": gt} | ({"tm_mask": tm} if tm is not None else {})
            meta = {"mask_file": gt.name, "tm_mask_file": tm.name if tm else None}
            records.append(Record(p.stem, p, 1, "three_class", masks=masks, meta=meta))
        warn_missing("cm-disambiguation", missing, "skipped")
        self.root = root
        super().__init__(records)

    def read_mask(self, record: Record, shape: tuple[int, int]) -> np.ndarray:
        return read_three_class_mask(record.masks["mask"], shape, tolerance=self.tolerance)

    def load(self, index: int) -> Sample:
        sample = super().load(index)
        record = self._records[index]
        if self.load_tm_mask and "tm_mask" in record.masks:
            shape = sample["image"].shape[:2]
            sample["meta"]["tm_mask"] = read_binary_mask(record.masks["tm_mask"], shape)
        return sample
