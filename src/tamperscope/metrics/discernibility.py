"""Source/target discernibility of copy-move localization, as BusterNet reports it.

Wu, Abd-Almageed and Natarajan, "BusterNet: Detecting Copy-Move Image Forgery with
Source/Target Localization", ECCV 2018 (DOI 10.1007/978-3-030-01231-1_11), section 4.4:
each forged image with a 3-class prediction is *missed* (no forgery detected), *opts out*
(forgery detected but source and copy are not told apart) or *opts in* (both source and
target predicted); an opted-in image is a *correct* or *wrong* source/target assignment.
BusterNet reports the opt-in accuracy (correct / opted in) and the overall accuracy
(correct / all forged images scored).

Exact rule used here (the paper states it in words, not as code), with ``min_pixels``
(default 1) as the least number of pixels for a predicted class to count:

* missed: fewer than ``min_pixels`` pixels predicted source or target;
* opted out: detected, but predicted source or predicted target has fewer than
  ``min_pixels`` pixels;
* correct: opted in, the predicted source overlaps the ground-truth source on more pixels
  than the ground-truth target, *and* the predicted target overlaps the ground-truth target
  on more pixels than the ground-truth source;
* wrong: any other opted-in image (swapped or ambiguous assignment).

Only images whose ground truth has both a source and a target region are scored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np

from tamperscope.types import SOURCE, TARGET

Outcome = Literal["missed", "opted_out", "correct", "wrong"]
OUTCOMES: tuple[str, ...] = ("missed", "opted_out", "correct", "wrong")


def discernibility_outcome(
    pred: np.ndarray, gt: np.ndarray, *, min_pixels: int = 1
) -> Outcome | None:
    """Classify one forged image's 3-class prediction (rule in the module docstring).

    Args:
        pred: (H, W) uint8 in {0 pristine, 1 source, 2 target}, e.g. from
            :func:`tamperscope.metrics.pixel.three_class_labels`.
        gt: (H, W) uint8 in {0 pristine, 1 source, 2 target}.
        min_pixels: least number of pixels of a predicted class for it to count, >= 1.

    Returns:
        ``"missed"``, ``"opted_out"``, ``"correct"`` or ``"wrong"``; ``None`` when the ground
        truth lacks a source or a target region (not scored).

    Raises:
        ValueError: shapes differ or ``min_pixels`` < 1.
    """
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    if min_pixels < 1:
        raise ValueError(f"min_pixels must be >= 1, got {min_pixels}")
    gs, gt_t = gt == SOURCE, gt == TARGET
    if not gs.any() or not gt_t.any():
        return None
    ps, pt = pred == SOURCE, pred == TARGET
    ns, nt = int(ps.sum()), int(pt.sum())
    if ns + nt < min_pixels:
        return "missed"
    if ns < min_pixels or nt < min_pixels:
        return "opted_out"
    src_ok = np.count_nonzero(ps & gs) > np.count_nonzero(ps & gt_t)
    tgt_ok = np.count_nonzero(pt & gt_t) > np.count_nonzero(pt & gs)
    return "correct" if src_ok and tgt_ok else "wrong"


def discernibility_summary(outcomes: Iterable[str | None]) -> dict[str, Any]:
    """Counts and accuracies over images (``None`` outcomes are not scored).

    Args:
        outcomes: one :func:`discernibility_outcome` result per image.

    Returns:
        Dict with ``n_scored``, ``missed``, ``opted_out``, ``opted_in``, ``correct``,
        ``wrong``, ``opt_in_accuracy`` (correct / opted in, ``None`` when nothing opted in)
        and ``overall_accuracy`` (correct / scored, ``None`` when nothing was scored).

    Raises:
        ValueError: an unknown outcome name.
    """
    counts = dict.fromkeys(OUTCOMES, 0)
    for o in outcomes:
        if o is None:
            continue
        if o not in counts:
            raise ValueError(f"unknown discernibility outcome {o!r}; expected one of {OUTCOMES}")
        counts[o] += 1
    n = sum(counts.values())
    opted_in = counts["correct"] + counts["wrong"]
    return {
        "n_scored": n,
        **counts,
        "opted_in": opted_in,
        "opt_in_accuracy": counts["correct"] / opted_in if opted_in else None,
        "overall_accuracy": counts["correct"] / n if n else None,
    }
