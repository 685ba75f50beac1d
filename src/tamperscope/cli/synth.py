"""``tamperscope synth ...``: synthetic forgery generation.

Examples::

    tamperscope synth copy-move --images skimage --out demo_out/cm -n 20 --seed 0 --max-side 384
    tamperscope synth copy-move --images ../shared/data/natural/bsds500/train --regions bsds500 \\
        --out out/cm -n 1000 --seed 1 --groups Difficult,Normal --attacks jpeg:75
    tamperscope synth splice-pairs --images DIR --out out/sp -n 300 --transform rotation
    tamperscope synth splice --images skimage --out demo_out/sp -n 20 --final-format png
    tamperscope synth splice --images DIR --donors DIR2 --regions coco --coco-annotations J \
        --out out/splice -n 1000 --prior-quality 60-95 --final-quality 70-95 --negatives 0.5
    tamperscope synth inpainting --images DIR --out out/inp -n 500 --inpainter both --negatives 0.5
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from tamperscope.errors import TamperscopeError
from tamperscope.synth.generate import (
    generate_copy_move,
    generate_inpainting,
    generate_splice_pairs,
)
from tamperscope.synth.generate_splice import generate_splice
from tamperscope.synth.writer import GenerationSummary

app = typer.Typer(
    help="Generate synthetic forgeries with masks and a manifest.", no_args_is_help=True
)

_IMAGES_HELP = "Photo folder, or 'skimage' for the colour photos bundled with scikit-image."
_GROUPS_HELP = "Area groups, comma-separated: Difficult (1-10%), Normal (10-25%), Easy (25-50%)."
_ATTACKS_HELP = "Attacks on every forged image, e.g. 'jpeg:75,blur:1.5' (see synth.attacks)."
_RANDOM_HELP = "Probability of one random attack per sample (instead of --attacks)."


def _split(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(s.strip() for s in value.split(",") if s.strip())


def _size(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    width, sep, height = value.lower().partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise TamperscopeError(
            f"working size must be WIDTHxHEIGHT, e.g. 512x512, got {value!r}"
        ) from None


def _classes(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        return tuple(int(s) for s in value.split(",") if s.strip())
    except ValueError:
        raise TamperscopeError(
            f"instance classes must be integers, e.g. 8,9,10, got {value!r}"
        ) from None


def _same(value: Any) -> Any:
    return value


def _attacks(value: str | None) -> tuple[str, ...]:
    return _split(value) or ()


def _path(value: Path | None) -> str | None:
    return str(value) if value else None


# How command options become generator arguments; the others pass unchanged.
_CONVERT: dict[str, Callable[[Any], Any]] = {
    "instance_classes": _classes,
    "size": _size,
    "coco_annotations": _path,
    "masks_dir": _path,
    "groups": _split,
    "attacks": _attacks,
}


def _run(fn: Callable[..., GenerationSummary], **options: Any) -> None:
    try:
        kwargs = {k: _CONVERT.get(k, _same)(v) for k, v in options.items()}
        summary = fn(progress=True, **kwargs)
    except TamperscopeError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(
        f"{summary.out}: {summary.written} samples written, {summary.skipped} already present "
        f"({summary.n} in the set)"
    )
    if summary.bad_images:
        typer.echo(f"{len(summary.bad_images)} unreadable source images skipped:", err=True)
        for line in summary.bad_images:
            typer.echo(f"  {line}", err=True)


# Options shared by several commands (typer reads these without changing them).
_OUT = typer.Option(..., "--out", help="Output folder (resumed when it holds this config).")
_GROUPS = typer.Option("Difficult,Normal,Easy", "--groups", help=_GROUPS_HELP)
_REGIONS = typer.Option(
    "random", "--regions", help="Region source: random, bsds500, camvid, labels or coco."
)
_LABELS_SUFFIX = typer.Option(None, "--labels-suffix", help="Label-map suffix.")
_INSTANCE_CLASSES = typer.Option(
    None, "--instance-classes", help="Label ids whose connected components are regions."
)
_COCO = typer.Option(None, "--coco-annotations", help="COCO instances JSON (regions coco).")
_TRANSFORM = typer.Option(
    "random",
    "--transform",
    help="random (DMAC), raw, shift, rotation, scale, luminance, deformation, combination.",
)
_BLEND = typer.Option("hard", "--blend", help="hard, feather or poisson.")
_FEATHER_PX = typer.Option(8, "--feather-px", help="Feather ramp width, pixels.")
_ATTACKS = typer.Option(None, "--attacks", help=_ATTACKS_HELP)
_RANDOM_ATTACKS = typer.Option(0.0, "--random-attacks", help=_RANDOM_HELP)
_MAX_SIDE = typer.Option(None, "--max-side", help="Shrink photos to this longer side.")
_RESUME = typer.Option(False, "--resume", help="Require an interrupted run to continue.")


@app.command("copy-move")
def copy_move(
    images: str = typer.Option(..., "--images", help=_IMAGES_HELP),
    out: Path = _OUT,
    n: int = typer.Option(..., "-n", "--n", min=1, help="Number of samples."),
    seed: int = typer.Option(0, "--seed", help="Base seed; sample i uses default_rng([seed, i])."),
    regions: str = _REGIONS,
    labels_suffix: str | None = typer.Option(
        None,
        "--labels-suffix",
        help="Label-map suffix, e.g. .seg.png (regions bsds500/camvid/labels).",
    ),
    instance_classes: str | None = typer.Option(
        None,
        "--instance-classes",
        help="Label ids whose connected components are regions, e.g. 8,9,10.",
    ),
    coco_annotations: Path | None = _COCO,
    groups: str = _GROUPS,
    transform: str = typer.Option(
        "random",
        "--transform",
        help="random (DMAC), shift, rotation, scale, luminance, deformation or combination.",
    ),
    blend: str = _BLEND,
    feather_px: int = _FEATHER_PX,
    attacks: str | None = _ATTACKS,
    random_attacks: float = _RANDOM_ATTACKS,
    negatives: float = typer.Option(
        0.0, "--negatives", help="Share of pristine samples (label 0, empty mask)."
    ),
    max_side: int | None = _MAX_SIDE,
    resume: bool = _RESUME,
) -> None:
    """Copy a region within its own image (3-class masks: 0 pristine, 1 source, 2 target)."""
    _run(generate_copy_move, **locals())


@app.command("splice-pairs")
def splice_pairs(
    images: str = typer.Option(..., "--images", help=_IMAGES_HELP),
    out: Path = _OUT,
    n: int = typer.Option(
        ..., "-n", "--n", min=1, help="Number of pairs (thirds: fg, bg, negative)."
    ),
    seed: int = typer.Option(0, "--seed", help="Base seed."),
    regions: str = _REGIONS,
    labels_suffix: str | None = _LABELS_SUFFIX,
    instance_classes: str | None = _INSTANCE_CLASSES,
    coco_annotations: Path | None = _COCO,
    groups: str = _GROUPS,
    transform: str = _TRANSFORM,
    blend: str = _BLEND,
    feather_px: int = _FEATHER_PX,
    attacks: str | None = _ATTACKS,
    random_attacks: float = _RANDOM_ATTACKS,
    size: str | None = typer.Option(
        None, "--size", help="Common working size WIDTHxHEIGHT (default: keep sizes)."
    ),
    max_side: int | None = _MAX_SIDE,
    resume: bool = _RESUME,
) -> None:
    """Probe/donor pairs in DMAC's thirds (foreground, background, negative); masks 0/255."""
    _run(generate_splice_pairs, **locals())


@app.command("splice")
def splice(
    images: str = typer.Option(..., "--images", help="Host photos: " + _IMAGES_HELP),
    out: Path = _OUT,
    n: int = typer.Option(..., "-n", "--n", min=1, help="Number of samples."),
    seed: int = typer.Option(0, "--seed", help="Base seed; sample i uses default_rng((seed, i))."),
    donors: str | None = typer.Option(
        None, "--donors", help="Donor photo folder the regions come from (default: --images)."
    ),
    regions: str = typer.Option(
        "random",
        "--regions",
        help="Region source of the donors: random, bsds500, camvid, labels, coco, "
        "instances (instance maps), masks (binary masks) or mattes (soft alpha mattes).",
    ),
    masks_dir: Path | None = typer.Option(
        None,
        "--masks-dir",
        help="Mask folder of regions instances/masks/mattes (default: masks/ or alpha/ "
        "beside the photos).",
    ),
    labels_suffix: str | None = _LABELS_SUFFIX,
    instance_classes: str | None = _INSTANCE_CLASSES,
    coco_annotations: Path | None = _COCO,
    groups: str = _GROUPS,
    transform: str = _TRANSFORM,
    blend: str = _BLEND,
    feather_px: int = _FEATHER_PX,
    use_mattes: bool = typer.Option(
        True,
        "--use-mattes/--no-use-mattes",
        help="Regions mattes: composite with the soft matte instead of --blend.",
    ),
    colour_match: float = typer.Option(
        0.5, "--colour-match", help="Chance of matching the region's Lab mean/std to the host."
    ),
    prior_quality: str = typer.Option(
        "60-95", "--prior-quality", help="Quality range LOW-HIGH of prior JPEG compressions."
    ),
    host_prior: float = typer.Option(
        0.5, "--host-prior", help="Chance that the host was JPEG-compressed before."
    ),
    donor_prior: float = typer.Option(
        0.5, "--donor-prior", help="Chance that the donor was JPEG-compressed before."
    ),
    grid_offsets: bool = typer.Option(
        True,
        "--grid-offsets/--no-grid-offsets",
        help="Crop 0-7 px after a prior compression (8x8 grid offset from the final one).",
    ),
    final_format: str = typer.Option("jpeg", "--final-format", help="jpeg or png."),
    final_quality: str = typer.Option(
        "70-95", "--final-quality", help="Quality range LOW-HIGH of the final JPEG save."
    ),
    negatives: float = typer.Option(
        0.0, "--negatives", help="Share of authentic samples (label 0, empty mask)."
    ),
    attacks: str | None = _ATTACKS,
    random_attacks: float = _RANDOM_ATTACKS,
    max_side: int | None = _MAX_SIDE,
    resume: bool = _RESUME,
) -> None:
    """Paste a donor photo's region into a host photo, with JPEG histories (masks 0/255)."""
    _run(generate_splice, **locals())


@app.command("inpainting")
def inpainting(
    images: str = typer.Option(..., "--images", help=_IMAGES_HELP),
    out: Path = _OUT,
    n: int = typer.Option(..., "-n", "--n", min=1, help="Number of samples."),
    seed: int = typer.Option(0, "--seed", help="Base seed."),
    groups: str = _GROUPS,
    mask_type: str = typer.Option("mixed", "--mask-type", help="rect, free-form or mixed."),
    inpainter: str = typer.Option(
        "telea", "--inpainter", help="OpenCV method: telea, ns, or both (one per sample)."
    ),
    radius: int = typer.Option(5, "--radius", help="Inpainting radius, pixels."),
    negatives: float = typer.Option(
        0.0, "--negatives", help="Share of untouched samples (label 0, bbox null)."
    ),
    attacks: str | None = _ATTACKS,
    random_attacks: float = _RANDOM_ATTACKS,
    max_side: int | None = _MAX_SIDE,
    resume: bool = _RESUME,
) -> None:
    """Fill rectangular or free-form areas with OpenCV inpainting (masks 0/255, bbox)."""
    _run(generate_inpainting, **locals())
