"""``tamperscope analyze``: copy-move detection on image files, folders or globs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tamperscope.api import DEFAULT_MODEL, analyze_batch, load_model
from tamperscope.errors import TamperscopeError


def analyze(
    inputs: list[str] = typer.Argument(..., help="Image files, folders or glob patterns."),
    out: Path = typer.Option(
        Path("tamperscope_out"), "--out", "-o", help="Folder for reports, masks and overlays."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help=f"Registered model name (see 'tamperscope models'); default {DEFAULT_MODEL}, or "
        "the model a --weights file names.",
    ),
    weights: str = typer.Option(
        "default",
        "--weights",
        help="'default' (shipped), 'none' (untrained), or a weights file from 'tamperscope train'.",
    ),
    device: str | None = typer.Option(
        None, "--device", help="cpu or cuda (default: cuda when available)."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", min=0.0, max=1.0, help="Decision threshold on the image score."
    ),
    long_side: int | None = typer.Option(
        None,
        "--long-side",
        min=32,
        help="Analyse at this long side (pixels); masks are upsampled back.",
    ),
) -> None:
    """Tell whether each image holds a copy-move forgery, and where the source and the copy are.

    Writes NAME.json (verdict, score, threshold, source/target areas and boxes, model, weights
    sha256, version, sizes, time), NAME_mask.png (red target, green source) and
    NAME_overlay.png per image. Files that fail are reported at the end; the exit code is 1
    when any file failed.
    """
    console = Console(stderr=False)
    try:
        detector = load_model(
            model,
            weights=None if weights.lower() == "none" else weights,
            device=device,
            long_side=long_side,
        )
    except (KeyError, TamperscopeError) as exc:
        typer.echo(f"error: {exc.args[0] if exc.args else exc}", err=True)
        raise typer.Exit(2) from None
    if threshold is not None:
        detector.threshold = threshold

    table = Table(title=f"tamperscope analyze ({detector.name})")
    for col in ("file", "verdict", "score", "source px", "target px", "seconds"):
        table.add_column(
            col,
            justify="left" if col in ("file", "verdict") else "right",
            overflow="fold",
        )
    failures: list[tuple[Path, str]] = []
    for path, result in analyze_batch(inputs, model=detector, out_dir=out):
        if isinstance(result, TamperscopeError):
            failures.append((path, str(result)))
            typer.echo(f"error: {result}", err=True)
            continue
        regions = result.regions
        src = regions.get("source", regions.get("forged", {})).get("area_px", 0)
        tgt = regions.get("target", {}).get("area_px", 0)
        verdict = "[red]forged[/red]" if result.forged else "[green]authentic[/green]"
        table.add_row(
            str(path), verdict, f"{result.score:.3f}", str(src), str(tgt), f"{result.seconds:.2f}"
        )
    if table.row_count:
        console.print(table)
        console.print(f"threshold {detector.threshold:.2f}; outputs in {out}")
    if failures:
        typer.echo(f"{len(failures)} file(s) failed:", err=True)
        for _, msg in failures:
            typer.echo(f"  {msg}", err=True)
        raise typer.Exit(1)
