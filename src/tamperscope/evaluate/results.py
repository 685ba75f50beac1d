"""Typed evaluation results: settings, the dataset and prediction source, rows, summaries.

An :class:`EvaluationResult` is what the runner returns and what ``metrics.json``,
``per_image.csv`` / ``per_pair.csv`` and ``roc.png`` are written from
(:func:`write_result`). The task-specific part is its ``summary`` (a :class:`TaskSummary`,
e.g. :class:`~tamperscope.evaluate.copy_move.CopyMoveSummary`), which knows its JSON keys,
its per-sample columns, its protocol notes and its summary table.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from tamperscope.io import atomic_open, write_json
from tamperscope.metrics.pixel import EmptyRule, check_empty_rule
from tamperscope.registry import Task
from tamperscope.version import __version__

__all__ = [
    "Cell",
    "Curves",
    "DatasetInfo",
    "EvaluationResult",
    "EvaluationSettings",
    "FieldSummary",
    "FolderSource",
    "ModelSource",
    "SampleError",
    "SettingError",
    "SummaryTable",
    "TaskSummary",
    "format_cell",
    "write_result",
]

#: A cell of a summary table: a metric value (``None`` when undefined) or a label.
Cell = float | int | str | None


class SettingError(ValueError):
    """A setting that the task being evaluated does not support.

    Attributes:
        setting: the :class:`EvaluationSettings` field, e.g. ``"border"``.
        reason: why, in words (``"applies to single images, not to pairs"``).
    """

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(f"{setting} {reason}")


@dataclass(frozen=True)
class EvaluationSettings:
    """How predictions are scored; one object for every task.

    Attributes:
        threshold: pixel and image (pair) decision threshold in [0, 1]; a pixel or a score
            ``>= threshold`` is predicted forged (shared, correlated).
        empty: the empty-mask rule: ``"skip"`` leaves masks without a positive pixel
            (authentic images, negative pairs) out of the localization metrics, ``"count"``
            scores them (1 when nothing is predicted, else precision 0, recall 1, F1 0, IoU 0,
            MCC 0, NMM -1). For pairs it picks the headline convention; both are reported.
        border: no-score zone half-width in pixels around ground-truth boundaries for the
            border-excluded F1 of single images (0 = none). Pairs refuse a border.
        bins: score-histogram bins on [0, 1] for pixel AUC and best thresholds, >= 2.

    Raises:
        ValueError: an unknown ``empty`` rule, a threshold outside [0, 1], a negative border
            or fewer than 2 bins.
    """

    threshold: float = 0.5
    empty: EmptyRule = "skip"
    border: int = 0
    bins: int = 1001

    def __post_init__(self) -> None:
        check_empty_rule(self.empty)
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.border < 0:
            raise ValueError(f"border must be >= 0 pixels, got {self.border}")
        if self.bins < 2:
            raise ValueError(f"a score histogram needs at least 2 bins, got {self.bins}")


@dataclass(frozen=True)
class DatasetInfo:
    """The dataset a result was computed on.

    Attributes:
        kind: the reader's kind (``ForgeryDataset.kind``), ``None`` when scored without one.
        n_samples: samples (pairs) in the dataset, or items scored when there is none.
        mask_kind: ``"three_class"``, ``"binary"`` or ``"pairs"``.
        name: the reader name it was opened with, when known.
        root: the dataset root (resolved), when known.
        options: the reader options, when known.
    """

    kind: str | None
    n_samples: int
    mask_kind: str
    name: str | None = None
    root: str | None = None
    options: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """``kind``, ``n_samples``, ``mask_kind``, then ``name``, ``root``, ``options`` when set."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "n_samples": self.n_samples,
            "mask_kind": self.mask_kind,
        }
        for key in ("name", "root", "options"):
            value = getattr(self, key)
            if value is not None:
                out[key] = dict(value) if key == "options" else value
        return out


@dataclass(frozen=True)
class ModelSource:
    """Predictions made by a model during the evaluation.

    Attributes:
        name: registry name.
        weights_sha256: sha256 of its weights, ``None`` for an untrained network.
        options: how it was run (``long_side`` of single-image models, ``size`` of pairs).
    """

    name: str
    weights_sha256: str | None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"model": {"name", "weights_sha256", **options}}``, as ``metrics.json`` has it."""
        return {"model": {"name": self.name, "weights_sha256": self.weights_sha256, **self.options}}


@dataclass(frozen=True)
class FolderSource:
    """Predictions read from a prediction folder.

    Attributes:
        path: the folder.
    """

    path: Path

    def to_dict(self) -> dict[str, Any]:
        """``{"pred_dir": resolved path}``, as ``metrics.json`` has it."""
        return {"pred_dir": str(Path(self.path).resolve())}


@dataclass(frozen=True)
class SampleError:
    """A sample (pair) that could not be scored: its name and the reason, in words."""

    name: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """``{"name", "reason"}``."""
        return {"name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class Curves:
    """ROC curves for figures (numpy arrays; not written to ``metrics.json``).

    Attributes:
        image_roc: image-level (pair-level) ROC ``{"fpr", "tpr", "thresholds", "auc",
            "eer"}``, FPR increasing, first threshold ``inf``; ``None`` with one class only.
        pixel_roc: pooled pixel ROC ``{"fpr", "tpr", "thresholds", "auc"}`` from the score
            histogram, or ``None`` when undefined.
    """

    image_roc: dict[str, Any] | None = None
    pixel_roc: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"image_roc", "pixel_roc"}``."""
        return {"image_roc": self.image_roc, "pixel_roc": self.pixel_roc}


@dataclass(frozen=True)
class SummaryTable:
    """The headline metrics as a three-column table (metric and two conventions).

    Attributes:
        columns: the three header names, e.g. ``("metric", "per-image (B)", "pooled (A)")``.
        rows: ``(label, value, value)``; a value is a float, an int, ``None`` (undefined,
            shown as ``-``) or a string shown as it is (``""`` for no value).
    """

    columns: tuple[str, str, str]
    rows: tuple[tuple[str, Cell, Cell], ...]


class TaskSummary(Protocol):
    """The summary metrics of one task; what a new task's accumulator returns.

    Class attributes:
        rows_name: stem of the per-sample CSV (``"per_image"``, ``"per_pair"``).
        columns: the per-sample columns, in order.
        protocol_notes: ``{key: rule in words}`` written to ``metrics.json``.
        label: word added to titles (``"pairs"``), ``""`` for none.
    """

    rows_name: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    protocol_notes: ClassVar[Mapping[str, str]]
    label: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The task's ``metrics.json`` keys after ``protocol_notes``, JSON-ready, in order."""
        ...

    def settings_dict(self, settings: EvaluationSettings) -> dict[str, Any]:
        """The settings as the task names them in ``metrics.json``."""
        ...

    def table(self) -> SummaryTable:
        """The headline metrics for a terminal."""
        ...


@dataclass(frozen=True)
class FieldSummary:
    """Base of a frozen-dataclass :class:`TaskSummary` whose ``metrics.json`` keys are its
    fields, in the order they are declared."""

    def to_dict(self) -> dict[str, Any]:
        """The summary keys of ``metrics.json``: ``{field: value}``, in field order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def format_cell(value: Any) -> Any:
    """A per-sample CSV value: ``""`` for ``None``, floats rounded to 6 decimals."""
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 6)
    return value


@dataclass(frozen=True)
class EvaluationResult:
    """The outcome of scoring one dataset.

    Attributes:
        task: the task scored.
        settings: the settings used.
        dataset: the dataset scored.
        summary: the task's summary metrics (per convention, pooled and per image).
        rows: one mapping per sample (pair), in dataset order, keyed by
            ``summary.columns`` (missing keys = undefined); failed samples hold ``name`` and
            ``error``.
        errors: the samples that could not be scored, in order.
        curves: ROC curves for figures.
        source: where the predictions came from (model or folder), ``None`` when given as
            items.
        version: tamperscope version that computed it.
    """

    task: Task
    settings: EvaluationSettings
    dataset: DatasetInfo
    summary: TaskSummary
    rows: tuple[Mapping[str, Any], ...]
    errors: tuple[SampleError, ...]
    curves: Curves
    source: ModelSource | FolderSource | None = None
    version: str = __version__

    @property
    def n_scored(self) -> int:
        """Samples (pairs) scored without error."""
        return len(self.rows) - len(self.errors)

    def with_dataset(self, **fields: Any) -> EvaluationResult:
        """A copy with :class:`DatasetInfo` fields replaced (``name``, ``root``, ``options``)."""
        return dataclasses.replace(self, dataset=dataclasses.replace(self.dataset, **fields))

    def with_source(self, source: ModelSource | FolderSource | None) -> EvaluationResult:
        """A copy with another prediction source."""
        return dataclasses.replace(self, source=source)

    def formatted_rows(self) -> list[dict[str, Any]]:
        """The rows as written to the CSV: every column, :func:`format_cell` values."""
        columns = self.summary.columns
        return [{k: format_cell(r.get(k)) for k in columns} for r in self.rows]

    def to_dict(self, *, rows: bool = False, curves: bool = False) -> dict[str, Any]:
        """The ``metrics.json`` content (JSON-ready), optionally with rows and curves.

        Keys: ``tamperscope_version``, ``dataset``, ``settings`` (with ``model`` or
        ``pred_dir``), ``protocol_notes``, the summary's keys, ``errors``; with ``rows`` the
        formatted rows under ``summary.rows_name``, with ``curves`` the numpy ``curves``.
        """
        settings = self.summary.settings_dict(self.settings)
        if self.source is not None:
            settings.update(self.source.to_dict())
        out: dict[str, Any] = {
            "tamperscope_version": self.version,
            "dataset": self.dataset.to_dict(),
            "settings": settings,
            "protocol_notes": dict(self.summary.protocol_notes),
            **self.summary.to_dict(),
            "errors": [e.to_dict() for e in self.errors],
        }
        if rows:
            out[self.summary.rows_name] = self.formatted_rows()
        if curves:
            out["curves"] = self.curves.to_dict()
        return out


def _csv_text(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_result(
    result: EvaluationResult, out_dir: str | Path, *, roc_title: str = "ROC"
) -> dict[str, Path]:
    """Write ``metrics.json``, ``ROWS.csv`` (``per_image``/``per_pair``) and ``roc.png``.

    Each file is written atomically; ``roc.png`` only when a curve exists (image ROC needs
    both labels, pixel ROC both pixel classes).

    Args:
        result: what to write.
        out_dir: destination folder, created when missing.
        roc_title: title of the ROC figure.

    Returns:
        ``{"metrics", "rows"[, "roc"]}`` -> the paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / "metrics.json", "rows": out / f"{result.summary.rows_name}.csv"}
    write_json(paths["metrics"], result.to_dict())
    with atomic_open(paths["rows"], "w") as fh:
        fh.write(_csv_text(result.formatted_rows(), result.summary.columns))
    curves = result.curves
    if curves.image_roc is not None or curves.pixel_roc is not None:
        from tamperscope.report.plots import write_roc_plot  # matplotlib only when drawing

        paths["roc"] = out / "roc.png"
        write_roc_plot(paths["roc"], curves.image_roc, curves.pixel_roc, title=roc_title)
    return paths
