"""Shipped DOA-GAN weights (files in ``tamperscope/weights/``, model cards beside them)."""

from tamperscope.weights.weights import WeightSpec, register_weights

#: Constructor kwargs of the shipped DOA-GAN (EfficientNet-Lite0) weights.
EFFNET_KWARGS: dict = {
    "aspp_channels": 128,
    "aspp_dropout": 0.5,
    "aspp_rates": [[12, 24, 36], [6, 12, 24]],
    "head_channels": 128,
    "num_classes": 3,
    "pretrained_backbone": False,
    "sigma": 0.05,
    "temperature": 5.0,
    "top_k": 20,
}

#: What the stage-2 weights were trained on.
EFFNET_STAGE2_DATA = (
    "5,200 copy-moves generated from BSDS500 train (3,200, regions of 1-25 % of the image) and "
    "CamVid train (2,000, 1-10 %) photos, hard-pasted, feathered and Poisson-blended, 30 % "
    "pristine negatives, random post-processing attacks"
)

STAGE1 = register_weights(
    WeightSpec(
        model="doagan-effnet-lite0",
        tag="stage1",
        file="doagan_effnet_lite0_stage1.safetensors",
        sha256="4de13579d8dea506a17d04cfba559d9eb73fb559cc1e483b6d4dd914a05925c5",
        model_kwargs=EFFNET_KWARGS,
        input_long_side=256,
        classes=("pristine", "source", "target"),
        config="configs/doagan_effnet_lite0.yaml",
        data="2,800 copy-moves generated from BSDS500 train (1,600, regions of 1-25 % of the "
        "image) and CamVid train (1,200, 1-10 %) photos, 30 % pristine negatives, random "
        "post-processing attacks",
        card="doagan_effnet_lite0.md",
    )
)

STAGE2 = register_weights(
    WeightSpec(
        model="doagan-effnet-lite0",
        tag="stage2",
        file="doagan_effnet_lite0.safetensors",
        sha256="d2f660fb9f4bca0fa584e7ee4a7da974bcabf24ba17ff759872b25e327751e50",
        model_kwargs=EFFNET_KWARGS,
        input_long_side=256,
        classes=("pristine", "source", "target"),
        config="configs/doagan_effnet_lite0_blend.yaml",
        data=EFFNET_STAGE2_DATA,
        card="doagan_effnet_lite0.md",
    ),
    default=True,
)
