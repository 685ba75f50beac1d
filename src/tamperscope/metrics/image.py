"""Image-level detection metrics: is the image tampered at all?

Every image has a label (1 tampered, 0 authentic) and a score in [0, 1]; an image is
predicted tampered when ``score >= threshold``. ROC and AUC come from scikit-learn
(:func:`sklearn.metrics.roc_curve`, :func:`sklearn.metrics.roc_auc_score`).
Threshold-free metrics (AUC, EER, G-mean threshold) are ``None`` when the labels hold a
single class.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.size} vs {s.size}")
    if y.size == 0:
        raise ValueError("no images to score: labels and scores are empty")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"image labels must be 0 or 1, got values {sorted(set(y.tolist()))}")
    if not np.isfinite(s).all():
        raise ValueError("image scores must be finite numbers (found NaN or inf)")
    return y, s


def _both_classes(y: np.ndarray) -> bool:
    return bool(y.min() == 0 and y.max() == 1)


def image_roc(labels: np.ndarray, scores: np.ndarray) -> dict[str, Any] | None:
    """Image-level ROC curve (scikit-learn, all points kept).

    Args:
        labels: (N,) int in {0, 1}.
        scores: (N,) float, higher = more likely tampered.

    Returns:
        ``{"fpr", "tpr", "thresholds"}`` (numpy arrays, the first threshold is ``inf``), or
        ``None`` when only one class is present.

    Raises:
        ValueError: lengths differ, no image, labels not in {0, 1} or non-finite scores.
    """
    y, s = _check(labels, scores)
    if not _both_classes(y):
        return None
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    return {"fpr": fpr, "tpr": tpr, "thresholds": thr}


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float] | None:
    """Equal error rate: where the false positive rate equals the false negative rate.

    The ROC is walked by decreasing threshold; at the first point where FNR <= FPR the EER
    is linearly interpolated between that point and the previous one. The threshold returned
    is the one of that first point.

    Args:
        labels: (N,) int in {0, 1}.
        scores: (N,) float.

    Returns:
        (EER in [0, 1], threshold), or ``None`` when only one class is present.
    """
    roc = image_roc(labels, scores)
    if roc is None:
        return None
    fpr, fnr, thr = roc["fpr"], 1.0 - roc["tpr"], roc["thresholds"]
    i = int(np.argmax(fnr <= fpr))  # fnr ends at 0 <= fpr, so a crossing exists
    if i == 0 or fnr[i] == fpr[i]:
        return float(fpr[i]), float(thr[i])
    d0, d1 = fpr[i - 1] - fnr[i - 1], fpr[i] - fnr[i]
    a = d0 / (d0 - d1)
    return float(fpr[i - 1] + a * (fpr[i] - fpr[i - 1])), float(thr[i])


def gmean_threshold(labels: np.ndarray, scores: np.ndarray) -> dict[str, float] | None:
    """The ROC threshold maximizing the G-mean sqrt(TPR * (1 - FPR)).

    Args:
        labels: (N,) int in {0, 1}.
        scores: (N,) float.

    Returns:
        ``{"threshold", "g_mean", "tpr", "fpr"}``, or ``None`` when only one class is present.
        The ``inf`` threshold of the ROC (nothing predicted) is never chosen.
    """
    roc = image_roc(labels, scores)
    if roc is None:
        return None
    g = np.sqrt(roc["tpr"] * (1.0 - roc["fpr"]))
    g[~np.isfinite(roc["thresholds"])] = -1.0
    k = int(np.argmax(g))
    return {
        "threshold": float(roc["thresholds"][k]),
        "g_mean": float(g[k]),
        "tpr": float(roc["tpr"][k]),
        "fpr": float(roc["fpr"][k]),
    }


def harmonic_mean(a: float | None, b: float | None) -> float | None:
    """2ab / (a + b); 0 when both are 0, ``None`` when either is ``None``."""
    if a is None or b is None:
        return None
    return 2.0 * a * b / (a + b) if a + b > 0 else 0.0


def combined_f1(pixel_f1: float | None, image_f1: float | None) -> float | None:
    """Combined F1: harmonic mean of a pixel-level F1 and an image-level F1.

    Introduced as Com-F1 by MVSS-Net (Chen et al., ICCV 2021), whose image-level "F1" is the
    harmonic mean of sensitivity and specificity; tamperscope reports both pairings (see
    :func:`image_level_metrics`).

    Args:
        pixel_f1: pixel F1 in [0, 1] (tamperscope uses protocol B at the fixed threshold).
        image_f1: image F1 in [0, 1].

    Returns:
        Value in [0, 1], or ``None`` when either input is ``None``.
    """
    return harmonic_mean(pixel_f1, image_f1)


def image_level_metrics(
    labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> dict[str, Any]:
    """Image-level detection metrics at a threshold, plus threshold-free ones.

    Tampered (label 1) is the positive class; an image is predicted tampered when
    ``score >= threshold``. Precision is 0 when nothing is predicted tampered, recall
    (= sensitivity, TPR) is ``None`` without tampered images, specificity (TNR) is ``None``
    without authentic images.

    Args:
        labels: (N,) int in {0, 1}.
        scores: (N,) float, e.g. in [0, 1].
        threshold: decision threshold.

    Returns:
        Dict with ``n_images``, ``n_tampered``, ``n_authentic``, ``threshold``, ``tp``,
        ``fp``, ``fn``, ``tn``, ``precision``, ``recall``, ``f1``, ``accuracy``,
        ``sensitivity``, ``specificity``, ``balanced_accuracy``, ``f1_sens_spec`` (harmonic
        mean of sensitivity and specificity, MVSS-Net's image F1), ``auc``, ``eer``,
        ``eer_threshold`` and ``gmean`` (see :func:`gmean_threshold`).

    Raises:
        ValueError: lengths differ, no image, labels not in {0, 1} or non-finite scores.
    """
    y, s = _check(labels, scores)
    pred = (s >= threshold).astype(np.int64)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[0, 1]).ravel())
    npos, nneg = tp + fn, tn + fp
    precision = tp / (tp + fp) if tp + fp else 0.0
    sens = tp / npos if npos else None
    spec = tn / nneg if nneg else None
    f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0
    if sens is not None and spec is not None:
        balanced: float | None = (sens + spec) / 2.0
    else:
        balanced = sens if spec is None else spec
    both = _both_classes(y)
    eer = equal_error_rate(y, s) if both else None
    return {
        "n_images": int(y.size),
        "n_tampered": npos,
        "n_authentic": nneg,
        "threshold": float(threshold),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": sens,
        "f1": f1,
        "accuracy": (tp + tn) / y.size,
        "sensitivity": sens,
        "specificity": spec,
        "balanced_accuracy": balanced,
        "f1_sens_spec": harmonic_mean(sens, spec),
        "auc": float(roc_auc_score(y, s)) if both else None,
        "eer": None if eer is None else eer[0],
        "eer_threshold": None if eer is None else eer[1],
        "gmean": gmean_threshold(y, s) if both else None,
    }


def finite_or_none(value: float | None) -> float | None:
    """``value`` unless it is ``None``, NaN or infinite."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
