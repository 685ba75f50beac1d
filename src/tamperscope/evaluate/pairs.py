"""Evaluation of constrained image splicing (probe/donor pairs), DMAC's protocol.

DMAC: Liu, Zhu, Zhao and Cao, "Adversarial Learning for Constrained Image Splicing Detection
and Localization Based on Atrous Convolution", IEEE TIFS 2019 (DOI 10.1109/TIFS.2019.2902826).
Localization is scored by IoU, MCC and NMM averaged over the two masks of a pair, then over
pairs (:func:`~tamperscope.metrics.pairs.pair_localization_scores`), under two conventions
side by side (positive pairs only, DMAC's; and all pairs); detection by the pair score
against the pair label (:func:`~tamperscope.metrics.image.image_level_metrics`).
:data:`~tamperscope.evaluate.protocol.PAIR_PROTOCOL_NOTES` states every rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tamperscope.data.base import PairDataset
from tamperscope.evaluate.formats import (
    PredictionError,
    PredictionFolder,
    normalize_prediction,
    resize_prediction,
)
from tamperscope.evaluate.protocol import PAIR_PROTOCOL_NOTES, PER_PAIR_COLUMNS
from tamperscope.evaluate.results import (
    Cell,
    Curves,
    EvaluationResult,
    EvaluationSettings,
    FieldSummary,
    SettingError,
    SummaryTable,
)
from tamperscope.evaluate.tasks import (
    Accumulator,
    DetectionScores,
    ModelLike,
    TaskEvaluation,
    register_evaluation,
)
from tamperscope.inference.pairs import PAIR_SIZE, pair_score, predict_pair
from tamperscope.metrics.pairs import pair_localization_scores
from tamperscope.metrics.pixel import EmptyRule, ScoreHistogram, mean_or_none
from tamperscope.registry import Task
from tamperscope.types import PairSample

__all__ = [
    "PairAccumulator",
    "PairItem",
    "PairSummary",
    "evaluate_pair_predictions",
    "predict_pair_sample",
    "read_pair_prediction",
]

#: An item of the pair evaluation: (pair_sample, prob_probe, prob_donor[, score]) or an error.
PairItem = (
    tuple[Mapping[str, Any], np.ndarray, np.ndarray]
    | tuple[Mapping[str, Any], np.ndarray, np.ndarray, float | None]
    | PredictionError
)

#: (name, empty-mask rule, row-key suffix) of the two localization conventions.
_CONVENTIONS: tuple[tuple[str, EmptyRule, str], ...] = (
    ("positive_pairs", "skip", ""),
    ("all_pairs", "count", "_all"),
)


def _pair_probability(prob: np.ndarray, where: str) -> np.ndarray:
    prob = normalize_prediction(prob, where)
    if prob.ndim != 2:
        raise ValueError(f"{where}: pair predictions must be (H, W) maps, got shape {prob.shape}")
    return prob


@dataclass(frozen=True)
class PairSummary(FieldSummary):
    """Summary metrics of a pair evaluation (JSON-ready; rules in PAIR_PROTOCOL_NOTES).

    Attributes:
        n_pairs: pairs scored without error.
        localization: ``{"iou", "mcc", "nmm", "n_pairs"}`` under the headline convention
            (``settings.empty``: ``"skip"`` = positive pairs, ``"count"`` = all pairs).
        localization_conventions: the same under ``positive_pairs`` and ``all_pairs``.
        detection: :func:`~tamperscope.metrics.image.image_level_metrics` of the pair scores
            (correlated = positive), ``None`` without a labelled pair.
        pixel_auc: pooled pixel AUC over the masks with shared pixels, ``None`` if undefined.
        counts: ``n_samples``, ``n_scored``, ``n_errors``, ``n_correlated``,
            ``n_not_correlated`` and the cases (``positive``, ``negative_pred_empty``,
            ``negative_pred_shared``, ``no_ground_truth``, ``unknown_label``,
            ``given_scores``).
    """

    rows_name: ClassVar[str] = "per_pair"
    columns: ClassVar[tuple[str, ...]] = PER_PAIR_COLUMNS
    protocol_notes: ClassVar[Mapping[str, str]] = PAIR_PROTOCOL_NOTES
    label: ClassVar[str] = "pairs"

    n_pairs: int
    localization: dict[str, Any]
    localization_conventions: dict[str, dict[str, Any]]
    detection: dict[str, Any] | None
    pixel_auc: float | None
    counts: dict[str, int]

    def settings_dict(self, settings: EvaluationSettings) -> dict[str, Any]:
        """``threshold``, ``empty`` (the headline convention's rule), ``histogram_bins``."""
        return {
            "threshold": settings.threshold,
            "empty": settings.empty,
            "histogram_bins": settings.bins,
        }

    def table(self) -> SummaryTable:
        """Pair IoU/MCC/NMM under both conventions, pooled pixel AUC, detection metrics."""
        pos = self.localization_conventions["positive_pairs"]
        every = self.localization_conventions["all_pairs"]
        rows: list[tuple[str, Cell, Cell]] = [
            (f"pair {k}", pos[k], every[k]) for k in ("iou", "mcc", "nmm")
        ]
        rows.append(("pairs localized", str(pos["n_pairs"]), str(every["n_pairs"])))
        rows.append(("pixel AUC (pooled)", self.pixel_auc, None))
        if self.detection:
            for k in ("precision", "recall", "f1", "auc", "eer", "accuracy"):
                rows.append((f"detection {k}", "", self.detection[k]))
        return SummaryTable(("metric", "positive pairs", "all pairs"), tuple(rows))


class PairAccumulator(Accumulator):
    """Pair localization (IoU, MCC, NMM) and detection (pair score) metrics.

    Each pair's maps are thresholded at ``settings.threshold`` (``>=`` is shared) and scored
    against both masks; the pair's score is the given one, else DMAC's rule
    (:func:`~tamperscope.inference.pairs.pair_score` of the maps at ``settings.threshold``).
    Pairs without masks are not localized; pairs whose label is not 0 or 1 are left out of
    detection. Pooled pixel AUC counts the masks with shared pixels.

    Args:
        settings: threshold, empty rule (the headline convention) and histogram bins; a
            border is refused.
        dataset: the :class:`~tamperscope.data.base.PairDataset` (its kind and size), or
            ``None``.

    Raises:
        SettingError: ``settings.border`` is not 0.
    """

    task = Task.PAIR

    def __init__(
        self, settings: EvaluationSettings | None = None, *, dataset: Any | None = None
    ) -> None:
        super().__init__(settings, dataset=dataset)
        self.conventions: dict[str, dict[str, list[float]]] = {
            c: {"iou": [], "mcc": [], "nmm": []} for c, _, _ in _CONVENTIONS
        }
        self.detection = DetectionScores()
        self.cases = {
            "positive": 0,
            "negative_pred_empty": 0,
            "negative_pred_shared": 0,
            "no_ground_truth": 0,
            "unknown_label": 0,
            "given_scores": 0,
        }
        self.hist = ScoreHistogram(self.settings.bins)

    @classmethod
    def check_settings(cls, settings: EvaluationSettings) -> None:
        """Pairs have no no-score zone.

        Raises:
            SettingError: ``settings.border`` is not 0.
        """
        if settings.border:
            raise SettingError("border", "applies to single images, not to pairs")

    def update(
        self,
        sample: Mapping[str, Any],
        prob_probe: np.ndarray,
        prob_donor: np.ndarray,
        score: float | None = None,
    ) -> None:
        """Score one pair.

        Args:
            sample: a :class:`~tamperscope.types.PairSample`-like mapping: ``name``,
                ``label`` (1 correlated, 0 not, other = unknown), optional ``probe_mask`` /
                ``donor_mask`` ((H, W), nonzero = shared), ``pair_type``, ``meta``.
            prob_probe, prob_donor: (H1, W1) and (H2, W2) float in [0, 1], the probability
                of the shared region, resized bilinearly to their masks.
            score: the pair score, or ``None`` for DMAC's rule from the maps.

        A map that is not an (H, W) probability map records the pair as failed.
        """
        threshold = self.settings.threshold
        name = str(sample["name"])
        try:
            pa = _pair_probability(prob_probe, f"{name} probe")
            pb = _pair_probability(prob_donor, f"{name} donor")
        except ValueError as exc:
            self._fail({"name": name}, str(exc).removeprefix(f"{name} "))
            return
        given = score
        score = pair_score(pa, pb, threshold) if given is None else float(given)
        self.cases["given_scores"] += given is not None
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
        self.rows.append(row)
        if not self.detection.add(label, score):
            self.cases["unknown_label"] += 1
        ga, gb = sample.get("probe_mask"), sample.get("donor_mask")
        if ga is None or gb is None:
            self.cases["no_ground_truth"] += 1
            row["mask_case"] = "no_ground_truth"
            return
        ga, gb = np.asarray(ga), np.asarray(gb)
        pa, pb = resize_prediction(pa, ga.shape), resize_prediction(pb, gb.shape)
        if ga.any() or gb.any():
            case = "positive"
            for prob, gt in ((pa, ga), (pb, gb)):
                if gt.any():
                    self.hist.update(prob, gt != 0)
        else:
            predicted = bool((pa >= threshold).any() or (pb >= threshold).any())
            case = "negative_pred_shared" if predicted else "negative_pred_empty"
        self.cases[case] += 1
        row["mask_case"] = case
        for convention, empty, suffix in _CONVENTIONS:
            scores = pair_localization_scores(pa, pb, ga, gb, threshold, empty=empty)
            if scores is not None:
                for k, v in scores.items():
                    self.conventions[convention][k].append(v)
                    row[f"{k}{suffix}"] = v

    def compute(self) -> EvaluationResult:
        """The :class:`PairSummary` and rows of the pairs added so far.

        Raises:
            ValueError: no pair was added.
        """
        n_items = len(self.rows)
        if n_items == 0:
            raise ValueError("no pairs to score")
        summaries = {
            c: {**{k: mean_or_none(v) for k, v in values.items()}, "n_pairs": len(values["iou"])}
            for c, values in self.conventions.items()
        }
        detection, image_curve = self.detection.compute(self.settings.threshold)
        pixel_curve = self.hist.roc_curve()
        n_scored = n_items - len(self.errors)
        headline = "positive_pairs" if self.settings.empty == "skip" else "all_pairs"
        summary = PairSummary(
            n_pairs=n_scored,
            localization=summaries[headline],
            localization_conventions=summaries,
            detection=detection,
            pixel_auc=None if pixel_curve is None else pixel_curve["auc"],
            counts={
                "n_samples": self.n_samples,
                "n_scored": n_scored,
                "n_errors": len(self.errors),
                "n_correlated": self.detection.n_positive,
                "n_not_correlated": self.detection.n_negative,
                **self.cases,
            },
        )
        curves = Curves(image_roc=image_curve, pixel_roc=pixel_curve)
        return self.result(summary, mask_kind="pairs", curves=curves)


def predict_pair_sample(
    detector: ModelLike,
    sample: PairSample,
    *,
    size: int = PAIR_SIZE,
    sliding: bool | None = None,
    sliding_threshold: int = 512,
) -> tuple[PairSample, np.ndarray, np.ndarray, float]:
    """Run a probe/donor model on one pair (:func:`~tamperscope.inference.pairs.predict_pair`).

    Args:
        detector: a pair model.
        sample: the pair.
        size: side (pixels) both images are analysed at (DMAC: 256).
        sliding, sliding_threshold: sliding windows over large probes (``None``: when the
            probe's long side exceeds ``sliding_threshold`` pixels).

    Returns:
        ``(sample, prob_probe, prob_donor, score)``: (H1, W1) and (H2, W2) float32 maps in
        [0, 1] of the shared region and DMAC's pair score in [0, 1].
    """
    prob_probe, prob_donor, score = predict_pair(
        detector.model,
        sample["probe"],
        sample["donor"],
        size=size,
        sliding=sliding,
        sliding_threshold=sliding_threshold,
        device=detector.device,
    )
    return sample, prob_probe, prob_donor, score


def _pair_map(folder: PredictionFolder, name: str, role: str) -> np.ndarray:
    try:
        prob = folder.load(f"{name}_{role}")
    except PredictionError as exc:
        raise PredictionError(name, exc.reason) from exc
    if prob.ndim != 2:
        raise PredictionError(
            name,
            f"{role} prediction must be an (H, W) probability map (grey PNG or 2-D .npy), got "
            f"a 3-channel map",
        )
    return prob


def read_pair_prediction(
    folder: PredictionFolder, name: str, sample: PairSample
) -> tuple[PairSample, np.ndarray, np.ndarray, float | None]:
    """``(sample, prob_probe, prob_donor, score)`` from ``NAME_probe|donor.npy|png``.

    Raises:
        PredictionError: a map is missing, unreadable or has 3 channels.
    """
    return (
        sample,
        _pair_map(folder, name, "probe"),
        _pair_map(folder, name, "donor"),
        folder.score(name),
    )


def _model_settings(detector: ModelLike, options: Mapping[str, Any]) -> dict[str, Any]:
    return {"size": options.get("size", PAIR_SIZE)}


def evaluate_pair_predictions(
    pairs: Iterable[PairItem],
    *,
    threshold: float = 0.5,
    empty: EmptyRule = "skip",
    bins: int = 1001,
    dataset: PairDataset | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score probe/donor pair items with a :class:`PairAccumulator` (DMAC's protocol).

    Args:
        pairs: items of :meth:`PairAccumulator.update` (``(pair_sample, prob_probe,
            prob_donor[, score])``), or :class:`~tamperscope.evaluate.formats.PredictionError`
            for failed pairs.
        threshold, empty, bins: :class:`EvaluationSettings`.
        dataset: the pair dataset, for its kind and size (optional).
        progress: show a progress bar.

    Returns:
        :meth:`EvaluationResult.to_dict` with the ``per_pair`` rows and ``curves``; e.g.
        ``["localization"]`` (``iou``, ``mcc``, ``nmm``, ``n_pairs``) and ``["detection"]``.

    Raises:
        ValueError: no pair at all, or bad settings.
    """
    acc = PairAccumulator(
        EvaluationSettings(threshold=threshold, empty=empty, bins=bins), dataset=dataset
    )
    acc.add_all(pairs, progress=progress, unit="pair")
    return acc.compute().to_dict(rows=True, curves=True)


register_evaluation(
    TaskEvaluation(
        Task.PAIR,
        PairAccumulator,
        predict=predict_pair_sample,
        read=read_pair_prediction,
        model_settings=_model_settings,
        dataset_type=PairDataset,
        default=True,
        what="pair",
        counted="pairs",
        holds="pairs",
        needs="a probe/donor model (e.g. dmac-vgg16)",
        describe="a probe/donor pair dataset",
    )
)
