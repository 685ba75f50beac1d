"""The dataset interface shared by every reader, and the reader registry.

A reader is a :class:`ForgeryDataset` (single images) or a :class:`PairDataset` (probe/donor
pairs): an indexable, sized collection that decodes lazily, so it can be wrapped by a
``torch.utils.data.DataLoader`` as it is. Readers register themselves with
:func:`register_dataset` and are opened by name with :func:`open_dataset`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tamperscope.errors import DatasetError
from tamperscope.types import MaskKind, PairSample, Sample

T = TypeVar("T")

_DATASETS: dict[str, Callable[..., Any]] = {}


class ForgeryDataset:
    """Base class of single-image datasets.

    Subclasses set :attr:`mask_kind` and implement :meth:`__len__`, :meth:`names` and
    :meth:`load`. Indexing returns a :class:`~tamperscope.types.Sample`.
    """

    #: Short name of the dataset kind (the registry name).
    kind: str = "dataset"
    #: Whether masks are 3-class (pristine/source/target) or binary.
    mask_kind: MaskKind = "binary"

    def __len__(self) -> int:
        raise NotImplementedError

    def names(self) -> list[str]:
        """Sample names, in index order; unique within the dataset."""
        raise NotImplementedError

    def load(self, index: int) -> Sample:
        """Decode sample ``index``.

        Raises:
            ImageReadError: its image or mask cannot be decoded.
        """
        raise NotImplementedError

    def __getitem__(self, index: int) -> Sample:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        return self.load(index % n)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(kind={self.kind!r}, n={len(self)}, mask_kind={self.mask_kind!r})"


class PairDataset:
    """Base class of probe/donor pair datasets; indexing returns a :class:`PairSample`."""

    kind: str = "pairs"

    def __len__(self) -> int:
        raise NotImplementedError

    def names(self) -> list[str]:
        raise NotImplementedError

    def load(self, index: int) -> PairSample:
        raise NotImplementedError

    def __getitem__(self, index: int) -> PairSample:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} pairs")
        return self.load(index % n)

    def __iter__(self) -> Iterator[PairSample]:
        for i in range(len(self)):
            yield self[i]


class InMemoryDataset(ForgeryDataset):
    """A dataset over samples already in memory (tests, API callers)."""

    kind = "memory"

    def __init__(self, samples: Sequence[Sample], mask_kind: MaskKind = "binary") -> None:
        self._samples = list(samples)
        self.mask_kind = mask_kind

    def __len__(self) -> int:
        return len(self._samples)

    def names(self) -> list[str]:
        return [s["name"] for s in self._samples]

    def load(self, index: int) -> Sample:
        return self._samples[index]


def register_dataset(name: str) -> Callable[[T], T]:
    """Class decorator registering a reader under ``name``.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def wrap(cls: T) -> T:
        if name in _DATASETS:
            raise ValueError(f"dataset reader {name!r} is already registered")
        _DATASETS[name] = cls  # type: ignore[assignment]
        return cls

    return wrap


def _ensure_builtin_readers() -> None:
    import tamperscope.data  # noqa: F401  (importing registers the readers)


def list_datasets() -> list[str]:
    """Names of the registered readers, sorted."""
    _ensure_builtin_readers()
    return sorted(_DATASETS)


def open_dataset(name: str, root: str | Path, **kwargs: Any) -> ForgeryDataset | PairDataset:
    """Open the dataset at ``root`` with the reader registered as ``name``.

    Raises:
        KeyError: unknown reader name (the message lists close matches).
        DatasetError: ``root`` does not have the reader's layout.
    """
    _ensure_builtin_readers()
    if name not in _DATASETS:
        close = difflib.get_close_matches(name, _DATASETS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(
            f"unknown dataset reader {name!r}{hint} (known: {', '.join(sorted(_DATASETS))})"
        )
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: dataset root does not exist")
    return _DATASETS[name](root, **kwargs)
