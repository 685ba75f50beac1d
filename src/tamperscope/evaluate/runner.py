"""The evaluation runner: a dataset against a loaded model or a prediction folder.

:func:`evaluate` looks up the task's :class:`~tamperscope.evaluate.tasks.TaskEvaluation`
(the model's registered task, or for a prediction folder the dataset's kind), produces one
item per sample (running the model through :mod:`tamperscope.inference`, or reading the
sample's prediction files) and feeds the task's accumulator. A sample that cannot be loaded
or predicted becomes a :class:`~tamperscope.evaluate.formats.PredictionError` entry of the
result and scoring goes on.

Example:
    >>> from tamperscope.api import load_model                       # doctest: +SKIP
    >>> from tamperscope.data.base import open_dataset               # doctest: +SKIP
    >>> ds = open_dataset("generated", "synth/")                     # doctest: +SKIP
    >>> result = evaluate(ds, load_model("keypoint-cmfd"))          # doctest: +SKIP
    >>> result.summary.pixel["union"]["per_image"]["f1"]             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tamperscope.errors import TamperscopeError
from tamperscope.evaluate.formats import PredictionError, PredictionFolder
from tamperscope.evaluate.results import (
    EvaluationResult,
    EvaluationSettings,
    FolderSource,
    ModelSource,
)
from tamperscope.evaluate.tasks import (
    ModelLike,
    TaskEvaluation,
    check_task,
    evaluation_for,
    task_for_dataset,
)
from tamperscope.registry import Task

__all__ = [
    "PredictionSource",
    "evaluate",
    "folder_predictions",
    "model_predictions",
    "predict_each",
    "resolve_task",
    "score_items",
]

#: Where predictions come from: a loaded model, a prediction folder or its path.
PredictionSource = ModelLike | PredictionFolder | str | Path


def predict_each(
    dataset: Any, what: str, predict: Callable[[str, Any], tuple]
) -> Iterator[tuple | PredictionError]:
    """``predict(name, sample)`` for each sample of ``dataset``, in order, errors as values.

    A sample that cannot be loaded (``TamperscopeError``) becomes a :class:`PredictionError`
    "cannot load the WHAT (...)", and a :class:`PredictionError` raised by ``predict`` is
    yielded as it is, so that scoring goes on with the other samples.

    Args:
        dataset: a :class:`~tamperscope.data.base.ForgeryDataset` or
            :class:`~tamperscope.data.base.PairDataset`.
        what: ``"sample"`` or ``"pair"``, for the message.
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


def model_predictions(
    dataset: Any, detector: ModelLike, **options: Any
) -> Iterator[tuple | PredictionError]:
    """Run ``detector`` over ``dataset`` with its task's prediction function.

    Args:
        dataset: the samples.
        detector: a loaded model (:func:`tamperscope.api.load_model`).
        **options: options of the task's prediction function (pairs: ``size``,
            ``sliding``, ``sliding_threshold``).

    Yields:
        The task's items (copy-move: ``(sample, prob_map, score)``; pairs: ``(pair_sample,
        prob_probe, prob_donor, score)``), or a :class:`PredictionError` for a sample that
        cannot be loaded.

    Raises:
        TaskMismatchError: the model's task does not fit the dataset.
    """
    evaluation = check_task(dataset, detector.task)
    yield from predict_each(
        dataset,
        evaluation.what,
        lambda name, sample: evaluation.predict(detector, sample, **options),
    )


def folder_predictions(
    dataset: Any, folder: str | Path | PredictionFolder, *, task: Task | str | None = None
) -> Iterator[tuple | PredictionError]:
    """Pair each sample of ``dataset`` with its prediction files from a folder.

    Args:
        dataset: the ground truth.
        folder: a prediction folder (:mod:`~tamperscope.evaluate.formats`) or an open one.
        task: how to read it; default the task of the dataset's kind.

    Yields:
        The task's items with the folder's score (``None`` when it has none), or a
        :class:`PredictionError` for a sample whose prediction (or ground truth) cannot be
        read.

    Raises:
        PredictionError: the folder does not exist or its scores file is malformed.
    """
    evaluation = check_task(dataset, task if task is not None else task_for_dataset(dataset))
    preds = folder if isinstance(folder, PredictionFolder) else PredictionFolder(folder)
    yield from predict_each(
        dataset, evaluation.what, lambda name, sample: evaluation.read(preds, name, sample)
    )


def score_items(
    items: Iterable[tuple | PredictionError],
    task: Task | str,
    *,
    settings: EvaluationSettings | None = None,
    dataset: Any | None = None,
    progress: bool = False,
) -> EvaluationResult:
    """Feed ready-made items to the accumulator of ``task``.

    Args:
        items: the task's items (see :func:`model_predictions`) or errors.
        task: the task whose accumulator scores them.
        settings: default :class:`EvaluationSettings()`.
        dataset: the ground truth's dataset (kind, size, mask kind), optional.
        progress: show a progress bar.

    Raises:
        SettingError: a setting the task does not support.
        TamperscopeError: no evaluation is registered for ``task``.
    """
    evaluation = evaluation_for(task)
    accumulator = evaluation.accumulator(settings, dataset=dataset)
    accumulator.add_all(items, progress=progress, unit=evaluation.what)
    return accumulator.compute()


def resolve_task(
    dataset: Any, predictions: PredictionSource, task: Task | str | None = None
) -> TaskEvaluation:
    """The evaluation for ``predictions`` on ``dataset``: the model's task, else ``task``,
    else the dataset's default.

    Raises:
        ValueError: ``task`` differs from the model's task.
        TaskMismatchError: the task does not fit the dataset.
    """
    if not isinstance(predictions, PredictionFolder | str | Path):
        model_task = Task(predictions.task)
        if task is not None and Task(task) != model_task:
            raise ValueError(f"task {Task(task).value!r} given for a {model_task.value!r} model")
        task = model_task
    return check_task(dataset, task if task is not None else task_for_dataset(dataset))


def evaluate(
    dataset: Any,
    predictions: PredictionSource,
    *,
    settings: EvaluationSettings | None = None,
    task: Task | str | None = None,
    progress: bool = False,
    **options: Any,
) -> EvaluationResult:
    """Score a model or a prediction folder on a dataset.

    Args:
        dataset: a :class:`~tamperscope.data.base.ForgeryDataset` or
            :class:`~tamperscope.data.base.PairDataset`.
        predictions: a loaded model (:func:`tamperscope.api.load_model`; its ``task``
            picks the evaluation), or a prediction folder (path or
            :class:`~tamperscope.evaluate.formats.PredictionFolder`) read as ``task``,
            default the task of the dataset's kind (single images: copy-move; pairs: pair).
        settings: threshold, empty-mask rule, border, bins; default
            :class:`EvaluationSettings()`.
        task: with a folder, the task to read it as.
        progress: show a progress bar.
        **options: with a model, options of the task's prediction function (pairs: ``size``,
            ``sliding``, ``sliding_threshold``); recorded in ``settings.model``.

    Returns:
        The :class:`~tamperscope.evaluate.results.EvaluationResult`, with its ``source``.

    Raises:
        TaskMismatchError: the model's task does not fit the dataset.
        SettingError: a setting the task does not support (a border for pairs).
        PredictionError: the prediction folder does not exist or its scores are malformed.
        ValueError: no sample for a task that needs one (pairs), or ``task`` contradicts
            the model.
    """
    evaluation = resolve_task(dataset, predictions, task)
    evaluation.accumulator.check_settings(settings or EvaluationSettings())
    if isinstance(predictions, PredictionFolder | str | Path):
        folder = (
            predictions
            if isinstance(predictions, PredictionFolder)
            else PredictionFolder(predictions)
        )
        items = folder_predictions(dataset, folder, task=evaluation.task)
        source: FolderSource | ModelSource = FolderSource(folder.folder)
    else:
        detector = predictions
        items = model_predictions(dataset, detector, **options)
        source = ModelSource(
            detector.name, detector.weights_sha256, evaluation.model_settings(detector, options)
        )
    result = score_items(
        items, evaluation.task, settings=settings, dataset=dataset, progress=progress
    )
    return result.with_source(source)
