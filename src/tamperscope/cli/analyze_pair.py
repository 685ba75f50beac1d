"""``tamperscope analyze-pair``: constrained splicing detection on a probe/donor pair."""

from __future__ import annotations

from pathlib import Path

import typer

from tamperscope.api import DEFAULT_PAIR_MODEL, load_model
from tamperscope.api import analyze_pair as _analyze_pair
from tamperscope.errors import TamperscopeError
from tamperscope.inference.pairs import PAIR_SIZE

_SLIDING = {"auto": None, "on": True, "off": False}


def analyze_pair(
    probe: Path = typer.Argument(..., help="The suspect (probe) image."),
    donor: Path = typer.Argument(..., help="The possible donor image."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for the JSON report, masks and overlays."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help=f"Registered pair model name; default {DEFAULT_PAIR_MODEL}, or the model a "
        "--weights file names.",
    ),
    weights: str = typer.Option(
        "default",
        "--weights",
        help="'default' (shipped), 'none' (untrained), or a weights file from 'tamperscope train'.",
    ),
    device: str | None = typer.Option(
        None, "--device", help="cpu or cuda (default: cuda when available)."
    ),
    threshold: float = typer.Option(
        0.5, "--threshold", min=0.0, max=1.0, help="Decision threshold on the pair score."
    ),
    size: int = typer.Option(
        PAIR_SIZE,
        "--size",
        min=16,
        help="Side (pixels, multiple of 8) both images are analysed at.",
    ),
    sliding: str = typer.Option(
        "auto",
        "--sliding",
        help="Sliding windows over large probes: auto (long side > 2 x size), on or off.",
    ),
) -> None:
    """Tell whether a region of DONOR was spliced into PROBE, and where it lies in both.

    Prints the verdict, the pair score and the shared area in each image. With --out, writes
    PROBE_DONOR.json (verdict, pair score, threshold, areas and boxes, model, weights sha256,
    version, sizes, time), PROBE_DONOR_probe_mask.png and PROBE_DONOR_donor_mask.png (white =
    shared region) and the two overlays. Exit code 1 when an image cannot be read, 2 when the
    model cannot be loaded.
    """
    if sliding not in _SLIDING:
        typer.echo(f"error: --sliding must be auto, on or off, got {sliding!r}", err=True)
        raise typer.Exit(2)
    try:
        w = None if weights.lower() == "none" else weights
        if model is None and w in (None, "default"):
            model = DEFAULT_PAIR_MODEL
        detector = load_model(model, weights=w, device=device)
    except (KeyError, TamperscopeError) as exc:
        typer.echo(f"error: {exc.args[0] if exc.args else exc}", err=True)
        raise typer.Exit(2) from None
    try:
        report = _analyze_pair(
            probe,
            donor,
            model=detector,
            threshold=threshold,
            out_dir=out,
            size=size,
            sliding=_SLIDING[sliding],
            sliding_threshold=2 * size,
        )
    except (TamperscopeError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    verdict = "correlated" if report.correlated else "not correlated"
    typer.echo(
        f"{probe} <- {donor}: {verdict} (pair score {report.score:.3f}, threshold "
        f"{report.threshold:.2f}, {report.seconds:.2f} s)"
    )
    for role, region in (("probe", report.probe_region), ("donor", report.donor_region)):
        if region:
            typer.echo(
                f"  {role}: shared region {region['area_px']} px "
                f"({100 * region['area_fraction']:.1f}%), bbox {region['bbox']}"
            )
    if out is not None:
        typer.echo(f"outputs in {out}")
