"""Reader of object-removal (inpainting) photos with exact removal masks and their originals.

The layout of the DeepFill v2 examples (J. Yu, Z. Lin, J. Yang, X. Shen, X. Lu and T. Huang,
"Free-form image inpainting with gated convolution", ICCV 2019), and of any set arranged alike::

    inpainted/<id>.png      the photo with the object removed
    mask/<id>.png           removed (inpainted) region, white (0/255)
    original/<id>.png       the untouched photo (optional)
    masked_input/<id>.png   the inpainter's input, holes painted white (not read)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tamperscope.data._records import Record, RecordDataset, warn_missing
from tamperscope.data.base import register_dataset
from tamperscope.data.masks import find_by_stem, natural_key, read_binary_mask
from tamperscope.errors import DatasetError
from tamperscope.io import list_images


@register_dataset("inpainting-removal")
class InpaintingRemovalDataset(RecordDataset):
    """Inpainted photos (label 1, binary removal mask) and, optionally, their originals (label 0).

    Samples are named ``inpainted/<id>`` and ``original/<id>``; an inpainted sample's
    ``sample["meta"]["original_path"]`` names its original.

    Args:
        root: the folder holding ``inpainted/`` and ``mask/``.
        include_authentic: also list ``original/`` photos as authentic samples (empty mask).
        load_original: put the original of an inpainted photo in ``sample["original"]``.

    Raises:
        DatasetError: no photo in ``inpainted/``, or none with a mask.

    Warns:
        UserWarning: inpainted photos without a ``mask/`` file (skipped).
    """

    kind = "inpainting-removal"
    mask_kind = "binary"

    def __init__(
        self,
        root: str | Path,
        *,
        include_authentic: bool = True,
        load_original: bool = False,
    ) -> None:
        root = Path(root)
        images = sorted(list_images(root / "inpainted"), key=lambda p: natural_key(p.stem))
        if not images:
            raise DatasetError(
                f"{root}: no photos in inpainted/ (the layout: inpainted/<id>.png, "
                "mask/<id>.png, original/<id>.png)"
            )
        records: list[Record] = []
        authentic: list[Record] = []
        missing: list[str] = []
        for p in images:
            mask = find_by_stem(root / "mask", p.stem)
            if mask is None:
                missing.append(p.name)
                continue
            original = find_by_stem(root / "original", p.stem)
            meta = {"mask_file": mask.name}
            records.append(
                Record(f"inpainted/{p.stem}", p, 1, "binary", {"mask": mask}, original, meta)
            )
            if include_authentic and original is not None:
                authentic.append(Record(f"original/{p.stem}", original, 0, "binary"))
        warn_missing("inpainting-removal", missing, "skipped")
        if not records:
            raise DatasetError(f"{root}: no inpainted photo has a mask in mask/")
        self.root = root
        super().__init__(records + authentic, load_original=load_original)

    def read_mask(self, record: Record, shape: tuple[int, int]) -> np.ndarray:
        if record.label == 0:
            return np.zeros(shape, np.uint8)
        return read_binary_mask(record.masks["mask"], shape)
