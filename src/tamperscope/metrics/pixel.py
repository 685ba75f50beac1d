"""Pixel-level localization metrics: confusion counts, F1, IoU, MCC, NMM, AUC.

Protocols, as the localization literature uses them:

* **Protocol A (pooled)**: the confusion counts of all scored pixels of all images are summed,
  then the metric is computed once.
* **Protocol B (per-image)**: the metric is computed on each image, then averaged over images,
  as BusterNet (Wu et al., ECCV 2018) and DOA-GAN (Islam et al., CVPR 2020) report it.

Threshold: a pixel is predicted forged when its probability is ``>= threshold`` (the same
rule as :func:`sklearn.metrics.roc_curve`).

Empty ground truth (authentic images, or a class absent from a 3-class mask) makes recall,
F1, IoU, MCC and NMM undefined or degenerate. Every per-image function here takes an
``empty`` rule:

* ``"skip"`` (default): the image is left out of the per-image mean for that mask, whatever
  was predicted on it.
* ``"count"``: the image counts; a prediction with no forged pixel scores 1 (perfect) on every
  metric, a prediction with any forged pixel scores precision 0, recall 1 (nothing was
  missed), F1 0, IoU 0, MCC 0 and NMM -1.

When the ground truth is not empty every metric is defined: precision is 0 when nothing is
predicted and MCC is 0 when its denominator is 0 (scikit-learn's ``zero_division=0``).

Pooled pixel AUC and the dataset-best threshold use :class:`ScoreHistogram`: pixel scores are
counted per ground-truth class in fixed bins on [0, 1], so memory does not grow with the
number of pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

EmptyRule = Literal["skip", "count"]
EMPTY_RULES: tuple[str, ...] = ("skip", "count")

#: Keys of the dictionaries returned by :func:`localization_scores`.
SCORE_NAMES = ("precision", "recall", "f1", "iou", "mcc", "nmm")


def check_empty_rule(empty: str) -> None:
    """Raise ``ValueError`` unless ``empty`` is ``"skip"`` or ``"count"``."""
    if empty not in EMPTY_RULES:
        raise ValueError(f"empty-mask rule must be one of {EMPTY_RULES}, got {empty!r}")


@dataclass(frozen=True)
class ConfusionCounts:
    """Pixel confusion counts of one binary decision (a class against the rest).

    Attributes:
        tp: forged pixels predicted forged.
        fp: pristine pixels predicted forged.
        fn: forged pixels predicted pristine.
        tn: pristine pixels predicted pristine.
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: ConfusionCounts) -> ConfusionCounts:
        return ConfusionCounts(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )

    @property
    def positives(self) -> int:
        """Ground-truth positive pixels (TP + FN)."""
        return self.tp + self.fn

    @property
    def predicted(self) -> int:
        """Predicted positive pixels (TP + FP)."""
        return self.tp + self.fp

    def precision(self) -> float:
        """TP / (TP + FP); 0 when nothing is predicted."""
        return self.tp / self.predicted if self.predicted else 0.0

    def recall(self) -> float:
        """TP / (TP + FN); 0 when the ground truth is empty (see :func:`localization_scores`)."""
        return self.tp / self.positives if self.positives else 0.0

    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN); 0 when both masks are empty."""
        den = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / den if den else 0.0

    def iou(self) -> float:
        """TP / (TP + FP + FN) (Jaccard index); 0 when both masks are empty."""
        den = self.tp + self.fp + self.fn
        return self.tp / den if den else 0.0

    def mcc(self) -> float:
        """Matthews correlation coefficient (Matthews, 1975) in [-1, 1]; 0 when undefined."""
        tp, fp, fn, tn = (float(v) for v in (self.tp, self.fp, self.fn, self.tn))
        den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return float((tp * tn - fp * fn) / den) if den > 0 else 0.0

    def nmm(self) -> float:
        """Nimble Mask Metric, max(-1, (TP - FN - FP) / (TP + FN)).

        Defined for the NIST Nimble / Media Forensics Challenge evaluations (Guan et al.,
        "MFC datasets", WACV Workshops 2019) and used by DMAC (Liu et al., IEEE TIFS 2019).
        -1 when the ground truth is empty and something is predicted, 1 when both are empty.
        """
        if self.positives == 0:
            return 1.0 if self.fp == 0 else -1.0
        return max(-1.0, (self.tp - self.fn - self.fp) / self.positives)

    def as_dict(self) -> dict[str, int]:
        """The four counts as a dict (``tp``, ``fp``, ``fn``, ``tn``)."""
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}


def confusion_counts(
    pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None
) -> ConfusionCounts:
    """Count TP/FP/FN/TN of a binary prediction against a binary ground truth.

    Args:
        pred: (H, W) bool or integer, nonzero = predicted positive.
        gt: (H, W) bool or integer, nonzero = positive.
        ignore: optional (H, W) bool, True = pixel not scored (e.g. a no-score zone).

    Returns:
        The counts over the scored pixels.

    Raises:
        ValueError: the shapes differ.
    """
    if pred.shape != gt.shape or (ignore is not None and ignore.shape != gt.shape):
        shapes = f"pred {pred.shape}, gt {gt.shape}"
        if ignore is not None:
            shapes += f", ignore {ignore.shape}"
        raise ValueError(f"prediction and ground truth must have the same shape; got {shapes}")
    p = pred.astype(bool, copy=False)
    g = gt.astype(bool, copy=False)
    if ignore is not None:
        keep = ~ignore.astype(bool, copy=False)
        p, g = p[keep], g[keep]
    n = int(p.size)
    tp = int(np.count_nonzero(p & g))
    npred = int(np.count_nonzero(p))
    npos = int(np.count_nonzero(g))
    fp, fn = npred - tp, npos - tp
    return ConfusionCounts(tp=tp, fp=fp, fn=fn, tn=n - tp - fp - fn)


def localization_scores(
    counts: ConfusionCounts, *, empty: EmptyRule = "skip"
) -> dict[str, float] | None:
    """Precision, recall, F1, IoU, MCC and NMM of one mask, with the empty-mask rule.

    Args:
        counts: confusion counts of one image (protocol B) or of a whole set (protocol A).
        empty: what to do when the ground truth has no positive pixel: ``"skip"`` returns
            ``None`` (left out of the mean), ``"count"`` scores it as described in the module
            docstring (1 everywhere when nothing is predicted; precision 0, recall 1, F1 0,
            IoU 0, MCC 0, NMM -1 otherwise).

    Returns:
        Dict with keys :data:`SCORE_NAMES`, values in [0, 1] (MCC and NMM in [-1, 1]), or
        ``None`` when skipped.

    Raises:
        ValueError: unknown ``empty`` rule.
    """
    check_empty_rule(empty)
    if counts.positives == 0:
        if empty == "skip":
            return None
        if counts.fp == 0:
            return dict.fromkeys(SCORE_NAMES, 1.0)
        return {"precision": 0.0, "recall": 1.0, "f1": 0.0, "iou": 0.0, "mcc": 0.0, "nmm": -1.0}
    return {
        "precision": counts.precision(),
        "recall": counts.recall(),
        "f1": counts.f1(),
        "iou": counts.iou(),
        "mcc": counts.mcc(),
        "nmm": counts.nmm(),
    }


def binarize(prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Threshold a probability map: forged where ``prob >= threshold``.

    Args:
        prob: (H, W) float in [0, 1], probability of forged.
        threshold: decision threshold in [0, 1].

    Returns:
        (H, W) bool.
    """
    return np.asarray(prob) >= threshold


def three_class_labels(prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Turn 3-class probabilities into a label map with a forged-vs-pristine threshold.

    A pixel is forged when P(source) + P(target) >= ``threshold``; a forged pixel is source
    when P(source) > P(target), otherwise target (ties go to target). At ``threshold`` 0.5
    with normalized probabilities this differs from a plain argmax only where pristine is the
    largest class but below 0.5 (e.g. 0.4 / 0.3 / 0.3 is forged here, pristine by argmax): the
    union mask then equals the thresholded forgery map, so union and per-class metrics agree.

    Args:
        prob: (3, H, W) float in [0, 1], channels (pristine, source, target).
        threshold: decision threshold on P(forged) in [0, 1].

    Returns:
        (H, W) uint8 in {0 pristine, 1 source, 2 target}.

    Raises:
        ValueError: ``prob`` is not (3, H, W).
    """
    if prob.ndim != 3 or prob.shape[0] != 3:
        raise ValueError(
            f"expected (3, H, W) probabilities (pristine, source, target), got {prob.shape}"
        )
    forged = np.clip(prob[1] + prob[2], 0.0, 1.0) >= threshold
    cls = np.where(prob[1] > prob[2], 1, 2)
    return np.where(forged, cls, 0).astype(np.uint8)


def no_score_zone(gt: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within ``radius`` pixels of a ground-truth boundary (NIST MFC "no-score zone").

    The zone is dilate(gt) minus erode(gt) with a disc of diameter 2 * radius + 1, as in the
    Media Forensics Challenge scorer (Guan et al., WACV Workshops 2019). The image border is
    not a mask boundary.

    Args:
        gt: (H, W) bool or integer, nonzero = forged.
        radius: zone half-width in pixels, >= 0; 0 gives an empty zone.

    Returns:
        (H, W) bool, True = not scored.

    Raises:
        ValueError: ``radius`` is negative.
    """
    if radius < 0:
        raise ValueError(f"border radius must be >= 0 pixels, got {radius}")
    g = (np.asarray(gt) != 0).astype(np.uint8)
    if radius == 0:
        return np.zeros(g.shape, dtype=bool)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(g, disc).astype(bool) & ~cv2.erode(g, disc).astype(bool)


class ScoreHistogram:
    """Counts of pixel scores of forged and pristine pixels in fixed bins on [0, 1].

    A score s goes to bin ``round(s * (bins - 1))``; threshold k / (bins - 1) predicts forged
    the pixels of bins >= k. ROC, AUC and F1 at every threshold then come from cumulative
    sums, so pooled statistics over a whole dataset take 2 * ``bins`` integers instead of all
    pixels. With the default 1001 bins, 8-bit maps (values / 255) fall in distinct bins and
    the AUC equals scikit-learn's exactly; float maps are quantized to steps of 0.001.

    Args:
        bins: number of bins (thresholds), >= 2.

    Raises:
        ValueError: ``bins`` < 2.
    """

    def __init__(self, bins: int = 1001) -> None:
        if bins < 2:
            raise ValueError(f"a score histogram needs at least 2 bins, got {bins}")
        self.bins = int(bins)
        self.pos = np.zeros(self.bins, dtype=np.int64)
        self.neg = np.zeros(self.bins, dtype=np.int64)

    @property
    def thresholds(self) -> np.ndarray:
        """(bins,) float64 thresholds k / (bins - 1), increasing."""
        return np.linspace(0.0, 1.0, self.bins)

    def update(self, scores: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> None:
        """Add the pixels of one map.

        Args:
            scores: (H, W) float in [0, 1], probability of forged (clipped to [0, 1]).
            gt: (H, W) bool or integer, nonzero = forged.
            ignore: optional (H, W) bool, True = pixel not counted.

        Raises:
            ValueError: the shapes differ.
        """
        if scores.shape != gt.shape:
            raise ValueError(f"scores {scores.shape} and ground truth {gt.shape} differ in shape")
        idx = np.rint(np.clip(scores, 0.0, 1.0) * (self.bins - 1)).astype(np.int64)
        g = np.asarray(gt) != 0
        if ignore is not None:
            keep = ~ignore
            idx, g = idx[keep], g[keep]
        self.pos += np.bincount(idx[g], minlength=self.bins)
        self.neg += np.bincount(idx[~g], minlength=self.bins)

    def __iadd__(self, other: ScoreHistogram) -> ScoreHistogram:
        if other.bins != self.bins:
            raise ValueError(f"cannot add histograms of {other.bins} and {self.bins} bins")
        self.pos += other.pos
        self.neg += other.neg
        return self

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """TP, FP, FN, TN at every threshold of :attr:`thresholds`, each (bins,) int64."""
        tp = np.cumsum(self.pos[::-1])[::-1]
        fp = np.cumsum(self.neg[::-1])[::-1]
        return tp, fp, self.pos.sum() - tp, self.neg.sum() - fp

    def roc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ROC curve: FPR, TPR and thresholds, FPR increasing, starting at (0, 0).

        Returns:
            fpr, tpr: (bins + 1,) float64 in [0, 1]; thresholds: (bins + 1,) float64, the first
            is ``inf`` (nothing predicted), like :func:`sklearn.metrics.roc_curve`.
            FPR (or TPR) is all zeros when there is no pristine (or forged) pixel.
        """
        tp, fp, _, _ = self.counts()
        npos, nneg = max(int(self.pos.sum()), 1), max(int(self.neg.sum()), 1)
        fpr = np.concatenate([[0.0], fp[::-1] / nneg])
        tpr = np.concatenate([[0.0], tp[::-1] / npos])
        thr = np.concatenate([[np.inf], self.thresholds[::-1]])
        return fpr, tpr, thr

    def auc(self) -> float | None:
        """Area under the ROC curve (trapezoids), or ``None`` when one class has no pixel."""
        if self.pos.sum() == 0 or self.neg.sum() == 0:
            return None
        fpr, tpr, _ = self.roc()
        return float(np.trapezoid(tpr, fpr))

    def roc_curve(self) -> dict[str, Any] | None:
        """:meth:`roc` and :meth:`auc` as ``{"fpr", "tpr", "thresholds", "auc"}``, or ``None``
        when one class has no pixel."""
        auc = self.auc()
        if auc is None:
            return None
        fpr, tpr, thr = self.roc()
        return {"fpr": fpr, "tpr": tpr, "thresholds": thr, "auc": auc}

    def f1_curve(self) -> np.ndarray:
        """(bins,) float64 F1 at every threshold of :attr:`thresholds` (0 where undefined)."""
        tp, fp, fn, _ = self.counts()
        den = 2 * tp + fp + fn
        return np.divide(2.0 * tp, den, out=np.zeros(self.bins), where=den > 0)

    def best_f1(self) -> tuple[float, float]:
        """Largest F1 over the thresholds and the (lowest) threshold reaching it."""
        curve = self.f1_curve()
        k = int(np.argmax(curve))
        return float(curve[k]), float(self.thresholds[k])


def per_image_f1_curve(hist: ScoreHistogram, *, empty: EmptyRule = "skip") -> np.ndarray | None:
    """F1 of one image at every threshold of its :class:`ScoreHistogram`, with the empty rule.

    Args:
        hist: histogram of one image.
        empty: ``"skip"`` returns ``None`` when the image has no forged pixel; ``"count"``
            gives 1 at thresholds where nothing is predicted and 0 elsewhere.

    Returns:
        (bins,) float64 in [0, 1], or ``None`` when skipped.
    """
    check_empty_rule(empty)
    if hist.pos.sum() == 0:
        if empty == "skip":
            return None
        _, fp, _, _ = hist.counts()
        return (fp == 0).astype(np.float64)
    return hist.f1_curve()


def pixel_auc(prob: np.ndarray, gt: np.ndarray, *, bins: int = 1001) -> float | None:
    """Pixel ROC AUC of one map from a :class:`ScoreHistogram` (see its quantization note).

    Args:
        prob: (H, W) float in [0, 1], probability of forged.
        gt: (H, W) bool or integer, nonzero = forged.
        bins: histogram bins.

    Returns:
        AUC in [0, 1], or ``None`` when the mask is empty or full (AUC undefined).
    """
    hist = ScoreHistogram(bins)
    hist.update(prob, gt)
    return hist.auc()


def f1_fixed(
    prob: np.ndarray, gt: np.ndarray, threshold: float = 0.5, *, empty: EmptyRule = "skip"
) -> float | None:
    """Per-image F1 at a fixed threshold (``prob >= threshold`` is forged).

    Args:
        prob: (H, W) float in [0, 1].
        gt: (H, W) bool or integer, nonzero = forged.
        threshold: decision threshold.
        empty: empty-ground-truth rule (module docstring).

    Returns:
        F1 in [0, 1], or ``None`` when skipped.
    """
    scores = localization_scores(confusion_counts(binarize(prob, threshold), gt), empty=empty)
    return None if scores is None else scores["f1"]


def f1_inverted_max(
    prob: np.ndarray, gt: np.ndarray, threshold: float = 0.5, *, empty: EmptyRule = "skip"
) -> float | None:
    """Inverted-max F1: max of the F1 of ``prob`` and of ``1 - prob`` at a fixed threshold.

    Used for detectors whose output polarity is arbitrary (e.g. clustering-based splicing
    localization, Huh et al., ECCV 2018), it is always >= the plain F1 and favours them: report
    it beside the plain F1, never instead of it.

    Args:
        prob: (H, W) float in [0, 1].
        gt: (H, W) bool or integer, nonzero = forged.
        threshold: decision threshold applied to both maps.
        empty: empty-ground-truth rule.

    Returns:
        F1 in [0, 1], or ``None`` when skipped.
    """
    a = f1_fixed(prob, gt, threshold, empty=empty)
    b = f1_fixed(1.0 - np.asarray(prob), gt, threshold, empty=empty)
    if a is None or b is None:
        return None
    return max(a, b)


def f1_best_threshold(
    prob: np.ndarray, gt: np.ndarray, *, bins: int = 1001, empty: EmptyRule = "skip"
) -> tuple[float, float] | None:
    """Per-image oracle F1: the best F1 of one image over the thresholds k / (bins - 1).

    An optimistic upper bound (the threshold is chosen with the ground truth); report it
    beside the fixed-threshold F1.

    Args:
        prob: (H, W) float in [0, 1].
        gt: (H, W) bool or integer, nonzero = forged.
        bins: number of thresholds.
        empty: empty-ground-truth rule.

    Returns:
        (F1, threshold), or ``None`` when skipped.
    """
    hist = ScoreHistogram(bins)
    hist.update(prob, gt)
    curve = per_image_f1_curve(hist, empty=empty)
    if curve is None:
        return None
    k = int(np.argmax(curve))
    return float(curve[k]), float(hist.thresholds[k])


def mean_or_none(values: list[float]) -> float | None:
    """Mean of a list, ``None`` when it is empty."""
    return float(np.mean(values)) if values else None
