"""DMAC: constrained splicing detection and localization on probe/donor pairs.

Liu, Zhu, Zhao, Cao, "Adversarial Learning for Constrained Image Splicing Detection and
Localization based on Atrous Convolution", IEEE TIFS 2019.
"""

from tamperscope.models.dmac import weights as weights  # noqa: F401
from tamperscope.models.dmac.model import (
    DMAC,
    STRIDE,
    MaskDiscriminator,
    PairDetectionNet,
    SumASPP,
    dmac_effnet_lite0,
    dmac_vgg16,
    masked_pooled_image,
)

__all__ = [
    "DMAC",
    "STRIDE",
    "MaskDiscriminator",
    "PairDetectionNet",
    "SumASPP",
    "dmac_effnet_lite0",
    "dmac_vgg16",
    "masked_pooled_image",
]
