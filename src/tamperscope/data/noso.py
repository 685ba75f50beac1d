"""Reader of the NoSo copy-move database.

A. Novozamsky and M. Sorel, "Copy-move modification detection using JPEG compression model",
Forensic Science International (https://github.com/michalsorel/jpegcopymove).

Layout (one flat folder)::

    NN.png              original photo
    NN_mod.png          forged photo (several per original: NN_mod_01.png, NN_mod_02.png, ...)
    NN_mod*_gt.png      union of source and copy, white
    NN_mod*_st.png      3-class colour mask: red = target (copy), green = source, blue = pristine
                        (not in the original release; present for some images)
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

_FORGED = re.compile(r"^(\d+)_mod(?:_\d+)?$", re.IGNORECASE)
_ORIGINAL = re.compile(r"^(\d+)$")


@register_dataset("noso")
class NoSoDataset(RecordDataset):
    """NoSo forged photos with 3-class or binary masks, and the originals as label 0.

    A forged photo with a ``*_st.png`` is a 3-class sample (source 1, target 2); one without
    is a binary sample from its ``*_gt.png`` (source and target together). The dataset's
    :attr:`mask_kind` is ``"three_class"`` only when every sample is, so code that needs one
    convention can rely on it; ``sample["mask_kind"]`` tells each sample's own.

    Args:
        root: the NoSo folder.
        three_class_only: keep only forged photos that have a ``*_st.png`` (the copy-move
            source/target evaluation).
        binary: reduce every mask to the binary union, even where ``*_st.png`` exists.
        include_authentic: list the originals ``NN.png`` (label 0, all-zero mask). Default:
            yes, except with ``three_class_only``.
        tolerance: nearest-colour tolerance (Euclidean RGB distance) for ``*_st.png``.
        load_original: put the original ``NN.png`` of a forged photo in ``sample["original"]``.

    Raises:
        DatasetError: no ``NN_mod*.png`` image in ``root``, or ``three_class_only`` together
            with ``binary``.

    Warns:
        UserWarning: forged photos without any mask (skipped), masks resized.
    """

    kind = "noso"

    def __init__(
        self,
        root: str | Path,
        *,
        three_class_only: bool = False,
        binary: bool = False,
        include_authentic: bool | None = None,
        tolerance: float = DEFAULT_COLOUR_TOLERANCE,
        load_original: bool = False,
    ) -> None:
        root = Path(root)
        if three_class_only and binary:
            raise DatasetError("noso: three_class_only and binary exclude each other")
        if include_authentic is None:
            include_authentic = not three_class_only
        self.tolerance = tolerance
        files = list_images(root)
        forged = [p for p in files if _FORGED.match(p.stem)]
        originals = {m.group(1): p for p in files if (m := _ORIGINAL.match(p.stem))}
        if not forged:
            raise DatasetError(
                f"{root}: no NoSo images found: expected NN_mod*.png forged photos with "
                "NN_mod*_gt.png masks (and NN.png originals, optional NN_mod*_st.png)"
            )
        records: list[Record] = []
        missing: list[str] = []
        for p in sorted(forged, key=lambda q: natural_key(q.stem)):
            num = _FORGED.match(p.stem).group(1)  # type: ignore[union-attr]
            st = None if binary else find_by_stem(root, f"{p.stem}_st")
            gt = find_by_stem(root, f"{p.stem}_gt")
            if three_class_only and st is None:
                continue
            if st is None and gt is None:
                missing.append(p.name)
                continue
            kind = "three_class" if st is not None else "binary"
            mask = st if st is not None else gt
            records.append(
                Record(
                    name=p.stem,
                    image=p,
                    label=1,
                    mask_kind=kind,  # type: ignore[arg-type]
                    masks={"mask": mask},  # type: ignore[dict-item]
                    original=originals.get(num),
                    meta={"id": int(num), "mask_file": mask.name},  # type: ignore[union-attr]
                )
            )
        warn_missing("noso", missing, "skipped")
        forged_kinds = {r.mask_kind for r in records}
        self.mask_kind = "three_class" if forged_kinds == {"three_class"} else "binary"
        if include_authentic:
            for num in sorted(originals, key=natural_key):
                records.append(
                    Record(
                        name=originals[num].stem,
                        image=originals[num],
                        label=0,
                        mask_kind=self.mask_kind,
                        meta={"id": int(num)},
                    )
                )
        self.root = root
        super().__init__(records, load_original=load_original)

    def read_mask(self, record: Record, shape: tuple[int, int]) -> np.ndarray:
        if record.label == 0:
            return np.zeros(shape, dtype=np.uint8)
        path = record.masks["mask"]
        if record.mask_kind == "three_class":
            return read_three_class_mask(path, shape, tolerance=self.tolerance)
        return read_binary_mask(path, shape)
