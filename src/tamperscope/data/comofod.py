"""Reader of CoMoFoD, the copy-move database with post-processed variants.

D. Tralic, I. Zupancic, S. Grgic and M. Grgic, "CoMoFoD - New database for copy-move forgery
detection", Proc. ELMAR 2013, pp. 49-54 (https://www.vcl.fer.hr/comofod/).

Layout (one flat folder)::

    NNN_F.png        forged image          NNN_O.png   original image
    NNN_B.png        binary mask (white = forged regions)
    NNN_M.png        colour mask (black = background, colours = the forged regions)
    NNN_F_JC5.png    forged image after an attack, NNN_O_JC5.png the original after it

Attacks: ``JC`` JPEG compression (levels 1-9 = quality 20, 30, ..., 100), ``IB`` image blurring,
``NA`` noise adding, ``BC`` brightness change, ``CR`` colour reduction (levels 1-3 = 32, 64, 128
intensity levels per channel), ``CA`` contrast adjustment (levels 1-3 each). The masks belong to
the unattacked image and serve all its variants.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from tamperscope.data._records import Record, RecordDataset, warn_missing
from tamperscope.data.base import register_dataset
from tamperscope.data.masks import (
    DEFAULT_COLOUR_TOLERANCE,
    THREE_CLASS_PALETTE,
    natural_key,
    read_binary_mask,
    read_three_class_mask,
)
from tamperscope.errors import DatasetError
from tamperscope.io import list_images

_NAME = re.compile(r"^(\d+)_([FOBM])(?:_([A-Za-z]{2})(\d+))?$")

#: Attack codes of CoMoFoD and what they stand for.
ATTACKS: dict[str, str] = {
    "JC": "jpeg_compression",
    "IB": "image_blurring",
    "NA": "noise_adding",
    "BC": "brightness_change",
    "CR": "color_reduction",
    "CA": "contrast_adjustment",
}
_BASE = "none"


def _attack_selector(attacks: Iterable[str] | None) -> tuple[set[str], set[str]] | None:
    """Parse ``attacks`` into (codes selecting every level, exact code+level) sets."""
    if attacks is None:
        return None
    if isinstance(attacks, str):
        attacks = [attacks]
    families: set[str] = set()
    exact: set[str] = set()
    for a in attacks:
        token = a.strip().upper()
        if token.lower() == _BASE:
            exact.add(_BASE)
        elif token in ATTACKS:
            families.add(token)
        elif re.fullmatch(r"[A-Z]{2}\d+", token) and token[:2] in ATTACKS:
            exact.add(token)
        else:
            raise DatasetError(
                f"unknown CoMoFoD attack {a!r}: use 'none' (no attack), a code among "
                f"{', '.join(ATTACKS)} (all its levels) or a code with its level, e.g. 'JC5'"
            )
    return families, exact


def attack_meta(code: str | None, level: int | None) -> dict:
    """CoMoFoD's post-processing code and level as metadata.

    Args:
        code: attack code (``"JC"`` JPEG, ``"CR"`` colour reduction, ``"BC"``, ``"CA"``,
            ``"IB"``, ``"NA"``), or ``None`` for the unattacked image.
        level: the attack level of the file name (1-9), or ``None``.

    Returns:
        ``{"attack", "level", "attack_name"}``, plus ``jpeg_quality`` (1-100) for JC and
        ``levels_per_channel`` for CR.
    """
    if code is None:
        return {"attack": None, "level": None, "attack_name": None}
    meta: dict = {"attack": code, "level": level, "attack_name": ATTACKS.get(code)}
    if code == "JC" and level is not None and 1 <= level <= 9:
        meta["jpeg_quality"] = 10 + 10 * level
    if code == "CR" and level is not None and 1 <= level <= 3:
        meta["levels_per_channel"] = (32, 64, 128)[level - 1]
    return meta


@register_dataset("comofod")
class CoMoFoDDataset(RecordDataset):
    """CoMoFoD forged images (label 1) and originals (label 0), with their attacked variants.

    Samples are named by their file stem (``"001_F"``, ``"001_F_JC5"``, ``"001_O"``), sorted by
    image number, forged before original, the unattacked image before its variants.
    ``sample["meta"]`` holds ``id``, ``attack`` (``"JC"`` ... or ``None``), ``level`` and
    ``attack_name``, plus ``jpeg_quality`` for JPEG attacks.

    Args:
        root: the CoMoFoD folder.
        attacks: which variants to keep; ``None`` keeps all. Entries are ``"none"`` for the
            unattacked images, a code (``"JC"``: all levels) or a code with its level (``"JC5"``).
        include_authentic: also list the originals ``NNN_O*`` (all-zero masks).
        three_class: decode the colour masks ``NNN_M`` into source/target instead of the binary
            ``NNN_B``. The database does not document which colour is which; ``palette`` says
            it (default: green source, red target, black or blue background).
        palette: class -> RGB colours for ``three_class``.
        tolerance: nearest-colour tolerance (Euclidean RGB distance) for ``three_class``.
        load_original: put the matching original (same attack) in ``sample["original"]``.

    Raises:
        DatasetError: no ``NNN_F*.png`` images under ``root``, or an unknown attack code.

    Warns:
        UserWarning: forged images whose mask file is missing (skipped), masks resized.
    """

    kind = "comofod"

    def __init__(
        self,
        root: str | Path,
        *,
        attacks: Sequence[str] | str | None = None,
        include_authentic: bool = True,
        three_class: bool = False,
        palette: Mapping[int, Sequence[tuple[int, int, int]]] = THREE_CLASS_PALETTE,
        tolerance: float = DEFAULT_COLOUR_TOLERANCE,
        load_original: bool = False,
    ) -> None:
        root = Path(root)
        selector = _attack_selector(attacks)
        self.mask_kind = "three_class" if three_class else "binary"
        self.palette = palette
        self.tolerance = tolerance
        images: dict[tuple[str, str, str | None, int | None], Path] = {}
        masks: dict[tuple[str, str], Path] = {}
        for p in list_images(root):
            m = _NAME.match(p.stem)
            if not m:
                continue
            num, role, code = m.group(1), m.group(2), m.group(3)
            level = int(m.group(4)) if m.group(4) else None
            code = code.upper() if code else None
            if role in "BM":
                if code is None:
                    masks[(num, role)] = p
                continue
            images[(num, role, code, level)] = p
        if not any(k[1] == "F" for k in images):
            raise DatasetError(
                f"{root}: no CoMoFoD images found: expected NNN_F.png forged images (and "
                "NNN_O.png originals, NNN_B.png binary masks, NNN_M.png colour masks, "
                "attacked variants such as NNN_F_JC5.png)"
            )

        def wanted(code: str | None, level: int | None) -> bool:
            if selector is None:
                return True
            families, exact = selector
            if code is None:
                return _BASE in exact
            return code in families or f"{code}{level}" in exact

        mask_role = "M" if three_class else "B"
        records: list[Record] = []
        missing: list[str] = []

        def order(key: tuple[str, str, str | None, int | None]) -> tuple:
            num, role, code, level = key
            return (natural_key(num), role != "F", code is not None, code or "", level or 0)

        for key in sorted(images, key=order):
            num, role, code, level = key
            if not wanted(code, level) or (role == "O" and not include_authentic):
                continue
            path = images[key]
            meta = {"id": int(num), **attack_meta(code, level)}
            mask_files: dict[str, Path] = {}
            if role == "F":
                mask = masks.get((num, mask_role))
                if mask is None:
                    missing.append(path.name)
                    continue
                mask_files["mask"] = mask
                meta["mask_file"] = mask.name
            records.append(
                Record(
                    name=path.stem,
                    image=path,
                    label=1 if role == "F" else 0,
                    mask_kind=self.mask_kind,
                    masks=mask_files,
                    original=images.get((num, "O", code, level)) if role == "F" else None,
                    meta=meta,
                )
            )
        warn_missing("comofod", missing, "skipped")
        self.root = root
        super().__init__(records, load_original=load_original)

    def read_mask(self, record: Record, shape: tuple[int, int]) -> np.ndarray:
        if record.label == 0:
            return np.zeros(shape, dtype=np.uint8)
        path = record.masks["mask"]
        if self.mask_kind == "three_class":
            return read_three_class_mask(
                path, shape, palette=self.palette, tolerance=self.tolerance
            )
        return read_binary_mask(path, shape)
