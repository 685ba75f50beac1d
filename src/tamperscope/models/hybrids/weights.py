"""Shipped weights of the hybrid models: their parts' specs, no files of their own."""

from tamperscope.models.doagan.weights import EFFNET_STAGE2_DATA, STAGE2
from tamperscope.weights.weights import WeightSpec, register_weights

KEYPOINT_DOAGAN = register_weights(
    WeightSpec(
        model="keypoint-doagan",
        tag="stage2",
        file="",
        sha256="",
        model_kwargs={"doagan_long_side": 256},
        input_long_side=None,
        classes=("pristine", "source", "target"),
        config=STAGE2.config,
        data="none for the keypoint part (training-free); DOA-GAN part: " + EFFNET_STAGE2_DATA,
        card="keypoint_doagan.md",
        parts={"doagan": STAGE2.name},
    ),
    default=True,
)
