"""Prediction files: the folder format that ``tamperscope evaluate --pred`` reads.

Single images, for each sample name ``NAME`` (names may contain ``/``, which maps to
sub-folders):

* ``PRED/NAME.npy``: (H, W) float in [0, 1] = probability of forged (union of source and
  target); or (3, H, W) / (H, W, 3) float in [0, 1] with channels (pristine, source, target)
  = 3-class prediction. Takes precedence over a PNG of the same name.
* ``PRED/NAME.png``: grey = probability of forged (value / 255); RGB with R = P(target),
  G = P(source) (B ignored) = 3-class prediction (P(pristine) = 1 - R - G, clipped).

Probe/donor pairs, for each pair name ``NAME``:

* ``PRED/NAME_probe.npy|png`` and ``PRED/NAME_donor.npy|png``: (H, W) probability of the
  shared region (``.npy`` float in [0, 1]; grey PNG value / 255).

Both: an optional ``PRED/scores.csv`` (columns ``name,score``) or ``PRED/scores.json``
(``{name: score}``) gives image-level (pair-level) scores. Without one, an image is scored by
the maximum of its forgery probability map and a pair by DMAC's rule
(:func:`tamperscope.inference.pairs.pair_score`). Maps of another size than the ground truth
are resized bilinearly to it when they are scored.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tamperscope.errors import ImageReadError, TamperscopeError
from tamperscope.io import read_mask

__all__ = [
    "PredictionError",
    "PredictionFolder",
    "forgery_probability",
    "load_prediction_file",
    "normalize_prediction",
    "resize_prediction",
]


class PredictionError(TamperscopeError):
    """A prediction for one sample is missing or unusable.

    Attributes:
        name: the sample name.
        reason: what is wrong, in words.
    """

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


def _check_probabilities(arr: np.ndarray, where: str) -> np.ndarray:
    arr = arr.astype(np.float32, copy=False)
    if arr.size == 0:
        raise ValueError(f"{where}: prediction is empty")
    if not np.isfinite(arr).all():
        raise ValueError(f"{where}: prediction contains NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{where}: probabilities must be in [0, 1], got values in [{lo:.4g}, {hi:.4g}] "
            "(apply a sigmoid or softmax to logits first)"
        )
    return arr


def normalize_prediction(pred: np.ndarray, where: str = "prediction") -> np.ndarray:
    """Bring a probability map to the layout the accumulators use.

    Args:
        pred: (H, W) float in [0, 1] = P(forged); or (3, H, W) or (H, W, 3) float in [0, 1]
            with channels (pristine, source, target). When both the first and last axes have
            length 3, (3, H, W) is assumed.
        where: name used in error messages.

    Returns:
        (H, W) or (3, H, W) float32 in [0, 1].

    Raises:
        ValueError: another shape, an empty array, NaN/inf, or values outside [0, 1].
    """
    arr = np.asarray(pred)
    if arr.ndim == 3 and arr.shape[0] != 3 and arr.shape[2] == 3:
        arr = np.moveaxis(arr, 2, 0)
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[0] == 3)):
        raise ValueError(
            f"{where}: expected an (H, W) forgery map or a (3, H, W) / (H, W, 3) map of "
            f"(pristine, source, target) probabilities, got shape {arr.shape}"
        )
    return _check_probabilities(arr, where)


def forgery_probability(prob: np.ndarray) -> np.ndarray:
    """P(forged) of a normalized map.

    Args:
        prob: (H, W) or (3, H, W) float32 in [0, 1], as :func:`normalize_prediction` returns.

    Returns:
        (H, W) float32 in [0, 1]: ``prob`` itself when (H, W), else P(source) + P(target),
        clipped to [0, 1].
    """
    if prob.ndim == 2:
        return prob
    return np.clip(prob[1] + prob[2], 0.0, 1.0)


def resize_prediction(prob: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (H, W) or (3, H, W) float map bilinearly to ``size`` = (height, width) pixels.

    Returns ``prob`` itself when it already has that size.
    """
    h, w = size
    if prob.shape[-2:] == (h, w):
        return prob
    if prob.ndim == 2:
        return cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
    hwc = cv2.resize(
        np.ascontiguousarray(np.moveaxis(prob, 0, 2)), (w, h), interpolation=cv2.INTER_LINEAR
    )
    return np.ascontiguousarray(np.moveaxis(hwc, 2, 0))


def load_prediction_file(path: str | Path) -> np.ndarray:
    """Read one prediction file of the folder format (module docstring).

    Args:
        path: ``.npy`` or ``.png`` file.

    Returns:
        (H, W) or (3, H, W) float32 in [0, 1].

    Raises:
        ImageReadError: the file cannot be decoded, or holds an unusable array.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ImageReadError(path, f"cannot read .npy prediction ({exc})") from exc
        if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
            raise ImageReadError(path, f"prediction array has non-numeric dtype {arr.dtype}")
        try:
            return normalize_prediction(arr.astype(np.float32), str(path))
        except ValueError as exc:
            raise ImageReadError(path, str(exc).removeprefix(f"{path}: ")) from exc
    raw = read_mask(path)
    if raw.ndim == 2:
        return raw.astype(np.float32) / 255.0
    target = raw[..., 0].astype(np.float32) / 255.0
    source = raw[..., 1].astype(np.float32) / 255.0
    pristine = np.clip(1.0 - source - target, 0.0, 1.0)
    return np.stack([pristine, source, target])


def _parse_score(value: Any, where: str) -> float:
    try:
        score = float(value)
    except (TypeError, ValueError) as exc:
        raise PredictionError(where, f"score {value!r} is not a number") from exc
    if not np.isfinite(score):
        raise PredictionError(where, f"score {value!r} is not finite")
    return score


def _read_scores(folder: Path) -> dict[str, float]:
    csv_path, json_path = folder / "scores.csv", folder / "scores.json"
    if csv_path.exists() and json_path.exists():
        raise PredictionError(
            str(folder), "both scores.csv and scores.json exist; keep only one of them"
        )
    scores: dict[str, float] = {}
    if csv_path.exists():
        with open(csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"name", "score"} <= set(reader.fieldnames):
                raise PredictionError(
                    str(csv_path),
                    f"needs a header with columns name,score; got {reader.fieldnames}",
                )
            for line, row in enumerate(reader, start=2):
                scores[row["name"]] = _parse_score(row["score"], f"{csv_path} line {line}")
    elif json_path.exists():
        try:
            data = json.loads(json_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise PredictionError(str(json_path), f"not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise PredictionError(str(json_path), "must hold an object {name: score}")
        for name, value in data.items():
            scores[str(name)] = _parse_score(value, f"{json_path} entry {name!r}")
    return scores


class PredictionFolder:
    """A folder of predicted maps and optional scores (format in the module docstring).

    The scores file is read once, when the folder is opened; maps are read on demand.

    Args:
        folder: the prediction folder.

    Raises:
        PredictionError: the folder does not exist, or its scores file is malformed (both
            files present, no ``name,score`` header, a score that is not a finite number,
            JSON that is not an object).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise PredictionError(str(self.folder), "prediction folder does not exist")
        self.scores = _read_scores(self.folder)

    def path(self, name: str) -> Path | None:
        """The prediction file of ``name`` (``.npy`` before ``.png``), or ``None``."""
        for suffix in (".npy", ".png"):
            candidate = self.folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    def load(self, name: str) -> np.ndarray:
        """The map of ``name``: (H, W) or (3, H, W) float32 in [0, 1].

        Raises:
            PredictionError: no file, or the file cannot be used.
        """
        path = self.path(name)
        if path is None:
            raise PredictionError(
                name, f"no prediction file {name}.png or {name}.npy in {self.folder}"
            )
        try:
            return load_prediction_file(path)
        except ImageReadError as exc:
            raise PredictionError(name, str(exc)) from exc

    def score(self, name: str) -> float | None:
        """The score of ``name`` from scores.csv/json, or ``None`` when it has none."""
        return self.scores.get(name)
