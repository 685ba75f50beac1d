"""Generation of single-image splicing sets: a donor photo's region pasted into a host photo.

Sample ``i`` is a function of ``(seed, i)`` and the photo lists, as in
:mod:`tamperscope.synth.generate`: hosts are assigned by index through a seeded permutation,
donors are drawn with the sample's generator (another photo than the host when both come from
the same pool). Unreadable photos are skipped with a warning.

Every sample, forged or authentic, gets the same JPEG history: the host (and the donor) may
carry a prior compression with a grid offset, and the result is saved as JPEG (or PNG) with
a quality drawn from the same range, so that compression is never a cue for the label.
Rendering is in :mod:`tamperscope.synth.splicing`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tamperscope.synth.copy_move import PlacementError
from tamperscope.synth.generate import (
    REGION_TRIES,
    PhotoContext,
    attacks_for,
    blend_record,
    first_fitting_group,
    group_failure,
    open_source,
)
from tamperscope.synth.geometry import bounding_box
from tamperscope.synth.options import SpliceImageOptions, make_options, run_config
from tamperscope.synth.records import attack_sample, image_record
from tamperscope.synth.regions import SourcePhoto, open_region_source
from tamperscope.synth.sampling import AreaGroup, is_negative, sample_group
from tamperscope.synth.splicing import (
    JPEG_BLOCK,
    JpegHistory,
    SpliceImageResult,
    crop_offset,
    encode_jpeg,
    make_splice,
    prior_compression,
    sample_jpeg_history,
)
from tamperscope.synth.writer import GenerationError, GenerationSummary, run_generation

KIND = "splice"


@dataclasses.dataclass(frozen=True)
class _Draws:
    """Draws made before any photo is read, alike for forged and authentic samples."""

    host_jpeg: JpegHistory
    donor_jpeg: JpegHistory
    final_quality: int
    colour_match: bool


def _draws(opts: SpliceImageOptions, rng: np.random.Generator) -> _Draws:
    host = sample_jpeg_history(rng, opts.host_prior, opts.prior_quality, opts.grid_offsets)
    donor = sample_jpeg_history(rng, opts.donor_prior, opts.prior_quality, opts.grid_offsets)
    quality = int(rng.integers(opts.final_quality[0], opts.final_quality[1] + 1))
    colour = bool(rng.random() < opts.colour_match)
    return _Draws(host, donor, quality, colour)


def _host_grid_phase(history: JpegHistory) -> list[int] | None:
    """Where the host's prior 8x8 grid starts in the final image, [row, column] mod 8."""
    if history.quality is None:
        return None
    return [(-history.offset[0]) % JPEG_BLOCK, (-history.offset[1]) % JPEG_BLOCK]


def _donor_grid_phase(
    result: SpliceImageResult, history: JpegHistory, box_x: int, box_y: int
) -> list[int] | None:
    """Where the donor's prior 8x8 grid lies in the final image, [row, column] mod 8; None
    when the donor was not compressed or the region was resampled (the grid is gone).

    A rigid copy moves the donor's box corner ``(box_x, box_y)`` (donor pixels before the
    prior crop, whose grid starts at 0) to ``result.xy``.
    """
    if history.quality is None or not result.transform.is_rigid_copy:
        return None
    return [(result.xy[1] - box_y) % JPEG_BLOCK, (result.xy[0] - box_x) % JPEG_BLOCK]


def generate_splice(
    out: str | Path,
    n: int,
    seed: int = 0,
    options: SpliceImageOptions | None = None,
    *,
    resume: bool = False,
    progress: bool = False,
    on_sample: Callable[[int, dict[str, Any]], None] | None = None,
    **overrides: Any,
) -> GenerationSummary:
    """Generate a single-image splicing set into ``out``.

    Writes ``images/NAME.jpg`` (or ``.png`` with ``final_format="png"``), ``masks/NAME.png``
    (0/255: the pixels the paste changed, as visible after blending and before the final
    compression), ``originals/NAME.png`` (the host after its prior compression, before the
    paste) and one manifest line per sample (``kind: "splice"``, ``mask_kind: "binary"``,
    ``label`` 1 forged / 0 authentic). Negatives are hosts without a paste that go through
    the same prior and final compressions. ``params.grid_phase`` gives, for the host and
    the donor, the [row, column] mod 8 of the final image at which their prior 8x8 JPEG grid
    starts (null without a prior compression, and for a resampled donor region); the final
    grid starts at [0, 0]. Attacks, when asked for, are applied after the
    paste and before the final save, to negatives too.

    Args:
        out: output folder (created; an existing one with the same config is resumed).
        n: number of samples.
        seed: base seed; sample ``i`` uses ``np.random.default_rng([seed, i])``.
        options: :class:`~tamperscope.synth.options.SpliceImageOptions`; keyword
            ``overrides`` replace its fields (e.g. ``images="skimage"``,
            ``final_format="png"``, ``prior_quality="60-95"``).
        resume: require an existing run to continue.
        progress: show a progress bar.
        on_sample: called with (index, manifest record) after each sample.

    Returns:
        :class:`~tamperscope.synth.writer.GenerationSummary`.

    Raises:
        TamperscopeError: invalid options, missing folders, no photos, fewer than two photos
            when hosts and donors share a pool, a config mismatch in ``out``, or a sample that
            no photo can provide.
        TypeError: an unknown option name in ``overrides``.
    """
    opts: SpliceImageOptions = make_options(SpliceImageOptions, options, overrides)
    summary = GenerationSummary(Path(out), n)
    if opts.donors is None:
        donor_source = open_source(opts, images=opts.donors, masks_dir=opts.masks_dir)
        hosts = donors = PhotoContext(donor_source, seed, opts.max_image_tries, summary)
        if len(hosts.order) < 2:
            raise GenerationError("splicing a pool into itself needs at least two photos")
    else:
        host_source = open_region_source(opts.images, "random", max_side=opts.max_side)
        hosts = PhotoContext(host_source, seed, opts.max_image_tries, summary)
        donor_source = open_source(opts, images=opts.donors, masks_dir=opts.masks_dir)
        donors = PhotoContext(donor_source, seed, opts.max_image_tries, summary)
    shared_pool = donors is hosts

    def pick_donor(
        rng: np.random.Generator, host_index: int, host: SourcePhoto
    ) -> SourcePhoto | None:
        if shared_pool:
            other = hosts.other_photo(rng, host_index)
            return None if other is None else other[1]
        start = int(rng.integers(len(donors.order)))
        return next((p for _, p in donors.photos(start) if p.key != host.key), None)

    def splice_into(
        rng: np.random.Generator, group: AreaGroup, host: np.ndarray, donor: SourcePhoto, d: _Draws
    ) -> SpliceImageResult | None:
        donor_image = prior_compression(donor.image, d.donor_jpeg)
        for _ in range(REGION_TRIES):
            region = donors.source.sample_region(donor, rng, group.range)
            if region is None:
                return None
            alpha = donor.alpha_of(region) if opts.use_mattes else None
            region = crop_offset(region, d.donor_jpeg.offset)
            if alpha is not None:
                alpha = crop_offset(alpha, d.donor_jpeg.offset)
            if not region.any():
                continue
            try:
                return make_splice(
                    host,
                    donor_image,
                    region,
                    rng,
                    area_range=group.range,
                    transform=opts.transform,
                    blend=opts.blend,
                    feather_px=opts.feather_px,
                    colour_match=d.colour_match,
                    max_tries=opts.max_tries,
                    alpha=alpha,
                )
            except PlacementError:
                continue
        return None

    def render(index: int) -> tuple[dict[str, np.ndarray | bytes], dict[str, Any]]:
        rng = np.random.default_rng([seed, index])
        d = _draws(opts, rng)
        attacks = attacks_for(opts, rng)
        suffix = "jpg" if opts.final_format == "jpeg" else "png"
        params: dict[str, Any] = {
            "host_jpeg": d.host_jpeg.to_dict(),
            "donor_jpeg": None,
            "grid_phase": {"host": _host_grid_phase(d.host_jpeg), "donor": None},
        }
        donor_key: str | None = None
        if is_negative(index, opts.negatives):
            photo = hosts.first_photo(index)[1]
            original = prior_compression(photo.image, d.host_jpeg)
            image, mask = original, np.zeros(original.shape[:2], np.uint8)
            label, group_name, fraction = 0, None, 0.0
        else:
            drawn = sample_group(rng, opts.groups)

            def attempt(group: AreaGroup) -> tuple[SpliceImageResult, SourcePhoto, str] | None:
                for host_index, host in hosts.photos(index):
                    donor = pick_donor(rng, host_index, host)
                    if donor is None:
                        continue
                    host_image = prior_compression(host.image, d.host_jpeg)
                    made = splice_into(rng, group, host_image, donor, d)
                    if made is not None:
                        return made, host, donor.key
                return None

            found_splice, group = first_fitting_group(rng, drawn, opts.groups, attempt)
            if found_splice is None:
                raise group_failure(index, drawn, hosts, "could be pasted into a host")
            result, photo, donor_key = found_splice
            image, mask, original = result.image, result.mask, result.host
            label, group_name, fraction = 1, group.name, result.area_fraction
            params.update(result.params())
            # in pixels of the donor photo at its working size, before the prior crop
            dy, dx = d.donor_jpeg.offset
            x0, y0, x1, y1 = params["donor_bbox"]
            params["donor_bbox"] = [x0 + dx, y0 + dy, x1 + dx, y1 + dy]
            params["grid_phase"]["donor"] = _donor_grid_phase(
                result, d.donor_jpeg, x0 + dx, y0 + dy
            )
            params["region_source"] = opts.regions
            params["donor_jpeg"] = d.donor_jpeg.to_dict()
            params["blend"] = (
                blend_record(opts)
                if result.blend != "matte"
                else {"mode": "matte", "exact_paste": False}
            )
            if group is not drawn:
                params["group_drawn"] = drawn.name
        image, mask, original = attack_sample(image, mask, original, attacks, rng, params)
        box = bounding_box(mask)
        final_quality = d.final_quality if opts.final_format == "jpeg" else None
        params["final"] = {"format": opts.final_format, "quality": final_quality}
        record: dict[str, Any] = {
            **image_record(index, KIND, seed, suffix),
            "label": label,
            "mask_kind": "binary",
            "bbox": list(box) if label and box is not None else None,
            "source_image": photo.key,
            "donor_image": donor_key,
            "width": int(image.shape[1]),
            "height": int(image.shape[0]),
            "area_fraction": round(fraction, 6),
            "group": group_name,
            "params": params,
        }
        encoded: np.ndarray | bytes = (
            encode_jpeg(image, d.final_quality) if final_quality is not None else image
        )
        files: dict[str, np.ndarray | bytes] = {
            record["image"]: encoded,
            record["mask"]: mask * np.uint8(255),
            record["original"]: original,
        }
        return files, record

    return run_generation(
        out,
        run_config(KIND, seed, n, opts),
        n,
        render,
        resume=resume,
        progress=progress,
        on_sample=on_sample,
        summary=summary,
    )
