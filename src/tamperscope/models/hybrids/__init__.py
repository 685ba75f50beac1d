"""Models built from other registered models (their weights fill the parts)."""

from tamperscope.models.hybrids import weights as weights  # noqa: F401
from tamperscope.models.hybrids.keypoint_doagan import (
    DOAGAN_PART,
    KeypointDOAGAN,
    source_probability_from_map,
)

__all__ = ["DOAGAN_PART", "KeypointDOAGAN", "source_probability_from_map"]
