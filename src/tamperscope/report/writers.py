"""Files written for one analysed image or pair: JSON report, masks and overlays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tamperscope.io import atomic_open, write_image, write_json
from tamperscope.report.masks import colour_mask, overlay, region_summary
from tamperscope.types import SOURCE, TARGET, DetectorResult, PairReport, Report

__all__ = ["MAP_FORMATS", "shared_region", "write_outputs", "write_pair_outputs"]


#: Formats of the probability maps ``write_outputs`` can add (``save_maps``).
MAP_FORMATS = ("png", "npy")


def write_outputs(
    report: Report,
    image: np.ndarray,
    out_dir: str | Path,
    stem: str,
    *,
    save_maps: str | None = None,
) -> Report:
    """Write ``STEM.json``, ``STEM_mask.png`` and ``STEM_overlay.png``, and on request each
    detector's probability maps.

    The mask is the report's class map (black pristine, red copy-move target, green copy-move
    source, white any other manipulated region), all black when the image is judged authentic.

    Args:
        report: the image's report, with its class map and its detectors' predictions.
        image: (H, W, 3) uint8 RGB, the analysed image.
        out_dir: destination folder (created when missing).
        stem: file name stem.
        save_maps: ``"png"`` (8-bit grey, probability x 255) or ``"npy"`` ((H, W) float32 in
            [0, 1]) to also write ``STEM_map_DETECTOR[_CLASS].EXT`` per detector (classes
            ``source`` and ``target`` for 3-class copy-move maps); ``None`` for no maps.

    Returns:
        ``report``, with ``report.outputs`` filled in.

    Raises:
        ValueError: an unknown ``save_maps`` format.
    """
    if save_maps is not None and save_maps not in MAP_FORMATS:
        raise ValueError(f"save_maps must be one of {MAP_FORMATS} or None, got {save_maps!r}")
    out_dir = Path(out_dir)
    class_map = report.class_map
    if class_map is None or not report.forged:
        class_map = np.zeros(image.shape[:2], np.uint8)
    paths = {
        "mask": str(out_dir / f"{stem}_mask.png"),
        "overlay": str(out_dir / f"{stem}_overlay.png"),
        "report": str(out_dir / f"{stem}.json"),
    }
    write_image(paths["mask"], colour_mask(class_map))
    write_image(paths["overlay"], overlay(image, class_map))
    if save_maps is not None:
        for result in report.detectors:
            for suffix, prob in _maps(result):
                key = f"map_{result.name}{suffix}"
                path = out_dir / f"{stem}_{key}.{save_maps}"
                if save_maps == "png":
                    write_image(path, np.round(prob * 255.0).astype(np.uint8))
                else:
                    with atomic_open(path) as f:
                        np.save(f, prob.astype(np.float32))
                paths[key] = str(path)
    report.outputs.update(paths)
    write_json(paths["report"], report.to_dict())
    return report


def _maps(result: DetectorResult) -> list[tuple[str, np.ndarray]]:
    """(file suffix, (H, W) float map in [0, 1]) of a detector's probability maps."""
    if result.prediction is None:
        return []
    probs = result.prediction.probabilities
    if probs.shape[0] == 3:
        return [("_source", probs[SOURCE]), ("_target", probs[TARGET])]
    return [("", probs[0])]


def shared_region(prob: np.ndarray, correlated: bool) -> tuple[np.ndarray, dict]:
    """The shared-region mask of one image of a pair and its region summary.

    Args:
        prob: (H, W) float in [0, 1], probability of the shared region.
        correlated: the pair's verdict; a pair judged not correlated has no region.

    Returns:
        ``(mask, region)``: (H, W) bool, ``prob > 0.5`` when correlated (else all False),
        and :func:`~tamperscope.report.masks.region_summary`'s ``forged`` entry (area,
        bounding box, ...), ``{}`` when not correlated.
    """
    mask = (prob > 0.5) if correlated else np.zeros(prob.shape, bool)
    if not correlated:
        return mask, {}
    return mask, region_summary(mask.astype(np.uint8), union_only=True)["forged"]


def write_pair_outputs(
    report: PairReport, probe: np.ndarray, donor: np.ndarray, out_dir: str | Path, stem: str
) -> PairReport:
    """Write ``STEM.json``, ``STEM_{probe,donor}_mask.png`` (white = shared region) and
    ``STEM_{probe,donor}_overlay.png`` (shared region in yellow).

    Args:
        report: the pair's report, with its probability maps.
        probe, donor: (H, W, 3) uint8 RGB images the maps belong to.
        out_dir: destination folder (created when missing).
        stem: file name stem.

    Returns:
        ``report``, with ``report.outputs`` filled in.

    Raises:
        ValueError: the report holds no probability maps.
    """
    out_dir = Path(out_dir)
    paths = {"report": str(out_dir / f"{stem}.json")}
    for role, image, prob in (
        ("probe", probe, report.probe_probability),
        ("donor", donor, report.donor_probability),
    ):
        if prob is None:
            raise ValueError(f"the pair report has no {role} probability map to draw")
        mask, _ = shared_region(prob, report.correlated)
        paths[f"{role}_mask"] = str(out_dir / f"{stem}_{role}_mask.png")
        paths[f"{role}_overlay"] = str(out_dir / f"{stem}_{role}_overlay.png")
        write_image(paths[f"{role}_mask"], mask.astype(np.uint8) * 255)
        blended = overlay(image, mask.astype(np.uint8), union_only=True)
        write_image(paths[f"{role}_overlay"], blended)
    report.outputs.update(paths)
    write_json(paths["report"], report.to_dict())
    return report
