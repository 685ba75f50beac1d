"""DOA-GAN copy-move detection and source/target localization (Islam et al., CVPR 2020)."""

from tamperscope.models.doagan import weights as weights  # noqa: F401
from tamperscope.models.doagan.model import (
    DOAGAN,
    STRIDE,
    DetectionHead,
    doagan_effnet_lite0,
    doagan_vgg19,
)

__all__ = ["DOAGAN", "STRIDE", "DetectionHead", "doagan_effnet_lite0", "doagan_vgg19"]
