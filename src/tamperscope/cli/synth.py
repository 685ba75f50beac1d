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


def _run(fn: Callable[..., GenerationSummary], **kwargs: Any) -> None:
    try:
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


@app.command("copy-move")
def copy_move(
    images: str = typer.Option(..., "--images", help=_IMAGES_HELP),
    out: Path = typer.Option(
        ..., "--out", help="Output folder (resumed when it holds this config)."
    ),
    n: int = typer.Option(..., "-n", "--n", min=1, help="Number of samples."),
    seed: int = typer.Option(0, "--seed", help="Base seed; sample i uses default_rng([seed, i])."),
    regions: str = typer.Option(
        "random", "--regions", help="Region source: random, bsds500, camvid, labels or coco."
    ),
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
    coco_annotations: Path | None = typer.Option(
        None, "--coco-annotations", help="COCO instances JSON (regions coco)."
    ),
    groups: str = typer.Option("Difficult,Normal,Easy", "--groups", help=_GROUPS_HELP),
    transform: str = typer.Option(
        "random",
        "--transform",
        help="random (DMAC), shift, rotation, scale, luminance, deformation or combination.",
    ),
    blend: str = typer.Option("hard", "--blend", help="hard, feather or poisson."),
    feather_px: int = typer.Option(8, "--feather-px", help="Feather ramp width, pixels."),
    attacks: str | None = typer.Option(None, "--attacks", help=_ATTACKS_HELP),
    random_attacks: float = typer.Option(0.0, "--random-attacks", help=_RANDOM_HELP),
    negatives: float = typer.Option(
        0.0, "--negatives", help="Share of pristine samples (label 0, empty mask)."
    ),
    max_side: int | None = typer.Option(
        None, "--max-side", help="Shrink photos to this longer side."
    ),
    resume: bool = typer.Option(False, "--resume", help="Require an interrupted run to continue."),
) -> None:
    """Copy a region within its own image (3-class masks: 0 pristine, 1 source, 2 target)."""
    try:
        classes = _classes(instance_classes)
    except TamperscopeError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    _run(
        generate_copy_move,
        out=out,
        n=n,
        seed=seed,
        resume=resume,
        images=images,
        regions=regions,
        labels_suffix=labels_suffix,
        instance_classes=classes,
        coco_annotations=str(coco_annotations) if coco_annotations else None,
        groups=_split(groups),
        transform=transform,
        blend=blend,
        feather_px=feather_px,
        attacks=_split(attacks) or (),
        random_attacks=random_attacks,
        negatives=negatives,
        max_side=max_side,
    )


@app.command("splice-pairs")
def splice_pairs(
    images: str = typer.Option(..., "--images", help=_IMAGES_HELP),
    out: Path = typer.Option(
        ..., "--out", help="Output folder (resumed when it holds this config)."
    ),
    n: int = typer.Option(
        ..., "-n", "--n", min=1, help="Number of pairs (thirds: fg, bg, negative)."
    ),
    seed: int = typer.Option(0, "--seed", help="Base seed."),
    regions: str = typer.Option(
        "random", "--regions", help="Region source: random, bsds500, camvid, labels or coco."
    ),
    labels_suffix: str | None = typer.Option(None, "--labels-suffix", help="Label-map suffix."),
    instance_classes: str | None = typer.Option(
        None, "--instance-classes", help="Label ids whose connected components are regions."
    ),
    coco_annotations: Path | None = typer.Option(
        None, "--coco-annotations", help="COCO instances JSON (regions coco)."
    ),
    groups: str = typer.Option("Difficult,Normal,Easy", "--groups", help=_GROUPS_HELP),
    transform: str = typer.Option(
        "random",
        "--transform",
        help="random (DMAC), raw, shift, rotation, scale, luminance, deformation, combination.",
    ),
    blend: str = typer.Option("hard", "--blend", help="hard, feather or poisson."),
    feather_px: int = typer.Option(8, "--feather-px", help="Feather ramp width, pixels."),
    attacks: str | None = typer.Option(None, "--attacks", help=_ATTACKS_HELP),
    random_attacks: float = typer.Option(0.0, "--random-attacks", help=_RANDOM_HELP),
    size: str | None = typer.Option(
        None, "--size", help="Common working size WIDTHxHEIGHT (default: keep sizes)."
    ),
    max_side: int | None = typer.Option(
        None, "--max-side", help="Shrink photos to this longer side."
    ),
    resume: bool = typer.Option(False, "--resume", help="Require an interrupted run to continue."),
) -> None:
    """Probe/donor pairs in DMAC's thirds (foreground, background, negative); masks 0/255."""
    try:
        classes, working = _classes(instance_classes), _size(size)
    except TamperscopeError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    _run(
        generate_splice_pairs,
        out=out,
        n=n,
        seed=seed,
        resume=resume,
        images=images,
        regions=regions,
        labels_suffix=labels_suffix,
        instance_classes=classes,
        coco_annotations=str(coco_annotations) if coco_annotations else None,
        groups=_split(groups),
        transform=transform,
        blend=blend,
        feather_px=feather_px,
        attacks=_split(attacks) or (),
        random_attacks=random_attacks,
        size=working,
        max_side=max_side,
    )


@app.command("splice")
def splice(
    images: str = typer.Option(..., "--images", help="Host photos: " + _IMAGES_HELP),
    out: Path = typer.Option(
        ..., "--out", help="Output folder (resumed when it holds this config)."
    ),
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
    labels_suffix: str | None = typer.Option(None, "--labels-suffix", help="Label-map suffix."),
    instance_classes: str | None = typer.Option(
        None, "--instance-classes", help="Label ids whose connected components are regions."
    ),
    coco_annotations: Path | None = typer.Option(
        None, "--coco-annotations", help="COCO instances JSON (regions coco)."
    ),
    groups: str = typer.Option("Difficult,Normal,Easy", "--groups", help=_GROUPS_HELP),
    transform: str = typer.Option(
        "random",
        "--transform",
        help="random (DMAC), raw, shift, rotation, scale, luminance, deformation, combination.",
    ),
    blend: str = typer.Option("hard", "--blend", help="hard, feather or poisson."),
    feather_px: int = typer.Option(8, "--feather-px", help="Feather ramp width, pixels."),
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
    attacks: str | None = typer.Option(None, "--attacks", help=_ATTACKS_HELP),
    random_attacks: float = typer.Option(0.0, "--random-attacks", help=_RANDOM_HELP),
    max_side: int | None = typer.Option(
        None, "--max-side", help="Shrink photos to this longer side."
    ),
    resume: bool = typer.Option(False, "--resume", help="Require an interrupted run to continue."),
) -> None:
    """Paste a donor photo's region into a host photo, with JPEG histories (masks 0/255)."""
    try:
        classes = _classes(instance_classes)
    except TamperscopeError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    _run(
        generate_splice,
        out=out,
        n=n,
        seed=seed,
        resume=resume,
        images=images,
        donors=donors,
        masks_dir=str(masks_dir) if masks_dir else None,
        use_mattes=use_mattes,
        regions=regions,
        labels_suffix=labels_suffix,
        instance_classes=classes,
        coco_annotations=str(coco_annotations) if coco_annotations else None,
        groups=_split(groups),
        transform=transform,
        blend=blend,
        feather_px=feather_px,
        colour_match=colour_match,
        prior_quality=prior_quality,
        host_prior=host_prior,
        donor_prior=donor_prior,
        grid_offsets=grid_offsets,
        final_format=final_format,
        final_quality=final_quality,
        negatives=negatives,
        attacks=_split(attacks) or (),
        random_attacks=random_attacks,
        max_side=max_side,
    )


@app.command("inpainting")
def inpainting(
    images: str = typer.Option(..., "--images", help=_IMAGES_HELP),
    out: Path = typer.Option(
        ..., "--out", help="Output folder (resumed when it holds this config)."
    ),
    n: int = typer.Option(..., "-n", "--n", min=1, help="Number of samples."),
    seed: int = typer.Option(0, "--seed", help="Base seed."),
    groups: str = typer.Option("Difficult,Normal,Easy", "--groups", help=_GROUPS_HELP),
    mask_type: str = typer.Option("mixed", "--mask-type", help="rect, free-form or mixed."),
    inpainter: str = typer.Option(
        "telea", "--inpainter", help="OpenCV method: telea, ns, or both (one per sample)."
    ),
    radius: int = typer.Option(5, "--radius", help="Inpainting radius, pixels."),
    negatives: float = typer.Option(
        0.0, "--negatives", help="Share of untouched samples (label 0, bbox null)."
    ),
    attacks: str | None = typer.Option(None, "--attacks", help=_ATTACKS_HELP),
    random_attacks: float = typer.Option(0.0, "--random-attacks", help=_RANDOM_HELP),
    max_side: int | None = typer.Option(
        None, "--max-side", help="Shrink photos to this longer side."
    ),
    resume: bool = typer.Option(False, "--resume", help="Require an interrupted run to continue."),
) -> None:
    """Fill rectangular or free-form areas with OpenCV inpainting (masks 0/255, bbox)."""
    _run(
        generate_inpainting,
        out=out,
        n=n,
        seed=seed,
        resume=resume,
        images=images,
        groups=_split(groups),
        mask_type=mask_type,
        inpainter=inpainter,
        radius=radius,
        negatives=negatives,
        attacks=_split(attacks) or (),
        random_attacks=random_attacks,
        max_side=max_side,
    )
