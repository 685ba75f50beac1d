"""Shipped DMAC weights (files in ``tamperscope/weights/``, model cards beside them)."""

from tamperscope.weights.weights import WeightSpec, register_weights

EFFNET_CE = register_weights(
    WeightSpec(
        model="dmac-effnet-lite0",
        tag="ce1",
        file="dmac_effnet_lite0.safetensors",
        sha256="3dbfe4cf3510b13b0a367a352ce3d39b76f04c6cecd3d9513276211ddb8add8d",
        model_kwargs={
            "aspp_channels": 96,
            "aspp_rates": [6, 12, 18, 24],
            "exclude_zero_shift": False,
            "pretrained_backbone": False,
            "top_t": 6,
        },
        input_long_side=256,
        classes=("not_shared", "shared"),
        config="configs/dmac_effnet_lite0.yaml",
        data="3,600 probe/donor pairs generated from BSDS500 train (2,400) and CamVid train "
        "(1,200) photos in DMAC's thirds (foreground, background, negative), random "
        "post-processing attacks on 30 % of the probes",
        card="dmac_effnet_lite0.md",
    ),
    default=True,
)
