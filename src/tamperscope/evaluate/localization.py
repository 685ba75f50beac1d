"""Evaluation of binary manipulation localization (task ``localization``).

A localization model gives one (H, W) map of P(manipulated) and an image score. It is scored
exactly like a 1-class (union) copy-move prediction (:class:`CopyMoveAccumulator`): the
ground truth is binary, and a 3-class copy-move mask collapses to its union (source or
target is manipulated). The metrics are the copy-move scorer's: protocol-B and pooled pixel
F1 (and the other F1 conventions, the "everything forged" reference among them), image
accuracy, sensitivity, specificity, F1, AUC, the G-mean threshold and the combined F1; the
rules are in :data:`~tamperscope.evaluate.protocol.PROTOCOL_NOTES`. A prediction folder on a
single-image dataset is still read as copy-move by default; its 1-class maps score the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tamperscope.data.base import ForgeryDataset
from tamperscope.evaluate.copy_move import (
    CopyMoveAccumulator,
    CopyMoveSummary,
    read_image_prediction,
)
from tamperscope.evaluate.results import Cell, SummaryTable
from tamperscope.evaluate.tasks import ModelLike, TaskEvaluation, register_evaluation
from tamperscope.inference.localization import predict_localization
from tamperscope.registry import Task
from tamperscope.types import Sample

__all__ = [
    "LocalizationAccumulator",
    "LocalizationSummary",
    "predict_localization_sample",
]


class LocalizationSummary(CopyMoveSummary):
    """:class:`~tamperscope.evaluate.copy_move.CopyMoveSummary` of a localization model,
    whose table adds the image sensitivity, specificity and G-mean threshold and the
    "everything forged" reference F1."""

    label: ClassVar[str] = "localization"

    def table(self) -> SummaryTable:
        """The copy-move table with the detection and reference rows of localization."""
        base = super().table()
        conv = self.f1_conventions["all_forged_reference"]
        extra: list[tuple[str, Cell, Cell]] = [
            ("F1 all-forged reference", conv["per_image"], conv["pooled"])
        ]
        if self.image:
            gmean = self.image["gmean"] or {}
            extra += [
                ("image sensitivity", self.image["sensitivity"], ""),
                ("image specificity", self.image["specificity"], ""),
                ("image G-mean threshold", gmean.get("threshold"), ""),
            ]
        return SummaryTable(base.columns, tuple(base.rows) + tuple(extra))


class LocalizationAccumulator(CopyMoveAccumulator):
    """Pixel and image metrics of binary localization maps: the 1-class path of
    :class:`~tamperscope.evaluate.copy_move.CopyMoveAccumulator` under task
    ``localization`` (same arguments, items ``(sample, prob_map (H, W), score)``)."""

    task = Task.LOCALIZATION
    summary_type: ClassVar[type[CopyMoveSummary]] = LocalizationSummary


def predict_localization_sample(
    detector: ModelLike, sample: Sample, *, tile: int | None = None, overlap: int | None = None
) -> tuple[Sample, np.ndarray, float]:
    """Run a localization model on one sample, tiled or at the detector's ``long_side``.

    Args:
        detector: a loaded localization model.
        sample: the sample (its ``image``, (H, W, 3) uint8 RGB).
        tile: side (pixels) of the native-resolution tiles of
            :func:`~tamperscope.inference.localization.predict_localization`; ``None`` for
            the detector's own ``tile``, 0 to resize to ``long_side`` instead.
        overlap: overlap (pixels) of neighbouring tiles; default a quarter tile.

    Returns:
        ``(sample, prob_map, score)``: prob_map (H, W) float32 = P(manipulated) at the
        image's size; score in [0, 1].
    """
    prediction, _ = predict_localization(
        detector.model,
        sample["image"],
        long_side=detector.long_side,
        device=detector.device,
        tile=_tile(detector, tile),
        overlap=overlap,
    )
    return sample, prediction.forgery_map, prediction.score


def _tile(detector: ModelLike, tile: int | None) -> int | None:
    """The tile side in effect: the option, else the detector's; 0 means none."""
    side = detector.tile if tile is None else tile
    return side or None


def _model_settings(detector: ModelLike, options: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"long_side": detector.long_side}
    tile = _tile(detector, options.get("tile"))
    if tile is not None:
        out.update(tile=tile, overlap=options.get("overlap"))
    return out


register_evaluation(
    TaskEvaluation(
        Task.LOCALIZATION,
        LocalizationAccumulator,
        predict=predict_localization_sample,
        read=read_image_prediction,
        model_settings=_model_settings,
        dataset_type=ForgeryDataset,
        needs="a single-image model",
    )
)
