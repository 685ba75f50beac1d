"""Training data of probe/donor pairs: readers opened for training, tensors.

:func:`open_pair_sets` opens the pair folders of a config as one reader
(:class:`ConcatPairDataset`); :class:`PairSubset` is a held-out split of one (see
:func:`tamperscope.engine.data.resolve_sets`).

:class:`PairTrainingDataset` wraps a pair reader (``open_dataset("generated-pairs", root)``,
manifest pairs, ...) and returns fixed-size tensors ready for a ``DataLoader``, as DMAC trains
(Liu, Zhu, Zhao, Cao, IEEE TIFS 2019): both images are resized to ``size`` x ``size`` (the paper's
256 x 256), both masks to the same size by nearest neighbour and reduced to {0, 1}. Training
flips are drawn once per pair and applied to the probe, the donor and both masks together, so
that the geometric relation between the shared regions is kept.

Flips draw from a generator seeded by ``(seed, epoch, index)``, as in
:class:`~tamperscope.engine.data.TrainingDataset`: a pair gets the same flips whatever
worker loads it and however often the run is interrupted and resumed, and new ones every
epoch (call :meth:`PairTrainingDataset.set_epoch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tamperscope.data.base import PairDataset
from tamperscope.engine.data import ConcatReaders, ReaderSubset, open_readers, resize_array
from tamperscope.errors import DatasetError
from tamperscope.types import PairSample

__all__ = ["ConcatPairDataset", "PairSubset", "PairTrainingDataset", "open_pair_sets"]


class ConcatPairDataset(ConcatReaders[PairDataset], PairDataset):
    """Several pair readers as one, in order (names must stay unique per reader, not across
    them); ``ConcatPairDataset(parts)`` as :class:`~tamperscope.engine.data.ConcatReaders`."""

    kind = "concat-pairs"


class PairSubset(ReaderSubset[PairDataset], PairDataset):
    """The pairs of a pair reader at some indices (held-out validation split);
    ``PairSubset(source, indices)`` as :class:`~tamperscope.engine.data.ReaderSubset`."""

    kind = "subset-pairs"


def open_pair_sets(reader: str, roots: Sequence[str]) -> PairDataset:
    """The folders ``roots`` opened with ``reader`` as one pair reader.

    Raises:
        TrainingError: ``reader`` gives single images.
        DatasetError: a folder cannot be read as ``reader``.
        KeyError: unknown reader name.
    """
    refusal = (
        "gives single images; pair training needs probe/donor pairs (sets written by "
        "'tamperscope synth splice-pairs')"
    )
    parts = open_readers(reader, roots, PairDataset, refusal)
    return parts[0] if len(parts) == 1 else ConcatPairDataset(parts)


def _binary_mask(sample: PairSample, role: str, shape: tuple[int, int]) -> np.ndarray:
    mask = sample.get(f"{role}_mask")  # type: ignore[misc]
    name = sample.get("name")
    if mask is None:
        if int(sample.get("label", -1)) == 0:
            return np.zeros(shape, dtype=np.uint8)
        raise DatasetError(
            f"pair {name!r} is correlated (or unlabelled) but has no {role} mask; training "
            "needs both masks"
        )
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.shape != shape:
        raise DatasetError(
            f"pair {name!r}: {role} mask shape {mask.shape} differs from the {role} image "
            f"shape {shape}"
        )
    return (mask != 0).astype(np.uint8)


def _image(sample: PairSample, role: str) -> np.ndarray:
    image = np.asarray(sample[role])  # type: ignore[literal-required]
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise DatasetError(
            f"pair {sample.get('name')!r}: expected an (H, W, 3) uint8 {role}, got "
            f"{image.shape} {image.dtype}"
        )
    return image


class PairTrainingDataset(Dataset):
    """Tensors for training and validation of pair models from a :class:`PairDataset`.

    Each item is a dict:

    * ``probe``, ``donor``: (3, S, S) float32 in [0, 1], RGB;
    * ``probe_mask``, ``donor_mask``: (S, S) int64 in {0 not shared, 1 shared};
    * ``label``: () float32, 1.0 for a correlated pair (a region of the donor is in the
      probe), 0.0 otherwise;
    * ``index``: () int64, the index in the wrapped reader; ``name``: the pair's name.

    Args:
        source: the wrapped pair reader.
        size: side S in pixels both images are resized to (DMAC: 256).
        train: random flips when True; none when False (validation).
        hflip: probability (0-1) of a horizontal flip of the whole pair (training only).
        vflip: probability (0-1) of a vertical flip of the whole pair (training only).
        seed: seed of the flips.

    Raises:
        ValueError: a size under 8 pixels or a flip probability outside [0, 1].
    """

    def __init__(
        self,
        source: PairDataset,
        size: int = 256,
        *,
        train: bool = True,
        hflip: float = 0.5,
        vflip: float = 0.0,
        seed: int = 0,
    ) -> None:
        if int(size) < 8:
            raise ValueError(f"training size must be at least 8 pixels, got {size}")
        for name, p in (("hflip", hflip), ("vflip", vflip)):
            if not 0.0 <= float(p) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
        self.source = source
        self.size = int(size)
        self.train = bool(train)
        self.hflip = float(hflip)
        self.vflip = float(vflip)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the flips of epoch ``epoch`` (0-based) from now on."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """The tensors of pair ``index`` (see the class docstring).

        Raises:
            DatasetError: an image that is not (H, W, 3) uint8, a mask of another size than
                its image, a correlated pair without masks, or a pair without a label.
        """
        sample = self.source[index]
        label = int(sample.get("label", -1))
        if label not in (0, 1):
            raise DatasetError(
                f"pair {sample.get('name')!r} has no label (0 or 1); training needs labelled pairs"
            )
        s = self.size
        arrays: dict[str, np.ndarray] = {}
        for role in ("probe", "donor"):
            image = _image(sample, role)
            mask = _binary_mask(sample, role, image.shape[:2])
            arrays[role] = resize_array(image, s, s, nearest=False)
            arrays[f"{role}_mask"] = resize_array(mask, s, s, nearest=True)
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, int(index) % len(self)])
            flip_h, flip_v = rng.random() < self.hflip, rng.random() < self.vflip
            for key, value in arrays.items():
                if flip_h:
                    value = value[:, ::-1]
                if flip_v:
                    value = value[::-1]
                arrays[key] = value
        item: dict[str, Any] = {
            "label": torch.tensor(float(label), dtype=torch.float32),
            "index": torch.tensor(int(index), dtype=torch.int64),
            "name": str(sample.get("name", index)),
        }
        for role in ("probe", "donor"):
            image = np.ascontiguousarray(arrays[role])
            mask = np.ascontiguousarray(arrays[f"{role}_mask"])
            item[role] = torch.from_numpy(image).permute(2, 0, 1).float().div_(255.0)
            item[f"{role}_mask"] = torch.from_numpy(mask.astype(np.int64))
        return item
