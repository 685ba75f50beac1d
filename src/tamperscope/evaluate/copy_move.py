"""Evaluation of copy-move detection: 3-class and 1-class maps, image scores, discernibility.

:class:`CopyMoveAccumulator` scores each image's predicted map and score against its
ground-truth mask and label, keeping everything pooled over the dataset as confusion counts
and fixed-bin score histograms (:class:`~tamperscope.metrics.pixel.ScoreHistogram`), never as
pixels, so memory does not grow with the dataset. The maths is in :mod:`tamperscope.metrics`
(pixel, image and discernibility metrics); :data:`PROTOCOL_NOTES` states every rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tamperscope.data.base import ForgeryDataset, PairDataset
from tamperscope.evaluate.formats import (
    PredictionError,
    PredictionFolder,
    forgery_probability,
    normalize_prediction,
    resize_prediction,
)
from tamperscope.evaluate.protocol import PER_IMAGE_COLUMNS, PROTOCOL_NOTES
from tamperscope.evaluate.results import (
    Cell,
    Curves,
    EvaluationResult,
    EvaluationSettings,
    FieldSummary,
    SummaryTable,
)
from tamperscope.evaluate.tasks import (
    Accumulator,
    DetectionScores,
    ModelLike,
    TaskEvaluation,
    register_evaluation,
)
from tamperscope.inference.copy_move import predict_copy_move
from tamperscope.metrics.discernibility import discernibility_outcome, discernibility_summary
from tamperscope.metrics.image import combined_f1
from tamperscope.metrics.pixel import (
    SCORE_NAMES,
    ConfusionCounts,
    EmptyRule,
    ScoreHistogram,
    confusion_counts,
    f1_inverted_max,
    localization_scores,
    mean_or_none,
    no_score_zone,
    per_image_f1_curve,
    three_class_labels,
)
from tamperscope.registry import Task
from tamperscope.types import CLASS_NAMES, Sample

__all__ = [
    "CopyMoveAccumulator",
    "CopyMoveSummary",
    "evaluate_predictions",
    "predict_image",
    "read_image_prediction",
]


@dataclass
class _Pooled:
    """Pooled (protocol A) counts and per-image (protocol B) lists of one mask kind."""

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


@dataclass(frozen=True)
class CopyMoveSummary(FieldSummary):
    """Summary metrics of a copy-move evaluation (JSON-ready dicts; rules in PROTOCOL_NOTES).

    Attributes:
        counts: ``n_samples``, ``n_scored``, ``n_errors``, ``n_tampered``, ``n_authentic`` and
            the mask cases (``gt_forged``, ``gt_forged_pred_empty``, ``gt_empty_pred_empty``,
            ``gt_empty_pred_forged``, ``no_ground_truth``, ``three_class_scored``,
            ``union_only_prediction``, ``unknown_label``).
        pixel: ``{"union": {"per_image", "pooled"}, "per_class": {pristine, source, target}
            or None}``; ``per_image`` (protocol B) holds the mean precision, recall, F1, IoU,
            MCC, NMM, AUC and ``n_images``; ``pooled`` (protocol A) the same from summed
            counts plus ``tp``, ``fp``, ``fn``, ``tn`` (``None`` without a forged pixel).
        f1_conventions: the F1 under each convention, by name: ``fixed_threshold``,
            ``per_image_best_threshold``, ``dataset_best_threshold``, ``inverted_max``,
            ``all_forged_reference``, ``border_excluded``.
        image: :func:`~tamperscope.metrics.image.image_level_metrics` of the image scores,
            ``None`` without a labelled image.
        combined_f1: harmonic mean of pixel F1 (protocol B) and image F1.
        combined_f1_mvss: the same with MVSS-Net's image F1 (sensitivity/specificity).
        discernibility: :func:`~tamperscope.metrics.discernibility.discernibility_summary`,
            ``None`` without a 3-class prediction on a 3-class mask.
    """

    rows_name: ClassVar[str] = "per_image"
    columns: ClassVar[tuple[str, ...]] = PER_IMAGE_COLUMNS
    protocol_notes: ClassVar[Mapping[str, str]] = PROTOCOL_NOTES
    label: ClassVar[str] = ""

    counts: dict[str, int]
    pixel: dict[str, Any]
    f1_conventions: dict[str, Any]
    image: dict[str, Any] | None
    combined_f1: float | None
    combined_f1_mvss: float | None
    discernibility: dict[str, Any] | None

    def settings_dict(self, settings: EvaluationSettings) -> dict[str, Any]:
        """``threshold``, ``border_px``, ``authentic`` (the empty rule), ``histogram_bins``."""
        return {
            "threshold": settings.threshold,
            "border_px": settings.border,
            "authentic": settings.empty,
            "histogram_bins": settings.bins,
        }

    def table(self) -> SummaryTable:
        """Pixel metrics per image (B) and pooled (A), the F1 conventions, image metrics."""
        union = self.pixel["union"]
        pooled = union["pooled"] or {}
        rows: list[tuple[str, Cell, Cell]] = [
            (f"pixel {k}", union["per_image"][k], pooled.get(k))
            for k in ("f1", "precision", "recall", "iou", "mcc", "nmm", "auc")
        ]
        conv = self.f1_conventions
        best = conv["dataset_best_threshold"]
        border = conv["border_excluded"]
        rows += [
            ("F1 per-image best thr (oracle)", conv["per_image_best_threshold"]["per_image"], None),
            (
                "F1 dataset best thr",
                (best["per_image"] or {}).get("f1"),
                (best["pooled"] or {}).get("f1"),
            ),
            ("F1 inverted-max", conv["inverted_max"]["per_image"], None),
            (
                f"F1 border {border['border_px']} px excluded",
                border["per_image"],
                border["pooled"],
            ),
        ]
        for cname, acc in (self.pixel["per_class"] or {}).items():
            rows.append((f"F1 {cname}", acc["per_image"]["f1"], (acc["pooled"] or {}).get("f1")))
        if self.image:
            for k in ("auc", "f1", "accuracy", "balanced_accuracy", "eer"):
                rows.append((f"image {k}", self.image[k], ""))
        rows.append(("combined F1", self.combined_f1, ""))
        if self.discernibility:
            rows.append(("discernibility opt-in acc", self.discernibility["opt_in_accuracy"], ""))
            rows.append(("discernibility overall acc", self.discernibility["overall_accuracy"], ""))
        return SummaryTable(("metric", "per-image (B)", "pooled (A)"), tuple(rows))


class CopyMoveAccumulator(Accumulator):
    """Pixel, image and discernibility metrics of copy-move predictions.

    Pixel metrics are computed on the forged-vs-pristine ("union") mask and, when both the
    ground truth and the prediction are 3-class, per class (pristine, source, target), each
    per image (protocol B) and pooled (protocol A), at ``settings.threshold`` (``>=`` is
    forged). Images with an empty mask follow ``settings.empty`` (``"skip"``: left out of
    every pixel metric; ``"count"``: scored, and their pixels pooled). The F1 conventions
    are reported side by side under their names (:data:`PROTOCOL_NOTES`). Pooled AUC and the
    dataset-best threshold use fixed-bin histograms, not stored pixels.

    Args:
        settings: threshold, empty rule, border (no-score zone, pixels) and histogram bins.
        dataset: a :class:`~tamperscope.data.base.ForgeryDataset` (its kind, size and default
            mask kind), or ``None`` (each sample's ``mask_kind``, else binary).

    Raises:
        TypeError: ``dataset`` is a :class:`~tamperscope.data.base.PairDataset`.
    """

    task = Task.COPY_MOVE
    #: The summary class :meth:`compute` builds (subclasses for other tasks give their own).
    summary_type: ClassVar[type[CopyMoveSummary]] = CopyMoveSummary

    def __init__(
        self, settings: EvaluationSettings | None = None, *, dataset: Any | None = None
    ) -> None:
        if isinstance(dataset, PairDataset):
            raise TypeError(
                "CopyMoveAccumulator scores single images; score probe/donor pairs with "
                "PairAccumulator (evaluate_pair_predictions)"
            )
        super().__init__(settings, dataset=dataset)
        bins = self.settings.bins
        self.union = _Pooled()
        self.border = _Pooled()
        self.classes = {c: _Pooled() for c in CLASS_NAMES}
        self.pooled_hist = ScoreHistogram(bins)
        self.curve_sum = np.zeros(bins)
        self.n_curves = 0
        self.best_f1s: list[float] = []
        self.inverted: list[float] = []
        self.all_forged_f1s: list[float] = []
        self.all_forged_pooled = [0, 0]  # forged pixels, all pixels (images with a forged region)
        self.aucs: list[float] = []
        self.outcomes: list[str | None] = []
        self.detection = DetectionScores()
        self.cases = {
            "gt_forged": 0,
            "gt_forged_pred_empty": 0,
            "gt_empty_pred_empty": 0,
            "gt_empty_pred_forged": 0,
            "no_ground_truth": 0,
            "three_class_scored": 0,
            "union_only_prediction": 0,
            "unknown_label": 0,
        }

    @property
    def _mask_kind(self) -> str:
        return getattr(self.dataset, "mask_kind", "binary")

    def update(
        self, sample: Mapping[str, Any], prob: np.ndarray, score: float | None = None
    ) -> None:
        """Score one image.

        Args:
            sample: a :class:`~tamperscope.types.Sample`-like mapping: ``name``, ``label``
                (1 tampered, 0 authentic, other = unknown, left out of image metrics),
                ``mask`` ((H, W) uint8, 3-class or binary as ``mask_kind`` says; ``None``
                without ground truth) and optional ``mask_kind``.
            prob: (H, W) float in [0, 1] = P(forged), or (3, H, W) / (H, W, 3) float in
                [0, 1] = (pristine, source, target); resized bilinearly to the mask.
            score: image score, or ``None`` for the map's maximum P(forged).

        A map that is not a probability map, or a mask that is not (H, W) (3-class values
        above 2), records the image as failed.
        """
        threshold, empty, bins = self.settings.threshold, self.settings.empty, self.settings.bins
        name = sample["name"]
        try:
            prob = normalize_prediction(prob, name)
        except ValueError as exc:
            self._fail({"name": name}, str(exc).removeprefix(f"{name}: "))
            return
        fmap = forgery_probability(prob)
        score = float(fmap.max()) if score is None else float(score)
        label = int(sample["label"])
        row: dict[str, Any] = {
            "name": name,
            "label": label,
            "score": score,
            "predicted_label": int(score >= threshold),
        }
        self.rows.append(row)
        mask = sample.get("mask")
        mask_kind = sample.get("mask_kind", self._mask_kind)
        if mask is not None:
            try:
                mask = _validate_mask(np.asarray(mask), mask_kind, name)
            except PredictionError as exc:
                self._fail(row, exc.reason)
                return
        if not self.detection.add(label, score):
            self.cases["unknown_label"] += 1
        if mask is None:
            self.cases["no_ground_truth"] += 1
            row["mask_case"] = "no_ground_truth"
            return
        prob = resize_prediction(prob, mask.shape)
        fmap = forgery_probability(prob)
        gt = mask != 0
        n_forged_px = int(gt.sum())
        if n_forged_px:  # the trivial answer "every pixel forged": F1 = 2p / (p + 1)
            self.all_forged_f1s.append(2.0 * n_forged_px / (n_forged_px + gt.size))
            self.all_forged_pooled[0] += n_forged_px
            self.all_forged_pooled[1] += gt.size
        pred = fmap >= threshold
        counts = confusion_counts(pred, gt)
        gt_empty = counts.positives == 0
        if gt_empty:
            case = "gt_empty_pred_empty" if counts.fp == 0 else "gt_empty_pred_forged"
        else:
            self.cases["gt_forged"] += 1
            case = "gt_forged_pred_empty" if counts.predicted == 0 else "gt_forged"
        if case != "gt_forged":
            self.cases[case] += 1
        row["mask_case"] = case
        include_pooled = not gt_empty or empty == "count"

        loc = localization_scores(counts, empty=empty)
        self.union.add(counts, loc, include_pooled)
        if loc is not None:
            row.update(loc)
        self._update_curves(row, fmap, gt, include_pooled, bins, empty)

        zone = no_score_zone(gt, self.settings.border)
        b_counts = confusion_counts(pred, gt, zone)
        b_scores = localization_scores(b_counts, empty=empty)
        self.border.add(b_counts, b_scores, include_pooled)
        if b_scores is not None:
            row["f1_border"] = b_scores["f1"]

        if mask_kind == "three_class" and prob.ndim == 3 and include_pooled:
            self._update_classes(row, prob, mask)
        elif mask_kind == "three_class" and include_pooled:
            self.cases["union_only_prediction"] += 1

    def _update_curves(
        self,
        row: dict[str, Any],
        fmap: np.ndarray,
        gt: np.ndarray,
        include_pooled: bool,
        bins: int,
        empty: EmptyRule,
    ) -> None:
        hist = ScoreHistogram(bins)
        hist.update(fmap, gt)
        img_auc = hist.auc()
        if img_auc is not None:
            self.aucs.append(img_auc)
            row["auc"] = img_auc
        if include_pooled:
            self.pooled_hist += hist
        curve = per_image_f1_curve(hist, empty=empty)
        if curve is not None:
            self.curve_sum += curve
            self.n_curves += 1
            k = int(np.argmax(curve))
            self.best_f1s.append(float(curve[k]))
            row["f1_best"] = float(curve[k])
            row["f1_best_threshold"] = float(hist.thresholds[k])
        inv = f1_inverted_max(fmap, gt, self.settings.threshold, empty=empty)
        if inv is not None:
            self.inverted.append(inv)
            row["f1_inverted_max"] = inv

    def _update_classes(self, row: dict[str, Any], prob: np.ndarray, mask: np.ndarray) -> None:
        self.cases["three_class_scored"] += 1
        pred_labels = three_class_labels(prob, self.settings.threshold)
        for c, cname in enumerate(CLASS_NAMES):
            c_counts = confusion_counts(pred_labels == c, mask == c)
            c_scores = localization_scores(c_counts, empty=self.settings.empty)
            self.classes[cname].add(c_counts, c_scores, True)
            if c_scores is not None:
                row[f"f1_{cname}"] = c_scores["f1"]
        outcome = discernibility_outcome(pred_labels, mask)
        self.outcomes.append(outcome)
        row["discernibility"] = outcome

    def _f1_conventions(
        self, union_summary: dict[str, Any], border_summary: dict[str, Any]
    ) -> dict[str, Any]:
        threshold = self.settings.threshold
        pooled_best = self.pooled_hist.best_f1() if self.pooled_hist.pos.sum() > 0 else None
        per_image_best = None
        if self.n_curves:
            mean_curve = self.curve_sum / self.n_curves
            k = int(np.argmax(mean_curve))
            per_image_best = {
                "f1": float(mean_curve[k]),
                "threshold": float(self.pooled_hist.thresholds[k]),
            }
        forged_px, all_px = self.all_forged_pooled
        return {
            "fixed_threshold": {
                "threshold": threshold,
                "per_image": union_summary["per_image"]["f1"],
                "pooled": None
                if union_summary["pooled"] is None
                else union_summary["pooled"]["f1"],
            },
            "per_image_best_threshold": {"per_image": mean_or_none(self.best_f1s)},
            "dataset_best_threshold": {
                "per_image": per_image_best,
                "pooled": None
                if pooled_best is None
                else {"f1": pooled_best[0], "threshold": pooled_best[1]},
            },
            "inverted_max": {"threshold": threshold, "per_image": mean_or_none(self.inverted)},
            "all_forged_reference": {
                "per_image": mean_or_none(self.all_forged_f1s),
                "pooled": None if all_px == 0 else 2.0 * forged_px / (forged_px + all_px),
            },
            "border_excluded": {
                "border_px": self.settings.border,
                "threshold": threshold,
                "per_image": border_summary["per_image"]["f1"],
                "pooled": None
                if border_summary["pooled"] is None
                else border_summary["pooled"]["f1"],
            },
        }

    def compute(self) -> EvaluationResult:
        """The :class:`CopyMoveSummary` and rows of the images added so far."""
        union_summary = self.union.summary()
        union_summary["per_image"]["auc"] = mean_or_none(self.aucs)
        union_summary["per_image"]["n_images_auc"] = len(self.aucs)
        pooled_auc = self.pooled_hist.auc()
        if union_summary["pooled"] is not None:
            union_summary["pooled"]["auc"] = pooled_auc
        per_class = (
            {c: acc.summary() for c, acc in self.classes.items()}
            if self.cases["three_class_scored"]
            else None
        )
        f1_conventions = self._f1_conventions(union_summary, self.border.summary())

        image, image_roc = self.detection.compute(self.settings.threshold)
        pixel_f1 = union_summary["per_image"]["f1"]
        summary = self.summary_type(
            counts={
                "n_samples": self.n_samples,
                "n_scored": len(self.rows) - len(self.errors),
                "n_errors": len(self.errors),
                "n_tampered": self.detection.n_positive,
                "n_authentic": self.detection.n_negative,
                **self.cases,
            },
            pixel={"union": union_summary, "per_class": per_class},
            f1_conventions=f1_conventions,
            image=image,
            combined_f1=combined_f1(pixel_f1, None if image is None else image["f1"]),
            combined_f1_mvss=combined_f1(
                pixel_f1, None if image is None else image["f1_sens_spec"]
            ),
            discernibility=discernibility_summary(self.outcomes) if self.outcomes else None,
        )
        curves = Curves(image_roc=image_roc, pixel_roc=self.pooled_hist.roc_curve())
        return self.result(summary, mask_kind=self._mask_kind, curves=curves)


def predict_image(detector: ModelLike, sample: Sample) -> tuple[Sample, np.ndarray, float]:
    """Run a copy-move model on one sample at the detector's ``long_side``.

    Returns:
        ``(sample, prob_map, score)``: prob_map (3, H, W) float32 (pristine, source, target)
        or (H, W) float32 = P(forged) for 1-class models, at the image's size; score in
        [0, 1].
    """
    prediction, _ = predict_copy_move(
        detector.model, sample["image"], long_side=detector.long_side, device=detector.device
    )
    probs = prediction.probabilities
    return sample, (probs[0] if probs.shape[0] == 1 else probs), prediction.score


def read_image_prediction(
    folder: PredictionFolder, name: str, sample: Sample
) -> tuple[Sample, np.ndarray, float | None]:
    """``(sample, prob_map, score)`` from ``NAME.npy|png`` and the folder's scores.

    Raises:
        PredictionError: no prediction file, or an unusable one.
    """
    return sample, folder.load(name), folder.score(name)


def _model_settings(detector: ModelLike, options: Mapping[str, Any]) -> dict[str, Any]:
    return {"long_side": detector.long_side}


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
    """Score ``(sample, prob_map, score)`` triples with a :class:`CopyMoveAccumulator`.

    Args:
        dataset: the ground truth (its kind, size and mask kind).
        predictions: items of :meth:`CopyMoveAccumulator.update`, or
            :class:`~tamperscope.evaluate.formats.PredictionError` for failed samples.
        threshold, border, authentic, bins: :class:`EvaluationSettings` (``authentic`` is
            the empty-mask rule).
        progress: show a progress bar.

    Returns:
        :meth:`EvaluationResult.to_dict` with the ``per_image`` rows and ``curves``.

    Raises:
        TypeError: ``dataset`` is a pair dataset.
        ValueError: bad settings.
    """
    settings = EvaluationSettings(threshold=threshold, empty=authentic, border=border, bins=bins)
    acc = CopyMoveAccumulator(settings, dataset=dataset)
    acc.add_all(predictions, progress=progress, unit="img")
    return acc.compute().to_dict(rows=True, curves=True)


register_evaluation(
    TaskEvaluation(
        Task.COPY_MOVE,
        CopyMoveAccumulator,
        predict=predict_image,
        read=read_image_prediction,
        model_settings=_model_settings,
        dataset_type=ForgeryDataset,
        default=True,
    )
)
