"""Evaluation: a dataset's ground truth against a model's or a folder's predictions.

* :mod:`~tamperscope.evaluate.runner`: :func:`evaluate`, the one runner (model or folder),
  and the item iterators it is made of.
* :mod:`~tamperscope.evaluate.tasks`: :class:`Accumulator` and the per-task registration
  (:class:`TaskEvaluation`, :func:`register_evaluation`).
* :mod:`~tamperscope.evaluate.copy_move`: :class:`CopyMoveAccumulator` (3-class and 1-class
  maps, image scores, discernibility).
* :mod:`~tamperscope.evaluate.localization`: :class:`LocalizationAccumulator` (binary
  manipulation maps of localization models, scored like 1-class copy-move maps).
* :mod:`~tamperscope.evaluate.pairs`: :class:`PairAccumulator` (probe/donor pairs, DMAC's
  protocol).
* :mod:`~tamperscope.evaluate.results`: typed results (:class:`EvaluationResult`) and
  :func:`write_result` (``metrics.json``, per-sample CSV, ``roc.png``).
* :mod:`~tamperscope.evaluate.formats`: prediction files and :class:`PredictionFolder`.
* :mod:`~tamperscope.evaluate.protocol`: per-sample columns and protocol notes.

The metric maths lives in :mod:`tamperscope.metrics`. Importing this package registers the
built-in tasks' evaluations (copy-move, localization and pairs).
"""

from tamperscope.evaluate.copy_move import (
    CopyMoveAccumulator,
    CopyMoveSummary,
    evaluate_predictions,
)
from tamperscope.evaluate.formats import (
    PredictionError,
    PredictionFolder,
    forgery_probability,
    load_prediction_file,
    normalize_prediction,
    resize_prediction,
)
from tamperscope.evaluate.localization import (
    LocalizationAccumulator,
    LocalizationSummary,
    predict_localization_sample,
)
from tamperscope.evaluate.pairs import PairAccumulator, PairSummary, evaluate_pair_predictions
from tamperscope.evaluate.protocol import (
    PAIR_PROTOCOL_NOTES,
    PER_IMAGE_COLUMNS,
    PER_PAIR_COLUMNS,
    PROTOCOL_NOTES,
)
from tamperscope.evaluate.results import (
    Curves,
    DatasetInfo,
    EvaluationResult,
    EvaluationSettings,
    FieldSummary,
    FolderSource,
    ModelSource,
    SampleError,
    SettingError,
    SummaryTable,
    TaskSummary,
    write_result,
)
from tamperscope.evaluate.runner import (
    evaluate,
    folder_predictions,
    model_predictions,
    predict_each,
    score_items,
)
from tamperscope.evaluate.tasks import (
    Accumulator,
    DetectionScores,
    TaskEvaluation,
    TaskMismatchError,
    check_task,
    evaluation_for,
    register_evaluation,
    registered_tasks,
    task_for_dataset,
    unregister_evaluation,
)

__all__ = [
    "PAIR_PROTOCOL_NOTES",
    "PER_IMAGE_COLUMNS",
    "PER_PAIR_COLUMNS",
    "PROTOCOL_NOTES",
    "Accumulator",
    "CopyMoveAccumulator",
    "CopyMoveSummary",
    "Curves",
    "DatasetInfo",
    "DetectionScores",
    "EvaluationResult",
    "EvaluationSettings",
    "FieldSummary",
    "FolderSource",
    "LocalizationAccumulator",
    "LocalizationSummary",
    "ModelSource",
    "PairAccumulator",
    "PairSummary",
    "PredictionError",
    "PredictionFolder",
    "SampleError",
    "SettingError",
    "SummaryTable",
    "TaskEvaluation",
    "TaskMismatchError",
    "TaskSummary",
    "check_task",
    "evaluate",
    "evaluate_pair_predictions",
    "evaluate_predictions",
    "evaluation_for",
    "folder_predictions",
    "forgery_probability",
    "load_prediction_file",
    "model_predictions",
    "normalize_prediction",
    "predict_each",
    "predict_localization_sample",
    "register_evaluation",
    "registered_tasks",
    "resize_prediction",
    "score_items",
    "task_for_dataset",
    "unregister_evaluation",
    "write_result",
]
