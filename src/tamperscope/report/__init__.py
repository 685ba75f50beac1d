"""Reports for people: colour masks, overlays, region summaries, output files, plots."""

from tamperscope.report.masks import colour_mask, overlay, region_summary
from tamperscope.report.writers import shared_region, write_outputs, write_pair_outputs

__all__ = [
    "colour_mask",
    "overlay",
    "region_summary",
    "shared_region",
    "write_outputs",
    "write_pair_outputs",
]
