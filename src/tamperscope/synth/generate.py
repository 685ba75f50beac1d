"""Generation of whole synthetic sets: copy-move, splice pairs, inpainting.

Every sample is a function of ``(seed, index)`` and the list of source photos: its generator is
``np.random.default_rng([seed, index])``, and photos are assigned by index through a seeded
permutation (:func:`~tamperscope.synth.regions.image_order`). Unreadable photos are skipped
with a warning and replaced by the next photo of that order, so one bad file changes only the
samples that would have used it. The same seed gives the same bytes.

Output layout and resume behaviour are described in :mod:`tamperscope.synth.writer`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tamperscope.errors import ImageReadError
from tamperscope.synth.attacks import (
    Attack,
    apply_attacks,
    parse_attacks,
    sample_attacks,
)
from tamperscope.synth.copy_move import PlacementError, make_copy_move
from tamperscope.synth.geometry import bounding_box
from tamperscope.synth.inpainting import (
    Inpainter,
    OpenCVInpainter,
    make_inpainting,
    sample_inpainting_mask,
)
from tamperscope.synth.options import (
    CommonOptions,
    CopyMoveOptions,
    InpaintingOptions,
    SpliceOptions,
    make_options,
    run_config,
)
from tamperscope.synth.records import attack_sample, image_record
from tamperscope.synth.regions import (
    RegionSource,
    SourcePhoto,
    area_fraction,
    image_order,
    open_region_source,
)
from tamperscope.synth.sampling import (
    AREA_GROUPS,
    AreaGroup,
    is_negative,
    sample_group,
)
from tamperscope.synth.splice import background_pair, make_splice_pair, negative_pair
from tamperscope.synth.writer import (
    GenerationError,
    GenerationSummary,
    run_generation,
)

logger = logging.getLogger(__name__)

#: Region draws per photo before moving on to the next photo.
REGION_TRIES = 5


class PhotoContext:
    """Photos, their seeded order, a small decode cache and the bad-photo bookkeeping."""

    def __init__(
        self, source: RegionSource, seed: int, max_image_tries: int, summary: GenerationSummary
    ):
        self.source = source
        self.order = image_order(len(source), seed)
        self.max_image_tries = max_image_tries
        self.summary = summary
        self.bad: set[int] = set()
        self._cache: OrderedDict[int, SourcePhoto] = OrderedDict()

    def load(self, index: int) -> SourcePhoto | None:
        if index in self.bad:
            return None
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        try:
            photo = self.source.load(index)
        except ImageReadError as exc:
            self.bad.add(index)
            logger.warning("skipping unreadable source image %s", exc)
            self.summary.bad_images.append(str(exc))
            return None
        self._cache[index] = photo
        if len(self._cache) > 8:
            self._cache.popitem(last=False)
        return photo

    def first_photo(self, index: int) -> tuple[int, SourcePhoto]:
        """The first readable entry of :meth:`photos` for sample ``index``.

        Raises:
            GenerationError: none of the photos tried could be read.
        """
        found = next(self.photos(index), None)
        if found is None:
            raise no_photo_error(index, self)
        return found

    def photos(self, start: int) -> Iterator[tuple[int, SourcePhoto]]:
        """Photos for sample ``start``: entry ``start`` of the order, then the next ones."""
        count = len(self.order)
        for k in range(min(count, self.max_image_tries)):
            index = int(self.order[(start + k) % count])
            photo = self.load(index)
            if photo is not None:
                yield index, photo

    def other_photo(self, rng: np.random.Generator, exclude: int) -> tuple[int, SourcePhoto] | None:
        """A photo other than ``exclude``, drawn with ``rng``."""
        count = len(self.order)
        if count < 2:
            raise GenerationError("splice pairs need at least two source photos")
        offset = 1 + int(rng.integers(count - 1))
        for j in range(min(count - 1, self.max_image_tries)):
            index = (exclude + offset + j) % count
            if index == exclude:
                continue
            photo = self.load(index)
            if photo is not None:
                return index, photo
        return None


def attacks_for(options: Any, rng: np.random.Generator) -> list[Attack]:
    """The fixed attacks of ``options``, or its random ones drawn with ``rng``."""
    if options.attacks:
        return parse_attacks(options.attacks)
    return sample_attacks(rng, options.random_attacks, options.random_attack_names)


def no_photo_error(index: int, ctx: PhotoContext) -> GenerationError:
    """The error of a sample for which no photo could be read."""
    return GenerationError(
        f"sample {index}: none of the {min(len(ctx.order), ctx.max_image_tries)} photos tried "
        f"could be read ({len(ctx.summary.bad_images)} unreadable so far)"
    )


def blend_record(options: CommonOptions) -> dict[str, Any]:
    """The manifest's ``params.blend``: mode, whether pasted pixels are exact, feather."""
    record: dict[str, Any] = {"mode": options.blend, "exact_paste": options.blend == "hard"}
    if options.blend == "feather":
        record["feather_px"] = options.feather_px
    return record


def open_source(
    options: CommonOptions,
    size: tuple[int, int] | None = None,
    *,
    images: str | Path | None = None,
    masks_dir: str | Path | None = None,
) -> RegionSource:
    """The region source the options name (photos of ``images``, or ``options.images``)."""
    return open_region_source(
        images or options.images,
        options.regions,
        labels_suffix=options.labels_suffix,
        instance_classes=options.instance_classes,
        coco_annotations=options.coco_annotations,
        max_side=options.max_side,
        size=size,
        masks_dir=masks_dir,
    )


def _place_region(
    ctx: PhotoContext,
    options: CommonOptions,
    rng: np.random.Generator,
    group: AreaGroup,
    photo: SourcePhoto,
    make: Callable[..., Any],
    *targets: np.ndarray,
    half: bool = False,
) -> Any:
    """Draw up to ``REGION_TRIES`` regions of ``group`` from ``photo`` and return
    ``make(photo.image, region, *targets, rng, area_range=..., transform=..., blend=...,
    feather_px=..., max_tries=...)`` (``make_copy_move`` or ``make_splice_pair``) for the first
    region that can be placed (``make`` raises :class:`PlacementError` otherwise); None when
    the photo has no such region or none could be placed."""
    for _ in range(REGION_TRIES):
        region = ctx.source.sample_region(photo, rng, group.range, half=half)
        if region is None:
            return None
        try:
            return make(
                photo.image,
                region,
                *targets,
                rng,
                area_range=group.range,
                transform=options.transform,
                blend=options.blend,
                feather_px=options.feather_px,
                max_tries=options.max_tries,
            )
        except PlacementError:
            continue
    return None


def first_fitting_group(
    rng: np.random.Generator,
    drawn: AreaGroup,
    groups: tuple[str, ...],
    attempt: Callable[[AreaGroup], Any],
) -> tuple[Any, AreaGroup]:
    """``attempt(drawn)``, then, while it gives None, the other requested groups in a random
    order. Label maps may hold few regions of some groups (e.g. CamVid objects over 10 % of
    the frame); the sample is given up only when no group fits.

    Returns:
        ``(result, group)``: the first result that is not None and its group, or
        ``(None, drawn)``.
    """
    result = attempt(drawn)
    if result is not None:
        return result, drawn
    others = [g for g in groups if g != drawn.name]
    for k in rng.permutation(len(others)):
        group = AREA_GROUPS[others[int(k)]]
        result = attempt(group)
        if result is not None:
            return result, group
    return None, drawn


def group_failure(index: int, group: AreaGroup, ctx: PhotoContext, what: str) -> GenerationError:
    """The error of a sample for which no photo has a region of ``group``."""
    return GenerationError(
        f"sample {index}: no {group.name} region ({group.low:.0%}-{group.high:.0%} of the image) "
        f"{what} in the {min(len(ctx.order), ctx.max_image_tries)} photos tried"
    )


def generate_copy_move(
    out: str | Path,
    n: int,
    seed: int = 0,
    options: CopyMoveOptions | None = None,
    *,
    resume: bool = False,
    progress: bool = False,
    on_sample: Callable[[int, dict[str, Any]], None] | None = None,
    **overrides: Any,
) -> GenerationSummary:
    """Generate a copy-move set into ``out``.

    Writes ``images/NAME.png`` (forged), ``masks/NAME.png`` (uint8 in {0 pristine, 1 source,
    2 target}), ``originals/NAME.png`` and one manifest line per sample. Source and target
    areas both lie in the sample's group; the copy never overlaps its source (random shapes
    are drawn inside one half of the photo so that such a copy exists). Attacks are
    applied to the forged image (and to negatives, so that post-processing is no cue for the
    label); ``resize`` resizes the mask (nearest) and the saved original along. Boxes in
    ``params`` are in pre-attack pixel coordinates.

    Args:
        out: output folder (created; an existing one with the same config is resumed).
        n: number of samples.
        seed: base seed; sample ``i`` uses ``np.random.default_rng([seed, i])``.
        options: :class:`CopyMoveOptions`; keyword ``overrides`` replace its fields
            (e.g. ``images="skimage"``, ``groups="Difficult,Normal"``).
        resume: require an existing run to continue.
        progress: show a progress bar.
        on_sample: called with (index, manifest record) after each sample.

    Returns:
        :class:`~tamperscope.synth.writer.GenerationSummary`.

    Raises:
        TamperscopeError: invalid options, missing folders, no photos, a config mismatch in
            ``out``, or a sample that no photo can provide.
        TypeError: an unknown option name in ``overrides``.
    """
    opts: CopyMoveOptions = make_options(CopyMoveOptions, options, overrides)
    summary = GenerationSummary(Path(out), n)
    ctx = PhotoContext(open_source(opts), seed, opts.max_image_tries, summary)

    def render(index: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        rng = np.random.default_rng([seed, index])
        attacks = attacks_for(opts, rng)
        record = image_record(index, "copy-move", seed)
        params: dict[str, Any]
        if is_negative(index, opts.negatives):
            photo = ctx.first_photo(index)[1]
            forged, original = photo.image, photo.image
            mask = np.zeros(photo.image.shape[:2], np.uint8)
            label, group_name, fraction, params = 0, None, 0.0, {}
        else:
            drawn = sample_group(rng, opts.groups)

            def attempt(group: AreaGroup) -> tuple[Any, SourcePhoto] | None:
                for _, photo in ctx.photos(index):
                    made = _place_region(ctx, opts, rng, group, photo, make_copy_move, half=True)
                    if made is not None:
                        return made, photo
                return None

            # The manifest records the group drawn first when another one had to be used.
            found, group = first_fitting_group(rng, drawn, opts.groups, attempt)
            if found is None:
                raise group_failure(index, drawn, ctx, "could be copied without overlap")
            result, photo = found
            forged, original, mask = result.image, result.original, result.mask
            label, group_name = 1, group.name
            fraction = result.source_area_fraction
            params = result.params()
            params["blend"] = blend_record(opts)
            if group is not drawn:
                params["group_drawn"] = drawn.name
        forged, mask, original = attack_sample(forged, mask, original, attacks, rng, params)
        record.update(
            label=label,
            mask_kind="three_class",
            source_image=photo.key,
            width=int(forged.shape[1]),
            height=int(forged.shape[0]),
            area_fraction=round(fraction, 6),
            group=group_name,
            params=params,
        )
        files = {record["image"]: forged, record["mask"]: mask, record["original"]: original}
        return files, record

    return run_generation(
        out,
        run_config("copy-move", seed, n, opts),
        n,
        render,
        resume=resume,
        progress=progress,
        on_sample=on_sample,
        summary=summary,
    )


def generate_splice_pairs(
    out: str | Path,
    n: int,
    seed: int = 0,
    options: SpliceOptions | None = None,
    *,
    resume: bool = False,
    progress: bool = False,
    on_sample: Callable[[int, dict[str, Any]], None] | None = None,
    **overrides: Any,
) -> GenerationSummary:
    """Generate probe/donor pairs in DMAC's thirds into ``out``.

    Sample ``i`` is a foreground pair when ``i % 3 == 0``, the background pair of the same
    forgery when ``i % 3 == 1``, and a negative pair when ``i % 3 == 2``. Foreground and
    background pairs of a triple share one forgery, rendered from
    ``np.random.default_rng([seed, 3 * (i // 3)])``; negatives use ``[seed, i]``. Masks are
    written as 0/255; attacks touch the probe only (``resize`` resizes the probe mask along).

    Writes ``probes/``, ``donors/``, ``probe_masks/``, ``donor_masks/`` and the manifest.

    Args:
        out: output folder.
        n: number of pairs.
        seed: base seed.
        options: :class:`SpliceOptions`; keyword ``overrides`` replace its fields (e.g.
            ``transform="rotation"``, ``size=(320, 320)``).
        resume, progress, on_sample: as :func:`generate_copy_move`.

    Returns:
        :class:`~tamperscope.synth.writer.GenerationSummary`.

    Raises:
        TamperscopeError: as :func:`generate_copy_move`; fewer than two source photos.
    """
    opts: SpliceOptions = make_options(SpliceOptions, options, overrides)
    summary = GenerationSummary(Path(out), n)
    ctx = PhotoContext(open_source(opts, opts.size), seed, opts.max_image_tries, summary)
    if len(ctx.order) < 2:
        raise GenerationError("splice pairs need at least two source photos")

    def render(index: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        triple, role = divmod(index, 3)
        name = f"{index:06d}"
        record: dict[str, Any] = {
            "index": index,
            "name": name,
            "kind": "splice-pair",
            "seed": seed,
            "probe": f"probes/{name}.png",
            "donor": f"donors/{name}.png",
            "probe_mask": f"probe_masks/{name}.png",
            "donor_mask": f"donor_masks/{name}.png",
        }
        params: dict[str, Any] = {}
        if role == 2:
            rng = np.random.default_rng([seed, index])
            attacks = attacks_for(opts, rng)
            first = ctx.first_photo(index)
            other = ctx.other_photo(rng, first[0])
            if other is None:
                raise no_photo_error(index, ctx)
            pair = negative_pair(other[1].image, first[1].image)
            donor_key, probe_key = first[1].key, other[1].key
            group_name, transform = None, None
        else:
            forge_index = 3 * triple
            rng = np.random.default_rng([seed, forge_index])
            attacks = attacks_for(opts, rng)
            drawn = sample_group(rng, opts.groups)

            def attempt(group: AreaGroup) -> tuple[Any, str, str] | None:
                for donor_index, donor in ctx.photos(forge_index):
                    other = ctx.other_photo(rng, donor_index)
                    if other is None:
                        continue
                    made = _place_region(
                        ctx, opts, rng, group, donor, make_splice_pair, other[1].image
                    )
                    if made is not None:
                        return made, donor.key, other[1].key
                return None

            found, group = first_fitting_group(rng, drawn, opts.groups, attempt)
            if found is None:
                raise group_failure(
                    index, drawn, ctx, f"fits a probe under transform {opts.transform}"
                )
            result, donor_key, probe_key = found
            if role == 0:
                pair = result.foreground_pair()
            else:
                pair = background_pair(result)
                donor_key = probe_key
            group_name, transform = group.name, opts.transform
            params = result.params()
            params["blend"] = blend_record(opts)
            if group is not drawn:
                params["group_drawn"] = drawn.name
            record["forgery_index"] = forge_index
        probe, (probe_mask,) = apply_attacks(pair.probe, attacks, rng, masks=[pair.probe_mask])
        params["attacks"] = [a.spec for a in attacks]
        record.update(
            label=pair.label,
            pair_type=pair.pair_type,
            group=group_name,
            transform=transform,
            probe_source=probe_key,
            donor_source=donor_key,
            params=params,
        )
        files = {
            record["probe"]: probe,
            record["donor"]: pair.donor,
            record["probe_mask"]: probe_mask * np.uint8(255),
            record["donor_mask"]: pair.donor_mask * np.uint8(255),
        }
        return files, record

    return run_generation(
        out,
        run_config("splice-pair", seed, n, opts),
        n,
        render,
        resume=resume,
        progress=progress,
        on_sample=on_sample,
        summary=summary,
    )


def generate_inpainting(
    out: str | Path,
    n: int,
    seed: int = 0,
    options: InpaintingOptions | None = None,
    *,
    custom_inpainter: Inpainter | None = None,
    resume: bool = False,
    progress: bool = False,
    on_sample: Callable[[int, dict[str, Any]], None] | None = None,
    **overrides: Any,
) -> GenerationSummary:
    """Generate an inpainting set into ``out``.

    Writes ``images/NAME.png`` (inpainted), ``masks/NAME.png`` (0/255), ``originals/NAME.png``
    and one manifest line per sample with the mask's ``bbox`` ``[xmin, ymin, xmax, ymax]`` in
    pixels of the written image (min inclusive, max exclusive), or null for negatives
    (untouched photos, label 0; attacks apply to them too).

    Args:
        out: output folder.
        n: number of samples.
        seed: base seed.
        options: :class:`InpaintingOptions`; keyword ``overrides`` replace its fields.
        custom_inpainter: an :class:`~tamperscope.synth.inpainting.Inpainter` used instead of
            ``options.inpainter`` (its ``name`` is recorded in the config).
        resume, progress, on_sample: as :func:`generate_copy_move`.

    Returns:
        :class:`~tamperscope.synth.writer.GenerationSummary`.

    Raises:
        TamperscopeError: as :func:`generate_copy_move`.
    """
    opts: InpaintingOptions = make_options(InpaintingOptions, options, overrides)
    summary = GenerationSummary(Path(out), n)
    source = open_region_source(opts.images, "random", max_side=opts.max_side)
    ctx = PhotoContext(source, seed, opts.max_image_tries, summary)
    if custom_inpainter is not None:
        inpainters = [custom_inpainter]
    elif opts.inpainter == "both":
        inpainters = [OpenCVInpainter("telea", opts.radius), OpenCVInpainter("ns", opts.radius)]
    else:
        inpainters = [OpenCVInpainter(opts.inpainter, opts.radius)]
    config = run_config("inpainting", seed, n, opts)
    if custom_inpainter is not None:
        config["options"]["inpainter"] = custom_inpainter.name

    def render(index: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        rng = np.random.default_rng([seed, index])
        attacks = attacks_for(opts, rng)
        photo = ctx.first_photo(index)[1]
        params: dict[str, Any] = {}
        if is_negative(index, opts.negatives):
            image, original = photo.image, photo.image
            mask = np.zeros(photo.image.shape[:2], np.uint8)
            label, group_name, used, fraction = 0, None, None, 0.0
        else:
            group = sample_group(rng, opts.groups)
            mask, mask_kind = sample_inpainting_mask(
                rng, photo.image.shape[:2], group.range, opts.mask_type
            )
            chosen = inpainters[int(rng.integers(len(inpainters)))]
            result = make_inpainting(photo.image, mask, chosen)
            image, original, mask = result.image, result.original, result.mask
            label, group_name, used = 1, group.name, chosen.name
            fraction = area_fraction(mask)
            params = {"mask_type": mask_kind, "radius": opts.radius}
        image, mask, original = attack_sample(image, mask, original, attacks, rng, params)
        box = bounding_box(mask) if label else None
        record: dict[str, Any] = {
            **image_record(index, "inpainting", seed),
            "label": label,
            "mask_kind": "binary",
            "bbox": list(box) if box is not None else None,
            "inpainter": used,
            "source_image": photo.key,
            "width": int(image.shape[1]),
            "height": int(image.shape[0]),
            "area_fraction": round(fraction, 6),
            "group": group_name,
            "params": params,
        }
        files = {
            record["image"]: image,
            record["mask"]: mask * np.uint8(255),
            record["original"]: original,
        }
        return files, record

    return run_generation(
        out,
        config,
        n,
        render,
        resume=resume,
        progress=progress,
        on_sample=on_sample,
        summary=summary,
    )
