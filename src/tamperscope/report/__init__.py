"""Reports for people: colour masks, overlays, region summaries, plots."""

from tamperscope.report.masks import colour_mask, overlay, region_summary

__all__ = ["colour_mask", "overlay", "region_summary"]
