"""Files written for one analysed image or pair: JSON report, masks and overlays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tamperscope.io import write_image, write_json
from tamperscope.report.masks import colour_mask, overlay, region_summary
from tamperscope.types import PairReport, Report

__all__ = ["shared_region", "write_outputs", "write_pair_outputs"]


def write_outputs(report: Report, image: np.ndarray, out_dir: str | Path, stem: str) -> Report:
    """Write ``STEM.json``, ``STEM_mask.png`` (red target, green source) and
    ``STEM_overlay.png``.

    The mask is the prediction's class map when the image is judged forged, else all
    pristine; 1-class reports (regions keyed ``forged``) draw the union in one colour.

    Args:
        report: the image's report, with its prediction.
        image: (H, W, 3) uint8 RGB, the analysed image.
        out_dir: destination folder (created when missing).
        stem: file name stem.

    Returns:
        ``report``, with ``report.outputs`` filled in.
    """
    out_dir = Path(out_dir)
    if report.forged and report.prediction is not None:
        class_map = report.prediction.class_map()
    else:
        class_map = np.zeros(image.shape[:2], np.uint8)
    paths = {
        "mask": str(out_dir / f"{stem}_mask.png"),
        "overlay": str(out_dir / f"{stem}_overlay.png"),
        "report": str(out_dir / f"{stem}.json"),
    }
    union_only = "forged" in report.regions
    write_image(paths["mask"], colour_mask(class_map, union_only=union_only))
    write_image(paths["overlay"], overlay(image, class_map, union_only=union_only))
    report.outputs.update(paths)
    write_json(paths["report"], report.to_dict())
    return report


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
