"""``tamperscope evaluate``: score a model or a folder of predictions against a dataset.

The dataset's kind and the model's registered task pick the evaluation
(:mod:`tamperscope.evaluate`): single images are scored as copy-move predictions
(``OUT/metrics.json``, ``OUT/per_image.csv``, ``OUT/roc.png``), probe/donor pair datasets
(``generated-pairs``, ``manifest`` with ``probe``/``donor`` columns) as pairs, DMAC's
protocol (``OUT/metrics.json``, ``OUT/per_pair.csv``, ``OUT/roc.png``). The prediction
folder format is described in :mod:`tamperscope.evaluate.formats`. Files are written
atomically. Missing or unreadable predictions are reported per sample; the run goes on,
lists them at the end and exits with code 1. Usage errors exit with code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from tamperscope.api import Detector, load_model
from tamperscope.data.base import ForgeryDataset, PairDataset, open_dataset
from tamperscope.errors import TamperscopeError
from tamperscope.evaluate import (
    EvaluationResult,
    EvaluationSettings,
    PredictionFolder,
    SettingError,
    TaskEvaluation,
    TaskMismatchError,
    check_task,
    task_for_dataset,
    write_result,
)
from tamperscope.evaluate import evaluate as run_evaluation
from tamperscope.registry import Task, model_task
from tamperscope.weights.weights import split_weights_name

_PRED_HELP = (
    "Folder of predictions: NAME.png (grey = P(forged); RGB: R = P(target), G = P(source)) or "
    "NAME.npy ((H,W) P(forged) or (3,H,W)/(H,W,3) pristine/source/target probabilities), "
    "optional scores.csv (name,score) or scores.json; without scores an image's score is the "
    "maximum of its map. Pairs: NAME_probe.png|npy and NAME_donor.png|npy (H,W) probabilities "
    "of the shared region, optional scores.csv/json of pair scores (else DMAC's rule)."
)


def parse_dataset_options(items: list[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are read as YAML scalars (``3``, ``true``, ``a``).

    Raises:
        typer.BadParameter: an item without ``=`` or with an empty key.
    """
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise typer.BadParameter(
                f"expected key=value, got {item!r}", param_hint="--dataset-option"
            )
        try:
            options[key] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            options[key] = value
    return options


def _fail(console: Console, message: str) -> typer.Exit:
    """Print a usage error; the caller raises the returned exit (code 2)."""
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


def _open(dataset: str, root: Path, options: dict[str, Any], console: Console) -> Any:
    try:
        return open_dataset(dataset, root, **options)
    except KeyError as exc:
        raise _fail(console, exc.args[0]) from exc
    except (TamperscopeError, TypeError) as exc:
        raise _fail(console, f"cannot open dataset {dataset!r} at {root}: {exc}") from exc


def _mismatch(exc: TaskMismatchError) -> str:
    return f"the dataset holds {exc.holds}; --model needs {exc.needs}"


def _load_detector(
    ds: ForgeryDataset | PairDataset,
    model: str,
    weights: str,
    device: str | None,
    long_side: int | None,
    console: Console,
) -> Detector:
    try:
        # The registered task tells a misfit model before its weights are read.
        check_task(ds, model_task(split_weights_name(model)[0]))
        extra = {} if long_side is None else {"long_side": long_side}
        detector = load_model(
            model, weights=None if weights.lower() == "none" else weights, device=device, **extra
        )
        check_task(ds, detector.task)
    except TaskMismatchError as exc:
        raise _fail(console, _mismatch(exc)) from exc
    except (KeyError, TamperscopeError) as exc:
        raise _fail(console, exc.args[0] if exc.args else str(exc)) from exc
    return detector


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else f"{value:.4f}"


def _summary_table(result: EvaluationResult) -> Table:
    summary = result.summary.table()
    label = result.summary.label
    title = f"tamperscope evaluate: {result.dataset.kind}" + (f" ({label})" if label else "")
    table = Table(title=title)
    table.add_column(summary.columns[0])
    for column in summary.columns[1:]:
        table.add_column(column, justify="right")
    for name, a, b in summary.rows:
        table.add_row(name, _cell(a), _cell(b))
    return table


def _report(
    result: EvaluationResult, evaluation: TaskEvaluation, out: Path, console: Console
) -> None:
    """Write the outputs, print the table, list the failed samples (exit 1 when any)."""
    label = result.summary.label
    paths = write_result(
        result, out, roc_title=f"ROC: {result.dataset.name}" + (f" {label}" if label else "")
    )
    if "roc" not in paths:
        console.print("no ROC drawn: the samples hold a single class and no pixel ROC exists")
    Console().print(_summary_table(result))
    console.print(f"wrote {paths['metrics']}, {paths['rows']}")
    if result.errors:
        n, what = result.dataset.n_samples, evaluation.counted
        console.print(f"[red]{len(result.errors)} of {n} {what} could not be scored:[/red]")
        for err in result.errors:
            console.print(f"  {err.name}: {err.reason}")
        raise typer.Exit(1)


def evaluate(
    dataset: str = typer.Option(
        ...,
        "--dataset",
        help="Dataset reader name (e.g. manifest, generated, noso); an unknown name lists "
        "the known readers.",
    ),
    root: Path = typer.Option(..., "--root", help="Dataset root folder."),
    pred: Path | None = typer.Option(None, "--pred", help=_PRED_HELP),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Score a registered model instead of a prediction folder (see 'tamperscope models').",
    ),
    weights: str = typer.Option(
        "default", "--weights", help="With --model: 'default', 'none', or a weights file."
    ),
    device: str | None = typer.Option(None, "--device", help="With --model: cpu or cuda."),
    long_side: int | None = typer.Option(
        None,
        "--long-side",
        min=32,
        help="With a single-image --model: analysis resolution (long side, pixels); default "
        "the model's own (its weights' training size, or its cap).",
    ),
    tile: int | None = typer.Option(
        None,
        "--tile",
        min=0,
        help="With a localization --model: side (pixels) of the native-resolution tiles; 0 "
        "resizes to --long-side instead (default: the model's own, 1024 for mvss-*).",
    ),
    out: Path = typer.Option(
        ..., "--out", help="Output folder for metrics.json, per_image.csv, roc.png."
    ),
    threshold: float = typer.Option(
        0.5, "--threshold", min=0.0, max=1.0, help="Pixel and image threshold (>= is forged)."
    ),
    border: int = typer.Option(
        0, "--border", min=0, help="No-score zone around mask boundaries, in pixels (border F1)."
    ),
    authentic: str = typer.Option(
        "skip",
        "--authentic",
        help="Empty masks: 'skip' leaves them out of pixel metrics, 'count' scores them "
        "(1 when nothing is predicted, else 0). Pairs: the headline convention (positive "
        "pairs or all pairs); both are reported.",
    ),
    dataset_option: list[str] = typer.Option(
        [], "--dataset-option", help="Reader option key=value (repeatable)."
    ),
) -> None:
    """Score predicted masks and scores against a dataset's ground truth.

    Writes OUT/metrics.json (all metrics, each F1 convention named, protocol notes, counts),
    OUT/per_image.csv and OUT/roc.png. Probe/donor pair datasets are scored as pairs (pair
    IoU/MCC/NMM over positive pairs and over all pairs, detection precision/recall/F1/AUC/EER
    of the pair score) into OUT/metrics.json, OUT/per_pair.csv and OUT/roc.png. Missing
    predictions are listed at the end and make the exit code 1.
    """
    console = Console(stderr=True)
    if authentic not in ("skip", "count"):
        raise typer.BadParameter(
            f"must be 'skip' or 'count', got {authentic!r}", param_hint="--authentic"
        )
    options = parse_dataset_options(dataset_option)
    ds = _open(dataset, root, options, console)
    if (pred is None) == (model is None):
        raise _fail(console, "give exactly one of --pred PRED_DIR and --model NAME")
    settings = EvaluationSettings(threshold=threshold, empty=authentic, border=border)  # type: ignore[arg-type]
    try:
        evaluation = check_task(ds, task_for_dataset(ds))
        if evaluation.describe is not None and len(ds) == 0:
            raise _fail(
                console,
                f"{dataset!r} is {evaluation.describe} without any {evaluation.what} at {root}",
            )
        evaluation.accumulator.check_settings(settings)
        source: Detector | PredictionFolder
        if model is not None:
            source = _load_detector(ds, model, weights, device, long_side, console)
            evaluation = check_task(ds, source.task)
            evaluation.accumulator.check_settings(settings)
        else:
            assert pred is not None  # exactly one of pred and model is given
            source = PredictionFolder(pred)
    except SettingError as exc:
        raise _fail(console, f"--{exc.setting.replace('_', '-')} {exc.reason}") from exc
    except TamperscopeError as exc:  # no evaluation for this dataset, a bad prediction folder
        raise _fail(console, str(exc)) from exc
    model_options: dict[str, Any] = {}
    if tile is not None:
        if not isinstance(source, Detector) or source.task != Task.LOCALIZATION:
            raise _fail(console, "--tile needs a localization --model (see 'tamperscope models')")
        model_options["tile"] = tile
    result = run_evaluation(ds, source, settings=settings, progress=True, **model_options)
    result = result.with_dataset(name=dataset, root=str(root.resolve()), options=options)
    _report(result, evaluation, out, console)
