"""Metrics: functional maths in numpy and torchmetrics classes.

* :mod:`~tamperscope.metrics.pixel`: confusion counts, F1/IoU/MCC/NMM, pixel AUC histograms,
  F1 conventions, no-score zone.
* :mod:`~tamperscope.metrics.image`: image-level detection metrics, AUC, EER, G-mean.
* :mod:`~tamperscope.metrics.discernibility`: BusterNet source/target discernibility.
* :mod:`~tamperscope.metrics.boxes`: box IoU, GIoU, success rate.
* :mod:`~tamperscope.metrics.pairs`: probe/donor pair localization metrics (DMAC).
* :mod:`~tamperscope.metrics.modules`: torchmetrics classes for training loops.
* :mod:`~tamperscope.metrics.tables`: summary tables of pair evaluation folders.

Scoring a whole dataset (accumulators, prediction folders, the runner) is
:mod:`tamperscope.evaluate`.
"""

from tamperscope.metrics.boxes import box_iou, box_success_rate, generalized_box_iou, mask_to_box
from tamperscope.metrics.discernibility import discernibility_outcome, discernibility_summary
from tamperscope.metrics.image import (
    combined_f1,
    equal_error_rate,
    gmean_threshold,
    image_level_metrics,
)
from tamperscope.metrics.modules import ProtocolBF1, ThreeClassF1
from tamperscope.metrics.pairs import pair_localization_scores
from tamperscope.metrics.pixel import (
    ConfusionCounts,
    ScoreHistogram,
    confusion_counts,
    f1_best_threshold,
    f1_fixed,
    f1_inverted_max,
    localization_scores,
    no_score_zone,
    pixel_auc,
    three_class_labels,
)

__all__ = [
    "ConfusionCounts",
    "ProtocolBF1",
    "ScoreHistogram",
    "ThreeClassF1",
    "box_iou",
    "box_success_rate",
    "combined_f1",
    "confusion_counts",
    "discernibility_outcome",
    "discernibility_summary",
    "equal_error_rate",
    "f1_best_threshold",
    "f1_fixed",
    "f1_inverted_max",
    "generalized_box_iou",
    "gmean_threshold",
    "image_level_metrics",
    "localization_scores",
    "mask_to_box",
    "no_score_zone",
    "pair_localization_scores",
    "pixel_auc",
    "three_class_labels",
]
