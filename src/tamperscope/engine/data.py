"""Training data of single images: readers opened for training, held-out splits, tensors.

:func:`open_image_sets` opens the ``data.train_roots`` (or ``data.val_roots``) of a config
with a reader and concatenates them (:class:`ConcatForgeryDataset`); :func:`resolve_sets`
picks the training and validation readers of a run (given ones, the configured folders, or a
seeded held-out fraction of the training samples, :class:`ForgerySubset`), for single images
as for probe/donor pairs (:mod:`tamperscope.engine.pair_data`).

:class:`TrainingDataset` wraps a reader and returns fixed-size tensors ready for a
``DataLoader``: the image and mask are resized (or resized and cropped) to the training size,
flipped at random, the image optionally gets one post-processing attack (JPEG, blur, noise,
... from :mod:`tamperscope.synth.attacks`) and, for the boundary loss, the signed distance map
of every mask class is computed here, on the final mask.

Augmentations draw from a generator seeded by ``(seed, epoch, index)``: a sample gets the same
augmentation whatever worker loads it and however often the run is interrupted and resumed,
and a new one every epoch (call :meth:`TrainingDataset.set_epoch`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence, Sized
from pathlib import Path
from typing import Any, Generic, TypeVar

import cv2
import numpy as np
import torch
import yaml
from torch.utils.data import Dataset

from tamperscope.data.base import ForgeryDataset, PairDataset, list_datasets, open_dataset
from tamperscope.engine.config import DataConfig
from tamperscope.engine.errors import TrainingError
from tamperscope.errors import DatasetError

__all__ = [
    "ConcatForgeryDataset",
    "ConcatReaders",
    "ForgerySubset",
    "ReaderSubset",
    "TrainingDataset",
    "open_image_sets",
    "open_readers",
    "parse_root",
    "resize_array",
    "resolve_attacks",
    "resolve_sets",
    "signed_distance_maps",
]

#: An attack: (H, W, 3) uint8 RGB image and a numpy generator -> (H, W, 3) uint8 RGB image.
Attack = Callable[[np.ndarray, np.random.Generator], np.ndarray]

RESIZE_MODES = ("resize", "crop")


def resolve_attacks(specs: Sequence[str]) -> list[Attack]:
    """Turn attack specs into callables with :mod:`tamperscope.synth.attacks`.

    Args:
        specs: ``"name:value"`` for a fixed strength (``"jpeg:70"``, ``"blur:1.5"``) or a
            bare ``"name"`` for a strength drawn from the attack's random range at every call
            (see :mod:`tamperscope.synth.attacks` for names and ranges).

    Returns:
        One callable per spec, ``attack(image, rng) -> image`` on (H, W, 3) uint8 RGB (the
        size may change for ``resize``).

    Raises:
        AttackSpecError: a spec is not understood (unknown name, missing or bad value); the
            message names the spec.
    """
    if not specs:
        return []
    from tamperscope.synth import attacks as _attacks

    def fixed_strength(attack: Any) -> Attack:
        def apply(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            return _attacks.apply_attack(image, attack, rng)

        return apply

    def drawn_strength(name: str) -> Attack:
        def apply(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            drawn = _attacks.sample_attacks(rng, 1.0, [name])
            return _attacks.apply_attacks(image, drawn, rng)[0]

        return apply

    return [
        fixed_strength(_attacks.parse_attack(spec))
        if ":" in spec
        else drawn_strength(_attacks.get_attack(spec.strip()).name)
        for spec in specs
    ]


def signed_distance_maps(mask: np.ndarray, num_classes: int) -> np.ndarray:
    """Signed distance map of each mask class, for the boundary loss.

    Kervadec et al., "Boundary loss for highly unbalanced segmentation", MIDL 2019,
    arXiv:1812.07032, computed by :func:`tamperscope.losses.segmentation.signed_distance_map`:
    positive outside the class region, <= 0 inside, in pixels; all zeros for a class that is
    absent or covers the whole image.

    Args:
        mask: (H, W) integer labels; in {0 pristine, 1 source, 2 target} for
            ``num_classes`` = 3, in {0, 1} (forged) for ``num_classes`` = 1.
        num_classes: 3 (one map per class) or 1 (one map of the forged region).

    Returns:
        (C, H, W) float32 signed distances in pixels, C = ``num_classes``.
    """
    from tamperscope.losses.segmentation import signed_distance_map

    if num_classes == 1:
        return signed_distance_map((mask != 0).astype(np.uint8)).astype(np.float32)
    return signed_distance_map(mask, num_classes=num_classes).astype(np.float32)


def resize_array(array: np.ndarray, height: int, width: int, *, nearest: bool) -> np.ndarray:
    """``array`` at ``height`` x ``width`` pixels (itself when it already has that size).

    Args:
        array: (H, W) or (H, W, C) image or mask.
        height, width: the output size in pixels.
        nearest: nearest-neighbour interpolation (masks: labels stay labels); else area
            averaging when shrinking and bilinear interpolation when enlarging (images).

    Returns:
        (height, width[, C]) array of the input dtype.
    """
    if array.shape[:2] == (height, width):
        return array
    if nearest:
        interp = cv2.INTER_NEAREST
    elif height * width < array.shape[0] * array.shape[1]:
        interp = cv2.INTER_AREA
    else:
        interp = cv2.INTER_LINEAR
    return cv2.resize(array, (width, height), interpolation=interp)


S = TypeVar("S", bound=Sized)
R = TypeVar("R", ForgeryDataset, PairDataset)


class ConcatReaders(Generic[R]):
    """Several readers as one, in order: length, names and loading of the concatenation.

    A mixin, listed before :class:`~tamperscope.data.base.ForgeryDataset` or
    :class:`~tamperscope.data.base.PairDataset` in the bases of a reader class.

    Args:
        parts: the readers.
    """

    def __init__(self, parts: Sequence[R]) -> None:
        self.parts: list[R] = list(parts)
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def names(self) -> list[str]:
        """The parts' names, in order."""
        return [n for p in self.parts for n in p.names()]

    def load(self, index: int) -> Any:
        """Sample (pair) ``index`` of the concatenation, from its part."""
        part = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.parts[part][index - int(self.offsets[part])]


class ReaderSubset(Generic[R]):
    """The samples (pairs) of ``source`` at ``indices``: length, names and loading.

    A mixin, listed before :class:`~tamperscope.data.base.ForgeryDataset` or
    :class:`~tamperscope.data.base.PairDataset` in the bases of a reader class.

    Args:
        source: the reader.
        indices: indices into ``source``, in the order the subset lists them.
    """

    def __init__(self, source: R, indices: Sequence[int]) -> None:
        self.source: R = source
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def names(self) -> list[str]:
        """The names of the samples at ``indices``, in order."""
        names = self.source.names()
        return [names[i] for i in self.indices]

    def load(self, index: int) -> Any:
        """Sample (pair) ``indices[index]`` of ``source``."""
        return self.source[self.indices[index]]


class ConcatForgeryDataset(ConcatReaders[ForgeryDataset], ForgeryDataset):
    """Several single-image readers as one, in order.

    The masks are 3-class when every part's are, else binary.

    Args:
        parts: the readers.
    """

    kind = "concat"

    def __init__(self, parts: Sequence[ForgeryDataset]) -> None:
        super().__init__(parts)
        kinds = {getattr(p, "mask_kind", "binary") for p in self.parts}
        self.mask_kind = "three_class" if kinds == {"three_class"} else "binary"


class ForgerySubset(ReaderSubset[ForgeryDataset], ForgeryDataset):
    """The samples of a single-image reader at some indices (a held-out validation split).

    Args:
        source, indices: as :class:`ReaderSubset`.
    """

    kind = "subset"

    def __init__(self, source: ForgeryDataset, indices: Sequence[int]) -> None:
        super().__init__(source, indices)
        self.mask_kind = getattr(source, "mask_kind", "binary")


def parse_root(spec: str, reader: str) -> tuple[str, str, dict[str, Any]]:
    """The reader, folder and reader options of one ``data.train_roots`` entry.

    An entry is a folder read with the configured ``reader``, or ``READER:FOLDER`` for a folder
    of another registered reader, with options after a ``?``:
    ``face-manipulations:../shared/data/real-dev/face-manipulations?split=train``. Option values
    are read as YAML scalars (``split=val&include_authentic=false``).

    Args:
        spec: the entry.
        reader: the configured reader (``data.reader``), used when the entry names none.

    Returns:
        ``(reader name, folder, options)``.

    Raises:
        TrainingError: an option without ``=``.
    """
    head, sep, rest = spec.partition(":")
    if sep and len(head) > 1 and head in list_datasets():
        reader, spec = head, rest
    options: dict[str, Any] = {}
    path, sep, query = spec.partition("?")
    if sep and not Path(spec).exists():
        for item in query.split("&"):
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise TrainingError(f"{spec}: reader option {item!r} is not KEY=VALUE")
            options[key] = yaml.safe_load(value) if value else ""
        spec = path
    return reader, spec, options


def open_readers(reader: str, roots: Sequence[str], expected: type[R], refusal: str) -> list[R]:
    """The folders ``roots`` opened with ``reader``, each checked to be an ``expected``.

    Args:
        reader: a registered reader name.
        roots: the folders (entries as in :func:`parse_root`: ``READER:FOLDER?KEY=VALUE``
            opens one with another reader and options).
        expected: :class:`~tamperscope.data.base.ForgeryDataset` or
            :class:`~tamperscope.data.base.PairDataset`.
        refusal: the end of the message when a folder's reader is not an ``expected``
            (``"ROOT: reader 'NAME' REFUSAL"``).

    Raises:
        TrainingError: ``reader`` does not give ``expected`` readers, or an entry's options are
            not the reader's.
        DatasetError: a folder cannot be read as ``reader``.
        KeyError: unknown reader name.
    """
    parts = []
    for spec in roots:
        name, root, options = parse_root(spec, reader)
        try:
            ds = open_dataset(name, root, **options)
        except TypeError as exc:
            raise TrainingError(
                f"{spec}: reader {name!r} does not take these options: {exc}"
            ) from None
        if not isinstance(ds, expected):
            raise TrainingError(f"{root}: reader {name!r} {refusal}")
        parts.append(ds)
    return parts


def open_image_sets(reader: str, roots: Sequence[str]) -> ForgeryDataset:
    """The folders ``roots`` opened with ``reader`` as one single-image reader.

    Raises:
        TrainingError: ``reader`` gives image pairs.
        DatasetError: a folder cannot be read as ``reader``.
        KeyError: unknown reader name.
    """
    refusal = "gives image pairs; training needs single images"
    parts = open_readers(reader, roots, ForgeryDataset, refusal)
    return parts[0] if len(parts) == 1 else ConcatForgeryDataset(parts)


def resolve_sets(
    cfg: DataConfig,
    seed: int,
    train_set: S | None,
    val_set: S | None,
    *,
    open_sets: Callable[[str, Sequence[str]], S],
    subset: Callable[[S, Sequence[int]], S],
    synth_command: str,
) -> tuple[S, S | None]:
    """The training and validation readers of a run.

    The given readers, else ``cfg.train_roots`` and ``cfg.val_roots`` opened with
    ``open_sets``; without validation folders, a fraction ``cfg.val_fraction`` of the
    training samples (drawn with ``seed``) is held out with ``subset``.

    Args:
        cfg: the ``data`` section.
        seed: seed of the held-out split.
        train_set, val_set: readers given by the caller (None: from ``cfg``).
        open_sets: ``open_sets(reader, roots)`` -> one reader.
        subset: ``subset(reader, indices)`` -> the reader's samples at ``indices``.
        synth_command: the ``tamperscope synth`` command that writes such data (for the
            error message).

    Returns:
        ``(train_set, val_set)``; ``val_set`` is None without validation data.

    Raises:
        TrainingError: no training set given and no ``cfg.train_roots``.
    """
    if train_set is None:
        if not cfg.train_roots:
            raise TrainingError(
                "no training data: set data.train_roots (folders written by "
                f"'tamperscope synth {synth_command}')"
            )
        train_set = open_sets(cfg.reader, cfg.train_roots)
    if val_set is None and cfg.val_roots:
        val_set = open_sets(cfg.reader, cfg.val_roots)
    elif val_set is None and cfg.val_fraction > 0:
        n = len(train_set)
        n_val = int(round(n * cfg.val_fraction))
        if 0 < n_val < n:
            order = np.random.default_rng(seed).permutation(n)
            val_set = subset(train_set, sorted(order[:n_val].tolist()))
            train_set = subset(train_set, sorted(order[n_val:].tolist()))
    return train_set, val_set


class TrainingDataset(Dataset):
    """Tensors for training and validation from a :class:`ForgeryDataset`.

    Each item is a dict:

    * ``image``: (3, S, S) float32 in [0, 1], RGB;
    * ``mask``: (S, S) int64, {0 pristine, 1 source, 2 target} for 3 classes, {0, 1} for 1;
    * ``label``: () float32, 1.0 forged, 0.0 pristine;
    * ``sdm``: (C, S, S) float32 signed distance maps in pixels (only with
      ``signed_distance=True``), see :func:`signed_distance_maps`;
    * ``index``: () int64, the index in the wrapped dataset; ``name``: the sample name.

    Args:
        source: the wrapped reader; its masks must be 3-class for ``num_classes=3``.
        size: training size S in pixels (square).
        train: random crops, flips and attacks when True; deterministic resize or centre crop
            when False (validation).
        resize_mode: ``"resize"`` scales the whole image to S x S; ``"crop"`` scales its short
            side up to S when smaller, then crops S x S (random when training, centred
            otherwise).
        hflip: probability (0-1) of a horizontal flip (training only).
        vflip: probability (0-1) of a vertical flip (training only).
        attacks: post-processing attacks, spec strings or callables
            ``attack(image, rng) -> image`` on (H, W, 3) uint8.
        attack_prob: probability (0-1) that a training image gets one attack, drawn uniformly.
        num_classes: 3 (pristine/source/target) or 1 (forged vs pristine).
        signed_distance: also return the signed distance maps for the boundary loss.
        seed: seed of the augmentations.

    Raises:
        ValueError: bad size, mode, probability or class count.
        DatasetError: ``num_classes`` is 3 and the dataset's masks are binary.
    """

    def __init__(
        self,
        source: ForgeryDataset,
        size: int,
        *,
        train: bool = True,
        resize_mode: str = "resize",
        hflip: float = 0.5,
        vflip: float = 0.0,
        attacks: Sequence[str | Attack] = (),
        attack_prob: float = 0.0,
        num_classes: int = 3,
        signed_distance: bool = False,
        seed: int = 0,
    ) -> None:
        if int(size) < 8:
            raise ValueError(f"training size must be at least 8 pixels, got {size}")
        if resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {resize_mode!r}")
        for name, p in (("hflip", hflip), ("vflip", vflip), ("attack_prob", attack_prob)):
            if not 0.0 <= float(p) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
        if num_classes not in (1, 3):
            raise ValueError(f"num_classes must be 3 or 1, got {num_classes}")
        if num_classes == 3 and getattr(source, "mask_kind", "three_class") == "binary":
            raise DatasetError(
                f"{source!r} has binary masks; a 3-class (pristine/source/target) model needs "
                "3-class masks: train with model.kwargs.num_classes=1 or use a 3-class dataset"
            )
        self.source = source
        self.size = int(size)
        self.train = bool(train)
        self.resize_mode = resize_mode
        self.hflip = float(hflip)
        self.vflip = float(vflip)
        specs = [a for a in attacks if isinstance(a, str)]
        resolved = iter(resolve_attacks(specs))
        self.attacks: list[Attack] = [next(resolved) if isinstance(a, str) else a for a in attacks]
        self.attack_prob = float(attack_prob)
        self.num_classes = int(num_classes)
        self.signed_distance = bool(signed_distance)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentations of epoch ``epoch`` (0-based) from now on."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.source)

    def _mask_of(self, sample: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
        mask = sample.get("mask")
        if mask is None:
            if int(sample.get("label", 1)) == 0:
                return np.zeros(shape, dtype=np.uint8)
            raise DatasetError(
                f"sample {sample.get('name')!r} is forged but has no ground-truth mask; "
                "training needs masks"
            )
        mask = np.asarray(mask)
        if mask.shape != shape:
            raise DatasetError(
                f"sample {sample.get('name')!r}: mask shape {mask.shape} differs from image "
                f"shape {shape}"
            )
        if self.num_classes == 1:
            return (mask != 0).astype(np.uint8)
        if mask.max(initial=0) > 2:
            raise DatasetError(
                f"sample {sample.get('name')!r}: 3-class mask has values above 2 "
                f"(max {int(mask.max())})"
            )
        return mask.astype(np.uint8)

    def _geometry(
        self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        s = self.size
        if self.resize_mode == "resize":
            return resize_array(image, s, s, nearest=False), resize_array(mask, s, s, nearest=True)
        h, w = mask.shape
        scale = max(1.0, s / min(h, w))
        if scale > 1.0:
            nh, nw = max(s, round(h * scale)), max(s, round(w * scale))
            image, mask = (
                resize_array(image, nh, nw, nearest=False),
                resize_array(mask, nh, nw, nearest=True),
            )
            h, w = nh, nw
        if self.train:
            top, left = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        else:
            top, left = (h - s) // 2, (w - s) // 2
        return image[top : top + s, left : left + s], mask[top : top + s, left : left + s]

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.source[index]
        image = np.asarray(sample["image"])
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise DatasetError(
                f"sample {sample.get('name')!r}: expected (H, W, 3) uint8 image, got "
                f"{image.shape} {image.dtype}"
            )
        mask = self._mask_of(dict(sample), image.shape[:2])
        rng = np.random.default_rng([self.seed, self.epoch, int(index) % len(self)])
        image, mask = self._geometry(image, mask, rng)
        if self.train:
            if rng.random() < self.hflip:
                image, mask = image[:, ::-1], mask[:, ::-1]
            if rng.random() < self.vflip:
                image, mask = image[::-1], mask[::-1]
            if self.attacks and rng.random() < self.attack_prob:
                attack = self.attacks[int(rng.integers(len(self.attacks)))]
                attacked = np.asarray(attack(np.ascontiguousarray(image), rng))
                image = resize_array(attacked, self.size, self.size, nearest=False)
        image = np.ascontiguousarray(image)
        mask = np.ascontiguousarray(mask)
        item: dict[str, Any] = {
            "image": torch.from_numpy(image).permute(2, 0, 1).float().div_(255.0),
            "mask": torch.from_numpy(mask.astype(np.int64)),
            "label": torch.tensor(float(int(sample.get("label", 0)) != 0), dtype=torch.float32),
            "index": torch.tensor(int(index), dtype=torch.int64),
            "name": str(sample.get("name", index)),
        }
        if self.signed_distance:
            item["sdm"] = torch.from_numpy(signed_distance_maps(mask, self.num_classes))
        return item
