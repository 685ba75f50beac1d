"""Training-free keypoint copy-move detection (Amerini et al., IEEE TIFS 2011)."""

from tamperscope.models.keypoint.config import KeypointConfig, KeypointInputError
from tamperscope.models.keypoint.detector import (
    KeypointCMFD,
    KeypointResult,
    SourceTargetRule,
    detect_copy_move,
    detect_on_batch,
)

__all__ = [
    "KeypointCMFD",
    "KeypointConfig",
    "KeypointInputError",
    "KeypointResult",
    "SourceTargetRule",
    "detect_copy_move",
    "detect_on_batch",
]
