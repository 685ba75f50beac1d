"""``tamperscope analyze``: every single-image detector on image files, folders or globs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tamperscope.api import DEFAULT_DETECTORS, Detector, analyze_batch, load_detectors, load_model
from tamperscope.errors import TamperscopeError
from tamperscope.registry import Task
from tamperscope.report.writers import MAP_FORMATS


def analyze(
    inputs: list[str] = typer.Argument(..., help="Image files, folders or glob patterns."),
    out: Path = typer.Option(
        Path("tamperscope_out"), "--out", "-o", help="Folder for reports, masks and overlays."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Run this one model only (see 'tamperscope models'); with --weights, default the "
        "model the file names.",
    ),
    detectors: str | None = typer.Option(
        None,
        "--detectors",
        "-d",
        help=f"Comma-separated detectors to run (default: {','.join(DEFAULT_DETECTORS)}).",
    ),
    weights: str = typer.Option(
        "default",
        "--weights",
        help="With --model: 'default' (shipped), 'none' (untrained), or a weights file from "
        "'tamperscope train'.",
    ),
    device: str | None = typer.Option(
        None, "--device", help="cpu or cuda (default: cuda when available)."
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        min=0.0,
        max=1.0,
        help="Decision threshold on the fused score (default 0.5: each detector's own).",
    ),
    long_side: int | None = typer.Option(
        None,
        "--long-side",
        min=32,
        help="Analyse at this long side (pixels); masks are upsampled back.",
    ),
    tile: int | None = typer.Option(
        None,
        "--tile",
        min=0,
        help="Side (pixels) of the native-resolution tiles of the localizers; 0 resizes to "
        "--long-side instead (default: the model's own, 1024 for mvss-*).",
    ),
    save_maps: str | None = typer.Option(
        None,
        "--save-maps",
        help="Also write each detector's probability maps: png (8-bit) or npy (float32).",
    ),
) -> None:
    """Tell whether each image was manipulated, and where: copy-move source and copy, and
    any other manipulated region.

    Runs every detector (the copy-move detector and the generic localizer; --detectors picks,
    --model runs one) and writes per image NAME.json (verdict, fused detection score and
    threshold, findings with kind/detector/score/bbox/area, each detector's score and
    provenance, version, sizes, time), NAME_mask.png (black pristine, red copy-move target,
    green copy-move source, white other manipulated regions) and NAME_overlay.png. Files that
    fail are reported at the end; the exit code is 1 when any file failed.
    """
    console = Console(stderr=False)
    if save_maps is not None and save_maps not in MAP_FORMATS:
        typer.echo(f"error: --save-maps must be one of {', '.join(MAP_FORMATS)}", err=True)
        raise typer.Exit(2)
    try:
        loaded = _load(model, detectors, weights, device, long_side)
    except (KeyError, ValueError, TamperscopeError) as exc:
        typer.echo(f"error: {exc.args[0] if exc.args else exc}", err=True)
        raise typer.Exit(2) from None
    for d in loaded:
        if tile is not None and d.task == Task.LOCALIZATION:
            d.tile = tile or None

    table = Table(title=f"tamperscope analyze ({'+'.join(d.name for d in loaded)})")
    for col in ("file", "verdict", "score", "findings", "seconds"):
        table.add_column(
            col,
            justify="left" if col in ("file", "verdict", "findings") else "right",
            overflow="fold",
        )
    failures: list[tuple[Path, str]] = []
    results = analyze_batch(
        inputs, detectors=loaded, threshold=threshold, out_dir=out, save_maps=save_maps
    )
    for path, result in results:
        if isinstance(result, TamperscopeError):
            failures.append((path, str(result)))
            typer.echo(f"error: {result}", err=True)
            continue
        kinds = Counter(f["kind"] for f in result.findings)
        found = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "-"
        verdict = "[red]forged[/red]" if result.forged else "[green]authentic[/green]"
        table.add_row(str(path), verdict, f"{result.score:.3f}", found, f"{result.seconds:.2f}")
    if table.row_count:
        console.print(table)
        shown = 0.5 if threshold is None else threshold
        console.print(f"threshold {shown:.2f}; outputs in {out}")
    if failures:
        typer.echo(f"{len(failures)} file(s) failed:", err=True)
        for _, msg in failures:
            typer.echo(f"  {msg}", err=True)
        raise typer.Exit(1)


def _load(
    model: str | None,
    detectors: str | None,
    weights: str,
    device: str | None,
    long_side: int | None,
) -> list[Detector]:
    """The detectors of the command line: ``--model`` (with ``--weights``) or ``--detectors``."""
    if model is not None or weights != "default":
        file = None if weights.lower() == "none" else weights
        one = load_model(model, weights=file, device=device, long_side=long_side)
        return load_detectors([one])
    names = DEFAULT_DETECTORS if detectors is None else _names(detectors)
    return load_detectors([load_model(n, device=device, long_side=long_side) for n in names])


def _names(text: str) -> list[str]:
    """Detector names of a comma-separated list."""
    return [n.strip() for n in text.split(",") if n.strip()]
