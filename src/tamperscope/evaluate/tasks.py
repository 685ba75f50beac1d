"""What each task's evaluation is made of, registered by :class:`~tamperscope.registry.Task`.

A task plugs into the runner and the ``tamperscope evaluate`` command with one
:class:`TaskEvaluation`: its :class:`Accumulator` class (the metrics), a prediction function
(run a loaded model on one sample), a prediction-folder reader (one sample's prediction
files) and a few words for messages. Nothing in the runner or the command names a task.

Example, a task with single-image samples::

    register_evaluation(
        TaskEvaluation(
            Task.LOCALIZATION,
            LocalizationAccumulator,
            predict=predict_localization,     # (detector, sample, **options) -> item
            read=read_image_prediction,       # (folder, name, sample) -> item
        )
    )

An *item* is the tuple ``Accumulator.update`` takes: ``(sample, *prediction)``. An
accumulator keeps its image (pair) scores in a :class:`DetectionScores` and builds its result
with :meth:`Accumulator.result`, its summary a
:class:`~tamperscope.evaluate.results.FieldSummary`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from tamperscope.data.base import ForgeryDataset
from tamperscope.errors import TamperscopeError
from tamperscope.evaluate.formats import PredictionError, PredictionFolder
from tamperscope.evaluate.results import (
    Curves,
    DatasetInfo,
    EvaluationResult,
    EvaluationSettings,
    SampleError,
    TaskSummary,
)
from tamperscope.metrics.image import image_level_metrics, image_roc
from tamperscope.registry import Task

__all__ = [
    "Accumulator",
    "DetectionScores",
    "ModelLike",
    "TaskEvaluation",
    "TaskMismatchError",
    "check_task",
    "evaluation_for",
    "register_evaluation",
    "registered_tasks",
    "task_for_dataset",
    "unregister_evaluation",
]


class ModelLike(Protocol):
    """What the runner needs of a loaded model (:class:`tamperscope.api.Detector` has it).

    Attributes:
        model: the network in eval mode.
        name: registry name.
        weights_sha256: sha256 of its weights, ``None`` when untrained.
        device: where it runs.
        long_side: analysis long side (pixels) of single-image models, ``None`` = full size.
        task: what the model does.
        tile: native-resolution tile side (pixels) of localization models, ``None`` to
            resize to ``long_side`` instead.
    """

    @property
    def model(self) -> torch.nn.Module: ...

    name: str
    weights_sha256: str | None
    device: torch.device
    long_side: int | None
    task: Task
    tile: int | None


class Accumulator(abc.ABC):
    """Metrics of one task, fed one sample at a time.

    Subclasses implement :meth:`update` (one sample and its prediction) and :meth:`compute`
    (the :class:`~tamperscope.evaluate.results.EvaluationResult`); :meth:`add_error` records
    a sample that could not be predicted, so that scoring goes on. Memory must not grow with
    the pixels of the dataset (keep confusion counts and histograms, not maps).

    Args:
        settings: how to score; default :class:`EvaluationSettings()`.
        dataset: the ground truth's dataset, for its kind, size and mask kind (optional).

    Raises:
        SettingError: a setting the task does not support (see :meth:`check_settings`).
    """

    #: The task whose metrics this class computes.
    task: ClassVar[Task]

    def __init__(
        self, settings: EvaluationSettings | None = None, *, dataset: Any | None = None
    ) -> None:
        self.settings = settings if settings is not None else EvaluationSettings()
        self.check_settings(self.settings)
        self.dataset = dataset
        self.rows: list[dict[str, Any]] = []
        self.errors: list[SampleError] = []

    @classmethod
    def check_settings(cls, settings: EvaluationSettings) -> None:
        """Raise :class:`~tamperscope.evaluate.results.SettingError` for a setting the task
        cannot use; the default accepts everything."""
        return None

    #: ``update(sample, *prediction)``: score one sample against its prediction, laid out as
    #: the task's prediction function yields it (copy-move: ``prob, score``; pairs:
    #: ``prob_probe, prob_donor, score``). A prediction that cannot be used is recorded as an
    #: error, not raised. Each task's accumulator defines it with its own named arguments.
    update: Callable[..., None]

    def add_error(self, error: PredictionError) -> None:
        """Record a sample whose prediction is missing or unusable."""
        self._fail({"name": error.name}, error.reason)

    def add(self, item: tuple | PredictionError) -> None:
        """:meth:`update` with the item's fields, or :meth:`add_error` for an error."""
        if isinstance(item, PredictionError):
            self.add_error(item)
        else:
            self.update(*item)

    def add_all(
        self, items: Iterable[tuple | PredictionError], *, progress: bool = False, unit: str = "it"
    ) -> None:
        """:meth:`add` each item, with a progress bar over the dataset's size when asked.

        Args:
            items: the task's items or errors.
            progress: show a progress bar.
            unit: what the bar counts (``"img"``, ``"pair"``).
        """
        total = len(self.dataset) if self.dataset is not None else None
        for item in tqdm(items, total=total, disable=not progress, desc="scoring", unit=unit):
            self.add(item)

    @abc.abstractmethod
    def compute(self) -> EvaluationResult:
        """The metrics over every sample added so far."""

    @property
    def n_samples(self) -> int:
        """Samples (pairs) in the dataset, or the items added when there is none."""
        return len(self.dataset) if self.dataset is not None else len(self.rows)

    def result(self, summary: TaskSummary, *, mask_kind: str, curves: Curves) -> EvaluationResult:
        """The :class:`~tamperscope.evaluate.results.EvaluationResult` of the rows and errors
        added so far, with the task's ``summary`` and ``curves``.

        Args:
            summary: the task's summary metrics.
            mask_kind: the ground truth's kind (``"three_class"``, ``"binary"``, ``"pairs"``).
            curves: ROC curves for figures.
        """
        dataset = self.dataset
        return EvaluationResult(
            task=self.task,
            settings=self.settings,
            dataset=DatasetInfo(
                kind=None if dataset is None else getattr(dataset, "kind", type(dataset).__name__),
                n_samples=self.n_samples,
                mask_kind=mask_kind,
            ),
            summary=summary,
            rows=tuple(self.rows),
            errors=tuple(self.errors),
            curves=curves,
        )

    def _fail(self, row: dict[str, Any], reason: str) -> None:
        """Record ``row`` (appended when new) as failed with ``reason``."""
        row["error"] = reason
        if not self.rows or self.rows[-1] is not row:
            self.rows.append(row)
        self.errors.append(SampleError(str(row["name"]), reason))


class DetectionScores:
    """Image (pair) scores against their labels, for the detection metrics.

    Only labels 0 and 1 are kept; a sample with another label (unknown) is left out of
    detection.

    Attributes:
        labels: the kept labels, in order (1 tampered / correlated, 0 not).
        scores: their scores in [0, 1].
    """

    def __init__(self) -> None:
        self.labels: list[int] = []
        self.scores: list[float] = []

    def add(self, label: int, score: float) -> bool:
        """Keep ``(label, score)`` when ``label`` is 0 or 1; returns whether it was kept."""
        if label not in (0, 1):
            return False
        self.labels.append(label)
        self.scores.append(score)
        return True

    @property
    def n_positive(self) -> int:
        """Kept samples labelled 1."""
        return int(sum(self.labels))

    @property
    def n_negative(self) -> int:
        """Kept samples labelled 0."""
        return len(self.labels) - self.n_positive

    def compute(self, threshold: float) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The detection metrics and the ROC curve of the kept scores.

        Args:
            threshold: decision threshold in [0, 1] (``score >= threshold`` is positive).

        Returns:
            ``(metrics, roc)``: :func:`~tamperscope.metrics.image.image_level_metrics` and
            :func:`~tamperscope.metrics.image.image_roc` with its ``auc`` and ``eer``;
            ``metrics`` is ``None`` without a kept sample, ``roc`` also with one class only.
        """
        if not self.labels:
            return None, None
        labels, scores = np.array(self.labels), np.array(self.scores)
        metrics = image_level_metrics(labels, scores, threshold)
        roc = image_roc(labels, scores)
        if roc is not None:
            roc.update(auc=metrics["auc"], eer=metrics["eer"])
        return metrics, roc


#: ``(detector, sample, **options) -> item``: run a model on one loaded sample.
PredictFn = Callable[..., tuple]
#: ``(folder, name, sample) -> item``: read one sample's prediction files.
ReadFn = Callable[[PredictionFolder, str, Any], tuple]


def _no_model_settings(detector: ModelLike, options: Mapping[str, Any]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class TaskEvaluation:
    """How one task is evaluated.

    Attributes:
        task: the task.
        accumulator: its :class:`Accumulator` class, built as ``accumulator(settings,
            dataset=dataset)``.
        predict: ``predict(detector, sample, **options) -> item``; raises
            :class:`~tamperscope.evaluate.formats.PredictionError` for an unusable sample.
        read: ``read(folder, name, sample) -> item`` from a
            :class:`~tamperscope.evaluate.formats.PredictionFolder`; raises
            :class:`~tamperscope.evaluate.formats.PredictionError` when files are missing.
        model_settings: ``(detector, options) -> dict`` of how the model was run, recorded
            in ``metrics.json`` under ``settings.model``.
        dataset_type: the dataset class its samples come from.
        default: whether it is the task of a prediction folder on ``dataset_type``.
        what: a sample's name in messages (``"cannot load the sample"``).
        counted: samples' name in counts (``"2 of 4 images could not be scored"``).
        holds: what its datasets hold, in words (``"single images"``).
        needs: the model it needs, in words (``"a single-image model"``).
        describe: its datasets, in words, for an empty one; ``None`` when an empty dataset
            may be scored.
    """

    task: Task
    accumulator: type[Accumulator]
    predict: PredictFn
    read: ReadFn
    model_settings: Callable[[ModelLike, Mapping[str, Any]], dict[str, Any]] = _no_model_settings
    dataset_type: type = ForgeryDataset
    default: bool = False
    what: str = "sample"
    counted: str = "images"
    holds: str = "single images"
    needs: str = "a single-image model"
    describe: str | None = None


_EVALUATIONS: dict[Task, TaskEvaluation] = {}


def register_evaluation(evaluation: TaskEvaluation) -> TaskEvaluation:
    """Register how a task is evaluated.

    Raises:
        ValueError: the task already has one.
    """
    if evaluation.task in _EVALUATIONS:
        raise ValueError(f"task {evaluation.task.value!r} already has an evaluation")
    _EVALUATIONS[evaluation.task] = evaluation
    return evaluation


def unregister_evaluation(task: Task | str) -> None:
    """Remove a task's evaluation (plugins and tests that register temporary ones).

    Raises:
        KeyError: the task has none.
    """
    del _EVALUATIONS[Task(task)]


def registered_tasks() -> list[Task]:
    """Tasks that can be evaluated, in registration order."""
    return list(_EVALUATIONS)


def evaluation_for(task: Task | str) -> TaskEvaluation:
    """The registered :class:`TaskEvaluation` of ``task``.

    Raises:
        TamperscopeError: no evaluation is registered for it.
    """
    try:
        return _EVALUATIONS[Task(task)]
    except (KeyError, ValueError):
        known = ", ".join(t.value for t in _EVALUATIONS)
        raise TamperscopeError(
            f"no evaluation for task {str(task)!r} (evaluated tasks: {known})"
        ) from None


class TaskMismatchError(TamperscopeError):
    """A model's task does not fit the dataset.

    Attributes:
        holds: what the dataset holds, in words (``"pairs"``).
        needs: the model it needs, in words (``"a probe/donor model (e.g. dmac-vgg16)"``).
    """

    def __init__(self, holds: str, needs: str) -> None:
        self.holds = holds
        self.needs = needs
        super().__init__(f"the dataset holds {holds}; it needs {needs}")


def _dataset_evaluation(dataset: Any) -> TaskEvaluation:
    matching = [e for e in _EVALUATIONS.values() if isinstance(dataset, e.dataset_type)]
    for evaluation in matching:
        if evaluation.default:
            return evaluation
    if matching:
        return matching[0]
    raise TamperscopeError(
        f"no evaluation scores a {type(dataset).__name__} (evaluated tasks: "
        f"{', '.join(t.value for t in _EVALUATIONS)})"
    )


def task_for_dataset(dataset: Any) -> Task:
    """The task a prediction folder on ``dataset`` is scored as (the default of its type).

    Raises:
        TamperscopeError: no registered evaluation takes this kind of dataset.
    """
    return _dataset_evaluation(dataset).task


def check_task(dataset: Any, task: Task | str) -> TaskEvaluation:
    """The evaluation of ``task``, checked against the dataset's kind.

    Raises:
        TaskMismatchError: the task's samples are not the dataset's (pair model on single
            images, single-image model on pairs).
        TamperscopeError: no evaluation for ``task`` or for this kind of dataset.
    """
    evaluation = evaluation_for(task)
    if not isinstance(dataset, evaluation.dataset_type):
        expected = _dataset_evaluation(dataset)
        raise TaskMismatchError(expected.holds, expected.needs)
    return evaluation
