"""MVSS-Net style generic manipulation localization (Chen et al., ICCV 2021; Dong et al.,
IEEE TPAMI 2023): RGB and BayarConv noise streams, PPM detection and FPN localization heads,
optional edge-supervised branch."""

from tamperscope.models.mvss.model import (
    BACKBONE_DEFAULTS,
    MVSS,
    EdgeBranch,
    EdgeResidualBlock,
    EfficientNetLite0Stages,
    ResNet50Stages,
    SobelLayer,
    mvss_effnet_lite0,
    mvss_resnet50,
)

__all__ = [
    "BACKBONE_DEFAULTS",
    "MVSS",
    "EdgeBranch",
    "EdgeResidualBlock",
    "EfficientNetLite0Stages",
    "ResNet50Stages",
    "SobelLayer",
    "mvss_effnet_lite0",
    "mvss_resnet50",
]
