"""Reader of face-manipulation photos with manipulation masks (deep fakes).

Face swaps (InsightFace InSwapper), Stable-Diffusion inpainting of face parts and Poisson-cloned
face parts from the public deepfake-facial-segmentation previews (FFHQ base photos, 512x512),
with a mask of the manipulated region from a face-parsing model.

Layout::

    image/<id>.png                 manipulated photo (RGB)
    mask_fake/<id>.png             manipulated region, white (0/255)
    mask_authentic_face/<id>.png   untouched part of the face (not read)
    index.csv                      ``id``, ``manipulation`` (faceswap, sdinpaint, poissonlocal), ...

Several photos of the set share a base photo (the same FFHQ face manipulated in several ways).
``split="train"`` / ``"val"`` keep such near-duplicates on one side: photos are grouped by the
correlation of their 32x32 grey thumbnails' borders (the face itself is what changes) and whole
groups go to one split, about a third of the groups to ``"val"``, decided by a hash of the
group's first id so the split does not depend on the order of the files.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import cv2
import numpy as np

from tamperscope.data._records import Record, RecordDataset, warn_missing
from tamperscope.data.base import register_dataset
from tamperscope.data.masks import find_by_stem, natural_key, read_binary_mask
from tamperscope.errors import DatasetError
from tamperscope.io import list_images, read_image

SPLITS = ("all", "train", "val")
MANIPULATIONS = ("faceswap", "sdinpaint", "poissonlocal")
#: Correlation (Pearson, 0-1) of two photos' thumbnail borders above which they share a base photo.
DUPLICATE_CORRELATION = 0.95
#: Share (0-1) of base-photo groups in the ``"val"`` split.
VAL_SHARE = 1 / 3


def _border_signature(path: Path) -> np.ndarray:
    """The standardised border (6 px at 32x32) of a photo's grey thumbnail, float64."""
    grey = cv2.cvtColor(read_image(path), cv2.COLOR_RGB2GRAY)
    t = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float64)
    b = np.concatenate([t[:6].ravel(), t[-6:].ravel(), t[:, :6].ravel(), t[:, -6:].ravel()])
    return (b - b.mean()) / (b.std() + 1e-6)


def base_photo_groups(paths: list[Path], *, threshold: float = DUPLICATE_CORRELATION) -> list[int]:
    """Group index of each photo: photos whose thumbnail borders correlate above ``threshold``
    (transitively) share a group. Groups are numbered by their first photo."""
    sig = np.stack([_border_signature(p) for p in paths])
    corr = sig @ sig.T / sig.shape[1]
    parent = list(range(len(paths)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(corr > threshold, k=1)), strict=True):
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(len(paths))]


def _in_val(group_id: str) -> bool:
    digest = hashlib.sha1(group_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < VAL_SHARE


@register_dataset("face-manipulations")
class FaceManipulationsDataset(RecordDataset):
    """Manipulated face photos (label 1) with binary masks of the manipulated region.

    ``sample["meta"]["manipulation"]`` names the kind (``faceswap``, ``sdinpaint``,
    ``poissonlocal``) when ``index.csv`` lists it. The masks come from a face-parsing model, not
    from the edit itself (see the set's README): the edges of a swapped face are not labelled.

    Args:
        root: the folder holding ``image/`` and ``mask_fake/``.
        split: ``"all"``, or ``"train"`` / ``"val"`` (base-photo groups kept on one side).
        manipulations: keep only these kinds (None: all).

    Raises:
        DatasetError: no ``image/`` photos in ``root``, an unknown ``split`` or manipulation,
            or a split or filter that leaves no photo.

    Warns:
        UserWarning: photos without a ``mask_fake/`` file (skipped).
    """

    kind = "face-manipulations"
    mask_kind = "binary"

    def __init__(
        self,
        root: str | Path,
        *,
        split: str = "all",
        manipulations: tuple[str, ...] | list[str] | str | None = None,
    ) -> None:
        root = Path(root)
        if split not in SPLITS:
            raise DatasetError(f"face-manipulations: split must be one of {SPLITS}, got {split!r}")
        if isinstance(manipulations, str):
            manipulations = [m.strip() for m in manipulations.split(",") if m.strip()]
        unknown = sorted(set(manipulations or ()) - set(MANIPULATIONS))
        if unknown:
            raise DatasetError(
                f"face-manipulations: unknown manipulation(s) {unknown}; known: {MANIPULATIONS}"
            )
        image_dir, mask_dir = root / "image", root / "mask_fake"
        images = sorted(list_images(image_dir), key=lambda p: natural_key(p.stem))
        if not images:
            raise DatasetError(
                f"{root}: no photos in image/ (the face-manipulations layout: image/<id>.png, "
                "mask_fake/<id>.png, index.csv)"
            )
        kinds = self._read_index(root / "index.csv")
        if manipulations:
            images = [p for p in images if kinds.get(p.stem) in set(manipulations)]
        records: list[Record] = []
        missing: list[str] = []
        for p in images:
            mask = find_by_stem(mask_dir, p.stem)
            if mask is None:
                missing.append(p.name)
                continue
            meta = {"mask_file": mask.name, "manipulation": kinds.get(p.stem)}
            records.append(Record(p.stem, p, 1, "binary", masks={"mask": mask}, meta=meta))
        warn_missing("face-manipulations", missing, "skipped")
        if split != "all" and records:
            groups = base_photo_groups([r.image for r in records])
            first = {g: records[g].name for g in set(groups)}
            keep_val = split == "val"
            records = [
                r for r, g in zip(records, groups, strict=True) if _in_val(first[g]) == keep_val
            ]
        if not records:
            raise DatasetError(
                f"{root}: no face-manipulation photo left (split {split!r}, "
                f"manipulations {manipulations or 'all'})"
            )
        self.root = root
        self.split = split
        super().__init__(records)

    @staticmethod
    def _read_index(path: Path) -> dict[str, str]:
        if not path.is_file():
            return {}
        with path.open(newline="", encoding="utf-8") as f:
            return {row["id"]: row.get("manipulation", "") for row in csv.DictReader(f)}

    def read_mask(self, record: Record, shape: tuple[int, int]) -> np.ndarray:
        return read_binary_mask(record.masks["mask"], shape)
