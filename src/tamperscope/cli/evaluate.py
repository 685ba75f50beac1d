"""``tamperscope evaluate``: score predicted masks and scores against a dataset.

Prediction folder format, for each sample name NAME of the dataset:

* ``PRED_DIR/NAME.npy``: (H, W) float in [0, 1] = P(forged); or (3, H, W) / (H, W, 3) float
  in [0, 1], channels (pristine, source, target) = 3-class prediction. Preferred over PNG.
* ``PRED_DIR/NAME.png``: grey = P(forged) (value / 255); RGB with R = P(target),
  G = P(source), B ignored = 3-class prediction.
* optional ``PRED_DIR/scores.csv`` (columns ``name,score``) or ``PRED_DIR/scores.json``
  (``{name: score}``) with image-level scores; without one, an image's score is the maximum
  of its forgery probability map.

Probe/donor pair datasets (``generated-pairs``, ``manifest`` with ``probe``/``donor``
columns) are scored as pairs, DMAC's protocol
(:func:`~tamperscope.metrics.evaluation.evaluate_pair_predictions`). Their prediction folder
holds, for each pair name NAME:

* ``PRED_DIR/NAME_probe.npy|png`` and ``PRED_DIR/NAME_donor.npy|png``: (H, W) probability of
  the shared region (``.npy`` float in [0, 1], grey PNG value / 255);
* optional ``PRED_DIR/scores.csv`` (``name,score``) or ``PRED_DIR/scores.json`` with pair
  scores; without one, a pair's score is DMAC's rule from its maps (the mean over both maps
  of the average probability of the pixels above 0.5).

Pairs get ``OUT/metrics.json``, ``OUT/per_pair.csv`` and ``OUT/roc.png``.

Maps of another size are resized bilinearly to the ground truth. Writes ``OUT/metrics.json``,
``OUT/per_image.csv`` and ``OUT/roc.png`` atomically. Missing or unreadable predictions are
reported per image; the run goes on, lists them at the end and exits with code 1.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from tamperscope.api import load_model, model_pair_predictions, model_predictions
from tamperscope.data.base import PairDataset, open_dataset
from tamperscope.errors import TamperscopeError
from tamperscope.inference.pairs import PAIR_SIZE
from tamperscope.io import atomic_open, write_json
from tamperscope.metrics.evaluation import (
    PER_IMAGE_COLUMNS,
    PER_PAIR_COLUMNS,
    PairItem,
    PredictionError,
    PredictionFolder,
    evaluate_pair_predictions,
    evaluate_predictions,
    folder_predictions,
    pair_folder_predictions,
)
from tamperscope.report.plots import write_roc_plot

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


def _write_csv(
    path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...] = PER_IMAGE_COLUMNS
) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_open(path, "w") as fh:
        fh.write(buf.getvalue())


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def _summary_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"tamperscope evaluate: {result['dataset']['kind']}", show_lines=False)
    table.add_column("metric")
    table.add_column("per-image (B)", justify="right")
    table.add_column("pooled (A)", justify="right")
    union = result["pixel"]["union"]
    pooled = union["pooled"] or {}
    for key in ("f1", "precision", "recall", "iou", "mcc", "nmm", "auc"):
        table.add_row(f"pixel {key}", _num(union["per_image"][key]), _num(pooled.get(key)))
    conv = result["f1_conventions"]
    best = conv["dataset_best_threshold"]
    table.add_row(
        "F1 per-image best thr (oracle)", _num(conv["per_image_best_threshold"]["per_image"]), "-"
    )
    table.add_row(
        "F1 dataset best thr",
        _num((best["per_image"] or {}).get("f1")),
        _num((best["pooled"] or {}).get("f1")),
    )
    table.add_row("F1 inverted-max", _num(conv["inverted_max"]["per_image"]), "-")
    b = conv["border_excluded"]
    table.add_row(
        f"F1 border {b['border_px']} px excluded", _num(b["per_image"]), _num(b["pooled"])
    )
    per_class = result["pixel"]["per_class"]
    if per_class:
        for cname, acc in per_class.items():
            table.add_row(
                f"F1 {cname}", _num(acc["per_image"]["f1"]), _num((acc["pooled"] or {}).get("f1"))
            )
    image = result["image"]
    if image:
        for key in ("auc", "f1", "accuracy", "balanced_accuracy", "eer"):
            table.add_row(f"image {key}", _num(image[key]), "")
    table.add_row("combined F1", _num(result["combined_f1"]), "")
    disc = result["discernibility"]
    if disc:
        table.add_row("discernibility opt-in acc", _num(disc["opt_in_accuracy"]), "")
        table.add_row("discernibility overall acc", _num(disc["overall_accuracy"]), "")
    return table


def _pair_summary_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"tamperscope evaluate: {result['dataset']['kind']} (pairs)")
    table.add_column("metric")
    table.add_column("positive pairs", justify="right")
    table.add_column("all pairs", justify="right")
    conv = result["localization_conventions"]
    pos, every = conv["positive_pairs"], conv["all_pairs"]
    for key in ("iou", "mcc", "nmm"):
        table.add_row(f"pair {key}", _num(pos[key]), _num(every[key]))
    table.add_row("pairs localized", str(pos["n_pairs"]), str(every["n_pairs"]))
    table.add_row("pixel AUC (pooled)", _num(result["pixel_auc"]), "-")
    detection = result["detection"]
    if detection:
        for key in ("precision", "recall", "f1", "auc", "eer", "accuracy"):
            table.add_row(f"detection {key}", "", _num(detection[key]))
    return table


def _write_results(
    out: Path,
    result: dict[str, Any],
    *,
    rows_key: str,
    columns: tuple[str, ...],
    title: str,
    table: Table | None,
    console: Console,
) -> None:
    """metrics.json, the per-sample CSV (``rows_key``.csv) and roc.png; prints the table."""
    rows = result.pop(rows_key)
    curves = result.pop("curves")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", result)
    _write_csv(out / f"{rows_key}.csv", rows, columns)
    if curves["image_roc"] is not None or curves["pixel_roc"] is not None:
        write_roc_plot(out / "roc.png", curves["image_roc"], curves["pixel_roc"], title=title)
    else:
        console.print("no ROC drawn: the samples hold a single class and no pixel ROC exists")
    if table is not None:
        Console().print(table)
    console.print(f"wrote {out / 'metrics.json'}, {out / f'{rows_key}.csv'}")


def _exit_on_errors(errors: list[dict[str, str]], n: int, what: str, console: Console) -> None:
    if errors:
        console.print(f"[red]{len(errors)} of {n} {what} could not be scored:[/red]")
        for err in errors:
            console.print(f"  {err['name']}: {err['reason']}")
        raise typer.Exit(1)


def _load_detector(
    model: str,
    weights: str,
    device: str | None,
    pairs: bool,
    console: Console,
    long_side: int | None = None,
):
    from tamperscope.registry import Task, model_task

    try:
        if (model_task(model) == Task.PAIR) != pairs:
            wanted = "a probe/donor model (e.g. dmac-vgg16)" if pairs else "a single-image model"
            kind = "pairs" if pairs else "single images"
            console.print(f"[red]error:[/red] the dataset holds {kind}; --model needs {wanted}")
            raise typer.Exit(2)
        extra = {} if long_side is None else {"long_side": long_side}
        return load_model(
            model, weights=None if weights.lower() == "none" else weights, device=device, **extra
        )
    except (KeyError, TamperscopeError) as exc:
        console.print(f"[red]error:[/red] {exc.args[0] if exc.args else exc}")
        raise typer.Exit(2) from exc


def _open_pred_folder(pred: Path, console: Console) -> PredictionFolder:
    try:
        return PredictionFolder(pred)
    except PredictionError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _evaluate_pairs(
    ds: PairDataset,
    *,
    dataset: str,
    root: Path,
    options: dict[str, Any],
    pred: Path | None,
    model: str | None,
    weights: str,
    device: str | None,
    out: Path,
    threshold: float,
    authentic: str,
    console: Console,
) -> None:
    predictions: Iterator[PairItem]
    if model is not None:
        detector = _load_detector(model, weights, device, True, console)
        predictions = model_pair_predictions(ds, detector, size=PAIR_SIZE)
    else:
        assert pred is not None
        predictions = pair_folder_predictions(ds, _open_pred_folder(pred, console))
    result = evaluate_pair_predictions(
        predictions,
        threshold=threshold,
        empty=authentic,  # type: ignore[arg-type]
        dataset=ds,
        progress=True,
    )
    result["dataset"].update(name=dataset, root=str(root.resolve()), options=options)
    if model is not None:
        result["settings"]["model"] = {
            "name": detector.name,
            "weights_sha256": detector.weights_sha256,
            "size": PAIR_SIZE,
        }
    else:
        assert pred is not None
        result["settings"]["pred_dir"] = str(pred.resolve())
    _write_results(
        out,
        result,
        rows_key="per_pair",
        columns=PER_PAIR_COLUMNS,
        title=f"ROC: {dataset} pairs",
        table=_pair_summary_table(result),
        console=console,
    )
    _exit_on_errors(result["errors"], len(ds), "pairs", console)


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
    try:
        ds = open_dataset(dataset, root, **options)
    except KeyError as exc:
        console.print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(2) from exc
    except (TamperscopeError, TypeError) as exc:
        console.print(f"[red]error:[/red] cannot open dataset {dataset!r} at {root}: {exc}")
        raise typer.Exit(2) from exc
    if (pred is None) == (model is None):
        console.print("[red]error:[/red] give exactly one of --pred PRED_DIR and --model NAME")
        raise typer.Exit(2)
    if isinstance(ds, PairDataset):
        if len(ds) == 0:
            console.print(
                f"[red]error:[/red] {dataset!r} is a probe/donor pair dataset without any pair "
                f"at {root}"
            )
            raise typer.Exit(2)
        if border:
            console.print("[red]error:[/red] --border applies to single images, not to pairs")
            raise typer.Exit(2)
        _evaluate_pairs(
            ds,
            dataset=dataset,
            root=root,
            options=options,
            pred=pred,
            model=model,
            weights=weights,
            device=device,
            out=out,
            threshold=threshold,
            authentic=authentic,
            console=console,
        )
        return
    if model is not None:
        detector = _load_detector(model, weights, device, False, console, long_side)
        predictions = model_predictions(ds, detector)
    else:
        assert pred is not None  # exactly one of pred and model is given
        predictions = folder_predictions(ds, _open_pred_folder(pred, console))

    result = evaluate_predictions(
        ds,
        predictions,
        threshold=threshold,
        border=border,
        authentic=authentic,  # type: ignore[arg-type]
        progress=True,
    )
    result["dataset"].update(name=dataset, root=str(root.resolve()), options=options)
    if model is not None:
        result["settings"]["model"] = {
            "name": detector.name,
            "weights_sha256": detector.weights_sha256,
            "long_side": detector.long_side,
        }
    elif pred is not None:
        result["settings"]["pred_dir"] = str(pred.resolve())

    _write_results(
        out,
        result,
        rows_key="per_image",
        columns=PER_IMAGE_COLUMNS,
        title=f"ROC: {dataset}",
        table=_summary_table(result),
        console=console,
    )
    _exit_on_errors(result["errors"], len(ds), "images", console)
