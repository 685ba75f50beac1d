"""Options of the set generators: what each ``tamperscope synth`` command accepts.

One frozen dataclass per generator (copy-move, splice pairs, single-image splices,
inpainting) with the fields shared by the region-based generators in :class:`CommonOptions`;
:func:`resolve_options` validates them and puts them in canonical form, so that a resumed run
can compare its options with the ones recorded in ``config.json``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tamperscope.errors import TamperscopeError
from tamperscope.synth.attacks import get_attack, parse_attacks
from tamperscope.synth.blending import check_blend
from tamperscope.synth.inpainting import MASK_TYPES
from tamperscope.synth.sampling import TRANSFORM_FAMILIES, parse_groups, validate_fraction
from tamperscope.version import __version__

INPAINTER_CHOICES = ("telea", "ns", "both")


@dataclass(frozen=True)
class CommonOptions:
    """Options shared by the generators.

    Attributes:
        images: photo folder, or ``"skimage"`` for scikit-image's bundled colour photos.
        regions: region source, one of ``random``, ``bsds500``, ``camvid``, ``labels``, ``coco``.
        labels_suffix: label-map suffix (overrides the ``bsds500``/``camvid`` preset).
        instance_classes: class ids whose connected components are regions (label maps).
        coco_annotations: COCO instance annotation file (``regions="coco"``).
        groups: area groups sampled uniformly (``Difficult``, ``Normal``, ``Easy``).
        blend: ``hard``, ``feather`` or ``poisson``.
        feather_px: feather ramp width, pixels.
        transform: transformation family (``random`` is DMAC's sampling).
        attacks: attack specs applied to every forged image, e.g. ``("jpeg:75",)``.
        random_attacks: probability of one random attack per sample (when ``attacks`` is
            empty).
        random_attack_names: attacks the random one is drawn from (None: all but resize).
        max_side: shrink photos so the longer side is at most this many pixels.
        max_tries: warped transformation attempts per region.
        max_image_tries: photos tried per sample before the sample fails.
    """

    images: str = "skimage"
    regions: str = "random"
    labels_suffix: str | None = None
    instance_classes: tuple[int, ...] | None = None
    coco_annotations: str | None = None
    groups: tuple[str, ...] = ("Difficult", "Normal", "Easy")
    blend: str = "hard"
    feather_px: int = 8
    transform: str = "random"
    attacks: tuple[str, ...] = ()
    random_attacks: float = 0.0
    random_attack_names: tuple[str, ...] | None = None
    max_side: int | None = None
    max_tries: int = 20
    max_image_tries: int = 20


@dataclass(frozen=True)
class CopyMoveOptions(CommonOptions):
    """Copy-move options (see :class:`CommonOptions`).

    Attributes:
        negatives: share of pristine samples (label 0, empty mask), in [0, 1].
    """

    negatives: float = 0.0


@dataclass(frozen=True)
class SpliceOptions(CommonOptions):
    """Splice-pair options (see :class:`CommonOptions`).

    Attributes:
        size: (width, height) common working size of all photos; None keeps their sizes.
    """

    size: tuple[int, int] | None = None


#: Formats of the final save of a single-image splice.
FINAL_FORMATS = ("jpeg", "png")


@dataclass(frozen=True)
class SpliceImageOptions(CommonOptions):
    """Single-image splicing options (see :class:`CommonOptions`; ``images`` are the hosts).

    Attributes:
        donors: photo folder the pasted regions come from (with ``regions``); None: the
            host photos (a donor is then always another photo than its host).
        masks_dir: mask folder of the ``instances``, ``masks`` and ``mattes`` region sources
            (default: ``masks/`` or ``alpha/`` beside the donor photos).
        use_mattes: with ``regions="mattes"``, composite each region with its soft matte
            (blend ``matte`` in the manifest) instead of ``blend``.
        negatives: share of authentic samples (label 0, empty mask), in [0, 1].
        colour_match: chance that a region's colours are matched to the host (Lab mean/std
            transfer), in [0, 1].
        prior_quality: (low, high) quality range, 1-100, of the prior JPEG compressions.
        host_prior: chance that the host carries a prior JPEG compression, in [0, 1].
        donor_prior: chance that the donor carries a prior JPEG compression, in [0, 1].
        grid_offsets: crop 0-7 pixels after a prior compression, so that its 8x8 grid is
            offset from the final one.
        final_format: ``jpeg`` or ``png``, the format the result is saved in.
        final_quality: (low, high) quality range, 1-100, of the final JPEG save.
    """

    donors: str | None = None
    masks_dir: str | None = None
    use_mattes: bool = True
    negatives: float = 0.0
    colour_match: float = 0.5
    prior_quality: tuple[int, int] = (60, 95)
    host_prior: float = 0.5
    donor_prior: float = 0.5
    grid_offsets: bool = True
    final_format: str = "jpeg"
    final_quality: tuple[int, int] = (70, 95)


def parse_quality_range(value: Any, what: str) -> tuple[int, int]:
    """A JPEG quality range from ``75``, ``"75"``, ``"60-95"`` or ``(60, 95)``.

    Raises:
        TamperscopeError: not a range of integers, outside 1-100, or low above high; the
            message names ``what``.
    """
    parts: list[Any]
    try:
        if isinstance(value, str):
            parts = value.split("-")
        elif isinstance(value, int):
            parts = [value]
        else:
            parts = list(value)
        if not 1 <= len(parts) <= 2:
            raise ValueError(value)
        low, high = int(parts[0]), int(parts[-1])
    except (TypeError, ValueError):
        raise TamperscopeError(
            f"{what} must be a quality or a range LOW-HIGH such as 60-95, got {value!r}"
        ) from None
    if not 1 <= low <= high <= 100:
        raise TamperscopeError(f"{what} must lie in 1-100 with low <= high, got {low}-{high}")
    return low, high


@dataclass(frozen=True)
class InpaintingOptions:
    """Inpainting options.

    Attributes:
        images: photo folder, or ``"skimage"``.
        groups: area groups of the masks.
        mask_type: ``rect``, ``free-form`` or ``mixed``.
        inpainter: ``telea``, ``ns`` or ``both`` (one drawn per sample).
        radius: inpainting radius, pixels.
        negatives: share of untouched samples (label 0), in [0, 1].
        attacks, random_attacks, random_attack_names, max_side, max_image_tries: as
            :class:`CommonOptions`.
    """

    images: str = "skimage"
    groups: tuple[str, ...] = ("Difficult", "Normal", "Easy")
    mask_type: str = "mixed"
    inpainter: str = "telea"
    radius: int = 5
    negatives: float = 0.0
    attacks: tuple[str, ...] = ()
    random_attacks: float = 0.0
    random_attack_names: tuple[str, ...] | None = None
    max_side: int | None = None
    max_image_tries: int = 20


def _resolve_images(images: str | Path) -> str:
    return "skimage" if str(images) == "skimage" else str(Path(images).expanduser().resolve())


def _resolve_common(options: Any) -> dict[str, Any]:
    """Validated, canonical field values shared by all option classes."""
    changes: dict[str, Any] = {"images": _resolve_images(options.images)}
    changes["groups"] = parse_groups(options.groups)
    changes["attacks"] = tuple(a.spec for a in parse_attacks(options.attacks))
    changes["random_attacks"] = validate_fraction(
        options.random_attacks, "random attack probability"
    )
    if changes["attacks"] and changes["random_attacks"] > 0:
        raise TamperscopeError("give either fixed attacks or a random attack probability, not both")
    if options.random_attack_names is not None:
        changes["random_attack_names"] = tuple(
            get_attack(n).name for n in options.random_attack_names
        )
    if options.max_side is not None and options.max_side < 8:
        raise TamperscopeError(f"max side must be at least 8 pixels, got {options.max_side}")
    if options.max_image_tries < 1:
        raise TamperscopeError("max image tries must be at least 1")
    return changes


def resolve_options(options: Any) -> Any:
    """Validate options and put them in canonical form (absolute paths, canonical names).

    Args:
        options: a :class:`CopyMoveOptions`, :class:`SpliceOptions`,
            :class:`SpliceImageOptions` or :class:`InpaintingOptions`.

    Returns:
        A new options object of the same class.

    Raises:
        TamperscopeError: an invalid value; the message names the option.
        AttackSpecError: a bad attack spec.
    """
    changes = _resolve_common(options)
    if isinstance(options, CommonOptions):
        check_blend(options.blend, options.feather_px)
        if options.transform not in TRANSFORM_FAMILIES:
            raise TamperscopeError(
                f"unknown transform {options.transform!r}; choose from "
                f"{', '.join(TRANSFORM_FAMILIES)}"
            )
        if options.max_tries < 1:
            raise TamperscopeError("max tries must be at least 1")
        if options.coco_annotations is not None:
            changes["coco_annotations"] = str(Path(options.coco_annotations).expanduser().resolve())
        if options.instance_classes is not None:
            changes["instance_classes"] = tuple(int(c) for c in options.instance_classes)
    if isinstance(options, CopyMoveOptions):
        if options.transform == "raw":
            raise TamperscopeError(
                "copy-move cannot use transform 'raw' (the copy would cover its source)"
            )
        changes["negatives"] = validate_fraction(options.negatives, "negatives fraction")
    if isinstance(options, SpliceOptions) and options.size is not None:
        if len(options.size) != 2 or min(options.size) < 8:
            raise TamperscopeError(
                f"working size must be (width, height) >= 8 pixels, got {options.size}"
            )
        changes["size"] = (int(options.size[0]), int(options.size[1]))
    if isinstance(options, SpliceImageOptions):
        changes.update(_resolve_splice_image(options))
    if isinstance(options, InpaintingOptions):
        if options.mask_type not in MASK_TYPES:
            raise TamperscopeError(
                f"unknown mask type {options.mask_type!r}; choose from {', '.join(MASK_TYPES)}"
            )
        if options.inpainter not in INPAINTER_CHOICES:
            raise TamperscopeError(
                f"unknown inpainter {options.inpainter!r}; "
                f"choose from {', '.join(INPAINTER_CHOICES)}"
            )
        if options.radius < 1:
            raise TamperscopeError(
                f"inpainting radius must be at least 1 pixel, got {options.radius}"
            )
        changes["negatives"] = validate_fraction(options.negatives, "negatives fraction")
    return dataclasses.replace(options, **changes)


def _resolve_splice_image(options: SpliceImageOptions) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "negatives": validate_fraction(options.negatives, "negatives fraction"),
        "colour_match": validate_fraction(options.colour_match, "colour match probability"),
        "host_prior": validate_fraction(options.host_prior, "host prior JPEG probability"),
        "donor_prior": validate_fraction(options.donor_prior, "donor prior JPEG probability"),
        "prior_quality": parse_quality_range(options.prior_quality, "prior JPEG quality"),
        "final_quality": parse_quality_range(options.final_quality, "final JPEG quality"),
        "grid_offsets": bool(options.grid_offsets),
        "use_mattes": bool(options.use_mattes),
    }
    if options.donors is not None:
        changes["donors"] = _resolve_images(options.donors)
    if options.masks_dir is not None:
        changes["masks_dir"] = str(Path(options.masks_dir).expanduser().resolve())
    final = str(options.final_format).lower()
    final = "jpeg" if final == "jpg" else final
    if final not in FINAL_FORMATS:
        raise TamperscopeError(
            f"unknown final format {options.final_format!r}; choose from {', '.join(FINAL_FORMATS)}"
        )
    changes["final_format"] = final
    return changes


def make_options(cls: type, options: Any, overrides: dict[str, Any]) -> Any:
    """``options`` (or ``cls()``) with keyword ``overrides`` applied, validated and resolved.

    Comma-separated strings and lists become tuples for the tuple fields.

    Raises:
        TypeError: ``options`` is not a ``cls``, or an override names no field of ``cls``.
        TamperscopeError: an invalid value (see :func:`resolve_options`).
    """
    base = options if options is not None else cls()
    if not isinstance(base, cls):
        raise TypeError(f"options must be {cls.__name__}, got {type(base).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    for key in ("groups", "attacks", "random_attack_names", "instance_classes"):
        if isinstance(overrides.get(key), str):
            overrides[key] = tuple(s for s in overrides[key].split(",") if s.strip())
        elif isinstance(overrides.get(key), list):
            overrides[key] = tuple(overrides[key])
    return resolve_options(dataclasses.replace(base, **overrides))  # type: ignore[type-var]


def run_config(kind: str, seed: int, n: int, options: Any) -> dict[str, Any]:
    """The record of a generation run that ``config.json`` keeps (resume checks it)."""
    return {
        "kind": kind,
        "seed": int(seed),
        "n": int(n),
        "options": dataclasses.asdict(options),
        "version": __version__,
    }
