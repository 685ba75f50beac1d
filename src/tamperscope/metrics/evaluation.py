"""The scoring loop: a dataset's ground truth against predicted maps and scores.

The core, :func:`evaluate_predictions`, takes the dataset and an iterable of
``(sample, prob_map, score)`` triples, so the maps can come from files
(:func:`folder_predictions`) or straight from a model. Everything pooled over the dataset is
kept as confusion counts and fixed-bin score histograms
(:class:`~tamperscope.metrics.pixel.ScoreHistogram`), never as pixels, so memory does not
grow with the dataset.

Prediction folder format (read by :class:`PredictionFolder`), for each sample name ``NAME``
(names may contain ``/``, which maps to sub-folders):

* ``PRED/NAME.npy``: (H, W) float in [0, 1] = probability of forged (union of source and
  target); or (3, H, W) / (H, W, 3) float in [0, 1] with channels (pristine, source, target)
  = 3-class prediction. Takes precedence over a PNG of the same name.
* ``PRED/NAME.png``: grey = probability of forged (value / 255); RGB with R = P(target),
  G = P(source) (B ignored) = 3-class prediction (P(pristine) = 1 - R - G, clipped).
* optional ``PRED/scores.csv`` (columns ``name,score``) or ``PRED/scores.json``
  (``{name: score}``): image-level scores. An image without one is scored by the maximum of
  its forgery probability map.

Maps of another size than the ground truth are resized bilinearly to it.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from tamperscope.data.base import ForgeryDataset, PairDataset
from tamperscope.errors import ImageReadError, TamperscopeError
from tamperscope.inference.pairs import pair_score
from tamperscope.io import read_mask
from tamperscope.metrics.discernibility import discernibility_outcome, discernibility_summary
from tamperscope.metrics.image import combined_f1, image_level_metrics, image_roc
from tamperscope.metrics.pairs import pair_localization_scores
from tamperscope.metrics.pixel import (
    SCORE_NAMES,
    ConfusionCounts,
    EmptyRule,
    ScoreHistogram,
    check_empty_rule,
    confusion_counts,
    f1_inverted_max,
    localization_scores,
    mean_or_none,
    no_score_zone,
    per_image_f1_curve,
    three_class_labels,
)
from tamperscope.types import CLASS_NAMES, Sample
from tamperscope.version import __version__

logger = logging.getLogger(__name__)

#: Columns of the per-image table, in order.
PER_IMAGE_COLUMNS = (
    "name",
    "label",
    "score",
    "predicted_label",
    "mask_case",
    "f1",
    "precision",
    "recall",
    "iou",
    "mcc",
    "nmm",
    "auc",
    "f1_best",
    "f1_best_threshold",
    "f1_inverted_max",
    "f1_border",
    "f1_pristine",
    "f1_source",
    "f1_target",
    "discernibility",
    "error",
)

PROTOCOL_NOTES = {
    "threshold": "a pixel (image) is predicted forged when its probability (score) >= threshold",
    "protocol_a": "pooled: confusion counts of all scored pixels of all images, one metric",
    "protocol_b": "per-image: metric computed on each image, then averaged over images",
    "authentic_skip": (
        "images whose ground-truth mask is empty (authentic) are left out of every pixel-level "
        "metric, per-image and pooled; per class, images without that class are left out of "
        "that class's per-image mean"
    ),
    "authentic_count": (
        "images with an empty mask count: nothing predicted scores 1 on every metric; any "
        "forged pixel predicted scores precision 0, recall 1, F1 0, IoU 0, MCC 0, NMM -1; "
        "their pixels enter the pooled counts"
    ),
    "nonempty_masks": "precision is 0 when nothing is predicted, MCC is 0 when undefined",
    "pixel_auc": (
        "from score histograms of 1001 bins on [0, 1] (scores quantized to 0.001); per-image "
        "AUC is averaged over images whose mask is neither empty nor full"
    ),
    "f1_fixed_threshold": "F1 at the given threshold",
    "f1_per_image_best_threshold": (
        "oracle: each image at its own best threshold (chosen with the ground truth), then "
        "averaged; an optimistic upper bound"
    ),
    "f1_dataset_best_threshold": (
        "one threshold for all images, the one maximizing the dataset F1 (chosen with the "
        "ground truth; optimistic)"
    ),
    "f1_inverted_max": "per image, max of the F1 of the map and of 1 - map at the threshold",
    "f1_all_forged_reference": (
        "F1 of the trivial answer 'every pixel forged' (2p / (p + 1) for a forged fraction p) "
        "over the images with a forged region, per image then averaged, and pooled: a model's "
        "F1 means something only above it"
    ),
    "f1_border_excluded": (
        "F1 at the threshold ignoring pixels within border_px pixels of the ground-truth "
        "boundary (NIST MFC no-score zone: dilation minus erosion with a disc); 0 = no zone"
    ),
    "three_class_labels": (
        "forged where P(source) + P(target) >= threshold, then source where P(source) > "
        "P(target), else target"
    ),
    "image_score": (
        "given score when provided, else the maximum of the forgery probability map; images "
        "whose label is not 0 or 1 (unknown) are left out of image-level metrics"
    ),
    "combined_f1": (
        "harmonic mean of pixel F1 (protocol B, fixed threshold) and image F1; combined_f1_mvss "
        "uses the harmonic mean of sensitivity and specificity as image F1 (MVSS-Net, ICCV 2021)"
    ),
    "discernibility": (
        "BusterNet (Wu et al., ECCV 2018): missed = no source/target pixel predicted; opted out = "
        "only one of source/target predicted; correct = predicted source overlaps GT source more "
        "than GT target and predicted target overlaps GT target more than GT source; wrong = "
        "other opted-in images. Scored on images whose GT has both source and target"
    ),
}


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
    """Bring a probability map to the layout the scoring loop uses.

    Args:
        pred: (H, W) float in [0, 1] = P(forged); or (3, H, W) or (H, W, 3) float in [0, 1]
            with channels (pristine, source, target). When both the first and last axes have
            length 3, (3, H, W) is assumed.
        where: name used in error messages.

    Returns:
        (H, W) or (3, H, W) float32 in [0, 1].

    Raises:
        ValueError: another shape, NaN/inf, or values outside [0, 1].
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
    """P(forged) of a normalized map: itself when (H, W), P(source) + P(target) (clipped)
    when (3, H, W). Returns (H, W) float32 in [0, 1]."""
    if prob.ndim == 2:
        return prob
    return np.clip(prob[1] + prob[2], 0.0, 1.0)


def resize_prediction(prob: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (H, W) or (3, H, W) map bilinearly to ``size`` = (height, width)."""
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


def _parse_score(value: Any, where: str) -> float:
    try:
        score = float(value)
    except (TypeError, ValueError) as exc:
        raise PredictionError(where, f"score {value!r} is not a number") from exc
    if not np.isfinite(score):
        raise PredictionError(where, f"score {value!r} is not finite")
    return score


class PredictionFolder:
    """A folder of predicted maps and optional image-level scores (module docstring).

    Args:
        folder: the prediction folder.

    Raises:
        PredictionError: the folder does not exist, or its scores file is malformed.
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
        """The image-level score of ``name`` from scores.csv/json, or ``None``."""
        return self.scores.get(name)


def predict_each(
    dataset: Any, what: str, predict: Callable[[str, Any], tuple]
) -> Iterator[tuple | PredictionError]:
    """``predict(name, sample)`` for each sample of ``dataset``, in order, errors as values.

    A sample that cannot be loaded (``TamperscopeError``) becomes a :class:`PredictionError`
    "cannot load the WHAT (...)", and a :class:`PredictionError` raised by ``predict`` is
    yielded as it is, so that scoring goes on with the other samples.

    Args:
        dataset: a :class:`ForgeryDataset` or :class:`PairDataset`.
        what: "sample" or "pair", for the message.
        predict: called with the sample's name and the loaded sample.
    """
    for i, name in enumerate(dataset.names()):
        try:
            sample = dataset[i]
        except TamperscopeError as exc:
            yield PredictionError(name, f"cannot load the {what} ({exc})")
            continue
        try:
            yield predict(name, sample)
        except PredictionError as exc:
            yield exc


def folder_predictions(
    dataset: ForgeryDataset, folder: str | Path | PredictionFolder
) -> Iterator[tuple[Sample, np.ndarray, float | None] | PredictionError]:
    """Pair each sample of ``dataset`` with its prediction from a folder.

    Args:
        dataset: the ground truth.
        folder: prediction folder or an open :class:`PredictionFolder`.

    Yields:
        ``(sample, prob_map, score)`` with prob_map (H, W) or (3, H, W) float32 in [0, 1]
        and score ``None`` when the folder has none; or a :class:`PredictionError` for a
        sample whose prediction (or ground truth) cannot be read.

    Raises:
        PredictionError: the folder does not exist or its scores file is malformed.
    """
    preds = folder if isinstance(folder, PredictionFolder) else PredictionFolder(folder)
    yield from predict_each(
        dataset, "sample", lambda name, sample: (sample, preds.load(name), preds.score(name))
    )


@dataclass
class _Pooled:
    """Pooled (protocol A) statistics and per-image (protocol B) lists of one mask kind."""

    counts: ConfusionCounts = field(default_factory=ConfusionCounts)
    per_image: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in SCORE_NAMES})

    def add(self, counts: ConfusionCounts, scores: dict[str, float] | None, pooled: bool) -> None:
        if pooled:
            self.counts = self.counts + counts
        if scores is not None:
            for k in SCORE_NAMES:
                self.per_image[k].append(scores[k])

    def summary(self) -> dict[str, Any]:
        c = self.counts
        pooled = None
        if c.positives > 0:
            pooled = {
                "precision": c.precision(),
                "recall": c.recall(),
                "f1": c.f1(),
                "iou": c.iou(),
                "mcc": c.mcc(),
                "nmm": c.nmm(),
                **c.as_dict(),
            }
        n = len(self.per_image["f1"])
        per_image = {k: mean_or_none(v) for k, v in self.per_image.items()}
        return {"per_image": {**per_image, "n_images": n}, "pooled": pooled}


def _fmt(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 6)
    return value


def _validate_mask(mask: np.ndarray, mask_kind: str, name: str) -> np.ndarray:
    if mask.ndim != 2:
        raise PredictionError(name, f"ground-truth mask must be (H, W), got shape {mask.shape}")
    if mask_kind == "three_class" and int(mask.max(initial=0)) > 2:
        raise PredictionError(
            name,
            f"3-class ground-truth mask has values up to {int(mask.max())}; expected "
            "{0 pristine, 1 source, 2 target}",
        )
    return mask


def evaluate_predictions(
    dataset: ForgeryDataset,
    predictions: Iterable[tuple[Sample, np.ndarray, float | None] | PredictionError],
    *,
    threshold: float = 0.5,
    border: int = 0,
    authentic: EmptyRule = "skip",
    bins: int = 1001,
    progress: bool = False,
) -> dict[str, Any]:
    """Score predicted maps and image scores against a dataset's ground truth.

    Pixel metrics are computed on the forged-vs-pristine ("union") mask and, when both the
    ground truth and the prediction are 3-class, per class (pristine, source, target), each
    per image (protocol B) and pooled (protocol A). The F1 conventions are reported side by
    side under their names; :data:`PROTOCOL_NOTES` (also in the result) states each rule.
    Pooled AUC and the dataset-best threshold use fixed-bin histograms, not stored pixels.

    Args:
        dataset: the ground truth; used for its name, size and mask kind.
        predictions: ``(sample, prob_map, score)`` triples, prob_map (H, W) float in [0, 1]
            = P(forged) or (3, H, W) / (H, W, 3) float in [0, 1] = (pristine, source,
            target); score a float or ``None`` (then the map's maximum). A
            :class:`PredictionError` in place of a triple records that sample as failed and
            scoring goes on. Maps are resized bilinearly to the mask size.
        threshold: pixel and image decision threshold in [0, 1] (``>=`` is forged).
        border: no-score zone half-width in pixels for the ``border_excluded`` F1 (0 = none).
        authentic: ``"skip"`` or ``"count"``, the empty-mask rule (see PROTOCOL_NOTES).
        bins: histogram bins for AUC and best thresholds.
        progress: show a progress bar.

    Returns:
        Dict (JSON-ready except ``curves``): ``tamperscope_version``, ``dataset``, ``settings``,
        ``protocol_notes``, ``counts``, ``pixel`` (``union`` and ``per_class``),
        ``f1_conventions``, ``image``, ``combined_f1``, ``combined_f1_mvss``,
        ``discernibility``, ``errors`` (list of ``{name, reason}``), plus ``per_image`` (rows
        keyed by :data:`PER_IMAGE_COLUMNS`) and ``curves`` (numpy ROC arrays for plots).

    Raises:
        TypeError: ``dataset`` is a :class:`~tamperscope.data.base.PairDataset`.
        ValueError: threshold outside [0, 1], negative border or unknown ``authentic`` rule.
    """
    if isinstance(dataset, PairDataset):
        raise TypeError(
            "evaluate_predictions scores single images; score probe/donor pairs with "
            "evaluate_pair_predictions"
        )
    check_empty_rule(authentic)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    if border < 0:
        raise ValueError(f"border must be >= 0 pixels, got {border}")

    union = _Pooled()
    border_acc = _Pooled()
    classes = {c: _Pooled() for c in CLASS_NAMES}
    pooled_hist = ScoreHistogram(bins)
    curve_sum = np.zeros(bins)
    n_curves = 0
    best_f1s: list[float] = []
    inverted: list[float] = []
    all_forged_f1s: list[float] = []
    all_forged_pooled = [0, 0]  # forged pixels, all pixels (images with a forged region)
    aucs: list[float] = []
    outcomes: list[str | None] = []
    labels: list[int] = []
    scores: list[float] = []
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    cases = {
        "gt_forged": 0,
        "gt_forged_pred_empty": 0,
        "gt_empty_pred_empty": 0,
        "gt_empty_pred_forged": 0,
        "no_ground_truth": 0,
        "three_class_scored": 0,
        "union_only_prediction": 0,
        "unknown_label": 0,
    }

    total = len(dataset)
    for item in tqdm(predictions, total=total, disable=not progress, desc="scoring", unit="img"):
        if isinstance(item, PredictionError):
            errors.append({"name": item.name, "reason": item.reason})
            rows.append({"name": item.name, "error": item.reason})
            continue
        sample, prob, given_score = item
        name = sample["name"]
        try:
            prob = normalize_prediction(prob, name)
        except ValueError as exc:
            reason = str(exc).removeprefix(f"{name}: ")
            errors.append({"name": name, "reason": reason})
            rows.append({"name": name, "error": reason})
            continue
        fmap = forgery_probability(prob)
        score = float(fmap.max()) if given_score is None else float(given_score)
        label = int(sample["label"])
        row: dict[str, Any] = {
            "name": name,
            "label": label,
            "score": score,
            "predicted_label": int(score >= threshold),
        }
        rows.append(row)
        mask = sample.get("mask")
        mask_kind = sample.get("mask_kind", dataset.mask_kind)
        if mask is not None:
            try:
                mask = _validate_mask(np.asarray(mask), mask_kind, name)
            except PredictionError as exc:
                errors.append({"name": name, "reason": exc.reason})
                row["error"] = exc.reason
                continue
        if label in (0, 1):
            labels.append(label)
            scores.append(score)
        else:
            cases["unknown_label"] += 1
        if mask is None:
            cases["no_ground_truth"] += 1
            row["mask_case"] = "no_ground_truth"
            continue
        prob = resize_prediction(prob, mask.shape)
        fmap = forgery_probability(prob)
        gt = mask != 0
        n_forged_px = int(gt.sum())
        if n_forged_px:  # the trivial answer "every pixel forged": F1 = 2p / (p + 1)
            all_forged_f1s.append(2.0 * n_forged_px / (n_forged_px + gt.size))
            all_forged_pooled[0] += n_forged_px
            all_forged_pooled[1] += gt.size
        pred = fmap >= threshold
        counts = confusion_counts(pred, gt)
        gt_empty = counts.positives == 0
        if gt_empty:
            case = "gt_empty_pred_empty" if counts.fp == 0 else "gt_empty_pred_forged"
        else:
            cases["gt_forged"] += 1
            case = "gt_forged_pred_empty" if counts.predicted == 0 else "gt_forged"
        if case != "gt_forged":
            cases[case] += 1
        row["mask_case"] = case
        include_pooled = not gt_empty or authentic == "count"

        loc = localization_scores(counts, empty=authentic)
        union.add(counts, loc, include_pooled)
        if loc is not None:
            row.update(loc)

        hist = ScoreHistogram(bins)
        hist.update(fmap, gt)
        img_auc = hist.auc()
        if img_auc is not None:
            aucs.append(img_auc)
            row["auc"] = img_auc
        if include_pooled:
            pooled_hist += hist
        curve = per_image_f1_curve(hist, empty=authentic)
        if curve is not None:
            curve_sum += curve
            n_curves += 1
            k = int(np.argmax(curve))
            best_f1s.append(float(curve[k]))
            row["f1_best"] = float(curve[k])
            row["f1_best_threshold"] = float(hist.thresholds[k])
        inv = f1_inverted_max(fmap, gt, threshold, empty=authentic)
        if inv is not None:
            inverted.append(inv)
            row["f1_inverted_max"] = inv

        zone = no_score_zone(gt, border)
        b_counts = confusion_counts(pred, gt, zone)
        b_scores = localization_scores(b_counts, empty=authentic)
        border_acc.add(b_counts, b_scores, include_pooled)
        if b_scores is not None:
            row["f1_border"] = b_scores["f1"]

        if mask_kind == "three_class" and prob.ndim == 3 and include_pooled:
            cases["three_class_scored"] += 1
            pred_labels = three_class_labels(prob, threshold)
            for c, cname in enumerate(CLASS_NAMES):
                c_counts = confusion_counts(pred_labels == c, mask == c)
                c_scores = localization_scores(c_counts, empty=authentic)
                classes[cname].add(c_counts, c_scores, include_pooled)
                if c_scores is not None:
                    row[f"f1_{cname}"] = c_scores["f1"]
            outcome = discernibility_outcome(pred_labels, mask)
            outcomes.append(outcome)
            row["discernibility"] = outcome
        elif mask_kind == "three_class" and include_pooled:
            cases["union_only_prediction"] += 1

    union_summary = union.summary()
    union_summary["per_image"]["auc"] = mean_or_none(aucs)
    union_summary["per_image"]["n_images_auc"] = len(aucs)
    pooled_auc = pooled_hist.auc()
    if union_summary["pooled"] is not None:
        union_summary["pooled"]["auc"] = pooled_auc
    per_class = (
        {c: acc.summary() for c, acc in classes.items()} if cases["three_class_scored"] else None
    )

    pooled_best = pooled_hist.best_f1() if pooled_hist.pos.sum() > 0 else None
    per_image_best = None
    if n_curves:
        mean_curve = curve_sum / n_curves
        k = int(np.argmax(mean_curve))
        per_image_best = {"f1": float(mean_curve[k]), "threshold": float(pooled_hist.thresholds[k])}
    border_summary = border_acc.summary()
    f1_conventions = {
        "fixed_threshold": {
            "threshold": threshold,
            "per_image": union_summary["per_image"]["f1"],
            "pooled": None if union_summary["pooled"] is None else union_summary["pooled"]["f1"],
        },
        "per_image_best_threshold": {"per_image": mean_or_none(best_f1s)},
        "dataset_best_threshold": {
            "per_image": per_image_best,
            "pooled": None
            if pooled_best is None
            else {"f1": pooled_best[0], "threshold": pooled_best[1]},
        },
        "inverted_max": {"threshold": threshold, "per_image": mean_or_none(inverted)},
        "all_forged_reference": {
            "per_image": mean_or_none(all_forged_f1s),
            "pooled": None
            if all_forged_pooled[1] == 0
            else 2.0 * all_forged_pooled[0] / (all_forged_pooled[0] + all_forged_pooled[1]),
        },
        "border_excluded": {
            "border_px": border,
            "threshold": threshold,
            "per_image": border_summary["per_image"]["f1"],
            "pooled": None if border_summary["pooled"] is None else border_summary["pooled"]["f1"],
        },
    }

    image = image_level_metrics(np.array(labels), np.array(scores), threshold) if labels else None
    pixel_f1 = union_summary["per_image"]["f1"]
    curves: dict[str, Any] = {"image_roc": None, "pixel_roc": None}
    if image is not None:
        curves["image_roc"] = image_roc(np.array(labels), np.array(scores))
        if curves["image_roc"] is not None:
            curves["image_roc"].update(auc=image["auc"], eer=image["eer"])
    if pooled_auc is not None:
        fpr, tpr, thr = pooled_hist.roc()
        curves["pixel_roc"] = {"fpr": fpr, "tpr": tpr, "thresholds": thr, "auc": pooled_auc}

    return {
        "tamperscope_version": __version__,
        "dataset": {
            "kind": getattr(dataset, "kind", type(dataset).__name__),
            "n_samples": total,
            "mask_kind": dataset.mask_kind,
        },
        "settings": {
            "threshold": threshold,
            "border_px": border,
            "authentic": authentic,
            "histogram_bins": bins,
        },
        "protocol_notes": PROTOCOL_NOTES,
        "counts": {
            "n_samples": total,
            "n_scored": len(rows) - len(errors),
            "n_errors": len(errors),
            "n_tampered": int(sum(labels)),
            "n_authentic": len(labels) - int(sum(labels)),
            **cases,
        },
        "pixel": {"union": union_summary, "per_class": per_class},
        "f1_conventions": f1_conventions,
        "image": image,
        "combined_f1": combined_f1(pixel_f1, None if image is None else image["f1"]),
        "combined_f1_mvss": combined_f1(pixel_f1, None if image is None else image["f1_sens_spec"]),
        "discernibility": discernibility_summary(outcomes) if outcomes else None,
        "errors": errors,
        "per_image": [{k: _fmt(r.get(k)) for k in PER_IMAGE_COLUMNS} for r in rows],
        "curves": curves,
    }


#: Columns of the per-pair table, in order.
PER_PAIR_COLUMNS = (
    "name",
    "label",
    "pair_type",
    "group",
    "transform",
    "score",
    "score_source",
    "predicted_label",
    "mask_case",
    "iou",
    "mcc",
    "nmm",
    "iou_all",
    "mcc_all",
    "nmm_all",
    "error",
)

PAIR_PROTOCOL_NOTES = {
    "threshold": "a pixel is predicted shared when its probability >= threshold; a pair is "
    "predicted correlated when its score >= threshold",
    "pair_localization": (
        "IoU, MCC and NMM of the probe mask and of the donor mask, averaged over the two "
        "masks of the pair, then over pairs (DMAC, Liu et al., IEEE TIFS 2019); maps of "
        "another size are resized bilinearly to their mask"
    ),
    "positive_pairs": (
        "only masks with shared pixels are scored: negative pairs (both masks empty) are left "
        "out, a pair with one empty mask is scored on the other one"
    ),
    "all_pairs": (
        "every pair with masks counts: an empty mask with nothing predicted scores 1 on IoU, "
        "MCC and NMM; an empty mask with any pixel predicted scores IoU 0, MCC 0, NMM -1"
    ),
    "pair_score": (
        "given score when provided (scores.csv/scores.json), else DMAC's rule: the mean over "
        "both masks of the average probability of the pixels above 0.5 (0 for a mask without "
        "such pixels); pairs whose label is not 0 or 1 are left out of detection metrics"
    ),
    "detection": "correlated (label 1) is the positive class; AUC and EER are threshold-free",
    "pixel_auc": (
        "pooled over the probe and donor maps of the pairs with shared pixels, from score "
        "histograms of 1001 bins on [0, 1]"
    ),
}

#: An item of the pair scoring loop: (pair_sample, prob_probe, prob_donor[, score]) or an error.
PairItem = (
    tuple[Mapping[str, Any], np.ndarray, np.ndarray]
    | tuple[Mapping[str, Any], np.ndarray, np.ndarray, float | None]
    | PredictionError
)


def _pair_map(preds: PredictionFolder, name: str, role: str) -> np.ndarray:
    try:
        prob = preds.load(f"{name}_{role}")
    except PredictionError as exc:
        raise PredictionError(name, exc.reason) from exc
    if prob.ndim != 2:
        raise PredictionError(
            name,
            f"{role} prediction must be an (H, W) probability map (grey PNG or 2-D .npy), got "
            f"a 3-channel map",
        )
    return prob


def pair_folder_predictions(
    dataset: PairDataset, folder: str | Path | PredictionFolder
) -> Iterator[PairItem]:
    """Pair each probe/donor pair of ``dataset`` with its predicted maps from a folder.

    Pair prediction folder layout, for each pair name ``NAME``:

    * ``PRED/NAME_probe.npy`` or ``PRED/NAME_probe.png`` and ``PRED/NAME_donor.npy`` or
      ``PRED/NAME_donor.png``: (H, W) probability of the shared region (``.npy`` float in
      [0, 1]; grey PNG value / 255), at the image's size or resized bilinearly to it;
    * optional ``PRED/scores.csv`` (``name,score``) or ``PRED/scores.json`` (``{name:
      score}``): pair scores; a pair without one is scored by DMAC's rule from its maps
      (:func:`~tamperscope.inference.pairs.pair_score`).

    Args:
        dataset: the ground-truth pairs.
        folder: prediction folder or an open :class:`PredictionFolder`.

    Yields:
        ``(pair_sample, prob_probe, prob_donor, score)`` with (H, W) float32 maps in [0, 1]
        and score ``None`` when the folder has none; or a :class:`PredictionError` naming a
        pair whose maps are missing or unusable (or whose images cannot be read).

    Raises:
        PredictionError: the folder does not exist or its scores file is malformed.
    """
    preds = folder if isinstance(folder, PredictionFolder) else PredictionFolder(folder)
    yield from predict_each(
        dataset,
        "pair",
        lambda name, sample: (
            sample,
            _pair_map(preds, name, "probe"),
            _pair_map(preds, name, "donor"),
            preds.score(name),
        ),
    )


def _pair_probability(prob: np.ndarray, where: str) -> np.ndarray:
    prob = normalize_prediction(prob, where)
    if prob.ndim != 2:
        raise ValueError(f"{where}: pair predictions must be (H, W) maps, got shape {prob.shape}")
    return prob


def _localization_summary(values: dict[str, list[float]]) -> dict[str, Any]:
    return {**{k: mean_or_none(v) for k, v in values.items()}, "n_pairs": len(values["iou"])}


def evaluate_pair_predictions(
    pairs: Iterable[PairItem],
    *,
    threshold: float = 0.5,
    empty: EmptyRule = "skip",
    bins: int = 1001,
    dataset: PairDataset | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score probe/donor pair predictions (constrained splicing), DMAC's protocol.

    Localization: IoU, MCC and NMM of each pair averaged over its two masks
    (:func:`~tamperscope.metrics.pairs.pair_localization_scores`), then over pairs, under two
    conventions reported side by side (see :data:`PAIR_PROTOCOL_NOTES`): ``positive_pairs``
    (empty masks skipped, so negative pairs are left out) and ``all_pairs`` (empty masks
    count: 1 when nothing is predicted, else IoU 0, MCC 0, NMM -1). Pairs without masks are
    not localized. Detection: the pair score (given, else
    :func:`~tamperscope.inference.pairs.pair_score` of the maps) against the pair label, with
    :func:`~tamperscope.metrics.image.image_level_metrics` (precision, recall, F1, AUC, EER,
    ...).

    Args:
        pairs: ``(pair_sample, prob_probe, prob_donor)`` or ``(pair_sample, prob_probe,
            prob_donor, score)``: pair_sample a mapping with ``name``, ``label`` (1
            correlated, 0 not, -1 unknown) and optional ``probe_mask``/``donor_mask`` (H, W)
            nonzero = shared, ``pair_type``, ``meta``; maps (H, W) float in [0, 1] (resized
            bilinearly to their mask); score a float or ``None``. A
            :class:`PredictionError` in place of an item records that pair as failed, and a
            map that is not (H, W) in [0, 1] does too; scoring goes on.
        threshold: pixel and pair decision threshold in [0, 1].
        empty: the convention of the headline ``localization``: ``"skip"`` (positive pairs
            only) or ``"count"`` (all pairs).
        bins: histogram bins of the pooled pixel AUC.
        dataset: the pair dataset, for its kind and size in the result (optional).
        progress: show a progress bar.

    Returns:
        Dict (JSON-ready except ``curves``): ``n_pairs`` (pairs scored), ``localization``
        (``iou``, ``mcc``, ``nmm``, ``n_pairs`` under ``empty``), ``localization_conventions``
        (``positive_pairs`` and ``all_pairs``, same keys), ``detection`` (None without a
        labelled pair), ``pixel_auc``, ``counts``, ``errors`` (``{name, reason}``),
        ``tamperscope_version``, ``dataset``, ``settings``, ``protocol_notes``, plus
        ``per_pair`` (rows keyed by :data:`PER_PAIR_COLUMNS`) and ``curves`` (numpy ROC
        arrays: ``image_roc`` of the pair scores, ``pixel_roc``).

    Raises:
        ValueError: no pair at all, a threshold outside [0, 1] or an unknown ``empty`` rule.
    """
    check_empty_rule(empty)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    conventions: dict[str, dict[str, list[float]]] = {
        c: {"iou": [], "mcc": [], "nmm": []} for c in ("positive_pairs", "all_pairs")
    }
    labels: list[int] = []
    scores: list[float] = []
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    cases = {
        "positive": 0,
        "negative_pred_empty": 0,
        "negative_pred_shared": 0,
        "no_ground_truth": 0,
        "unknown_label": 0,
        "given_scores": 0,
    }
    hist = ScoreHistogram(bins)
    total = len(dataset) if dataset is not None else None
    n_items = 0
    for item in tqdm(pairs, total=total, disable=not progress, desc="scoring", unit="pair"):
        n_items += 1
        if isinstance(item, PredictionError):
            errors.append({"name": item.name, "reason": item.reason})
            rows.append({"name": item.name, "error": item.reason})
            continue
        sample, prob_a, prob_b = item[0], item[1], item[2]
        given = item[3] if len(item) > 3 else None  # type: ignore[misc]
        name = str(sample["name"])
        try:
            pa = _pair_probability(prob_a, f"{name} probe")
            pb = _pair_probability(prob_b, f"{name} donor")
        except ValueError as exc:
            reason = str(exc).removeprefix(f"{name} ")
            errors.append({"name": name, "reason": reason})
            rows.append({"name": name, "error": reason})
            continue
        score = pair_score(pa, pb, threshold) if given is None else float(given)
        cases["given_scores"] += given is not None
        label = int(sample.get("label", -1))
        meta = sample.get("meta") or {}
        row: dict[str, Any] = {
            "name": name,
            "label": label,
            "pair_type": sample.get("pair_type", meta.get("pair_type")),
            "group": meta.get("group"),
            "transform": meta.get("transform"),
            "score": score,
            "score_source": "maps" if given is None else "given",
            "predicted_label": int(score >= threshold),
        }
        rows.append(row)
        if label in (0, 1):
            labels.append(label)
            scores.append(score)
        else:
            cases["unknown_label"] += 1
        ga, gb = sample.get("probe_mask"), sample.get("donor_mask")
        if ga is None or gb is None:
            cases["no_ground_truth"] += 1
            row["mask_case"] = "no_ground_truth"
            continue
        ga, gb = np.asarray(ga), np.asarray(gb)
        pa, pb = resize_prediction(pa, ga.shape), resize_prediction(pb, gb.shape)
        if ga.any() or gb.any():
            case = "positive"
            for prob, gt in ((pa, ga), (pb, gb)):
                if gt.any():
                    hist.update(prob, gt != 0)
        else:
            predicted = bool((pa >= threshold).any() or (pb >= threshold).any())
            case = "negative_pred_shared" if predicted else "negative_pred_empty"
        cases[case] += 1
        row["mask_case"] = case
        positive = pair_localization_scores(pa, pb, ga, gb, threshold, empty="skip")
        every = pair_localization_scores(pa, pb, ga, gb, threshold, empty="count")
        if positive is not None:
            for k, v in positive.items():
                conventions["positive_pairs"][k].append(v)
                row[k] = v
        if every is not None:
            for k, v in every.items():
                conventions["all_pairs"][k].append(v)
                row[f"{k}_all"] = v
    if n_items == 0:
        raise ValueError("no pairs to score")

    summaries = {c: _localization_summary(v) for c, v in conventions.items()}
    detection = (
        image_level_metrics(np.array(labels), np.array(scores), threshold) if labels else None
    )
    curves: dict[str, Any] = {"image_roc": None, "pixel_roc": None}
    if detection is not None:
        curves["image_roc"] = image_roc(np.array(labels), np.array(scores))
        if curves["image_roc"] is not None:
            curves["image_roc"].update(auc=detection["auc"], eer=detection["eer"])
    pixel_auc = hist.auc()
    if pixel_auc is not None:
        fpr, tpr, thr = hist.roc()
        curves["pixel_roc"] = {"fpr": fpr, "tpr": tpr, "thresholds": thr, "auc": pixel_auc}
    return {
        "tamperscope_version": __version__,
        "dataset": {
            "kind": getattr(dataset, "kind", type(dataset).__name__)
            if dataset is not None
            else None,
            "n_samples": total if total is not None else n_items,
            "mask_kind": "pairs",
        },
        "settings": {"threshold": threshold, "empty": empty, "histogram_bins": bins},
        "protocol_notes": PAIR_PROTOCOL_NOTES,
        "n_pairs": len(rows) - len(errors),
        "localization": summaries["positive_pairs" if empty == "skip" else "all_pairs"],
        "localization_conventions": summaries,
        "detection": detection,
        "pixel_auc": pixel_auc,
        "counts": {
            "n_samples": total if total is not None else n_items,
            "n_scored": len(rows) - len(errors),
            "n_errors": len(errors),
            "n_correlated": int(sum(labels)),
            "n_not_correlated": len(labels) - int(sum(labels)),
            **cases,
        },
        "errors": errors,
        "per_pair": [{k: _fmt(r.get(k)) for k in PER_PAIR_COLUMNS} for r in rows],
        "curves": curves,
    }
