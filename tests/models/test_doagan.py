"""DOA-GAN (Islam et al., CVPR 2020): what is particular to it; the generic checks are in
``test_models.py``."""

from __future__ import annotations

import json

import pytest
import torch

from tamperscope.models.doagan import DOAGAN
from tamperscope.models.outputs import COPY_MOVE_CLASSES, UNION_CLASSES
from tamperscope.registry import create_model


def _image(rng, batch: int, height: int, width: int) -> torch.Tensor:
    return torch.from_numpy(rng.random((batch, 3, height, width), dtype="float32"))


@pytest.mark.parametrize("name", ["doagan-vgg19", "doagan-effnet-lite0"])
def test_attention_and_backbone_are_trained(name, rng) -> None:
    torch.manual_seed(0)
    model = create_model(name, aspp_channels=16, head_channels=16).train()
    out = model(_image(rng, 2, 72, 56))
    (out.mask_logits.square().mean() + out.score_logit.square().mean()).backward()
    # The attention path learns too, not only the heads.
    assert model.attention.temperature.grad is not None
    assert model.attention.temperature.grad.abs() > 0
    assert model.get_backbone() is model.backbone
    assert any(p.grad.abs().sum() > 0 for p in model.backbone.parameters())


def test_config_holds_constructor_kwargs() -> None:
    model = create_model("doagan-vgg19", num_classes=1, top_k=8, aspp_rates=((1, 2, 3), (4, 5, 6)))
    assert model.config["num_classes"] == 1
    assert model.config["top_k"] == 8
    assert model.config["aspp_rates"] == [[1, 2, 3], [4, 5, 6]]
    assert model.config["pretrained_backbone"] is False
    assert "backbone" not in model.config
    assert json.loads(json.dumps(model.config)) == model.config
    assert model.backbone_name == "vgg19" and model.model_name == "doagan-vgg19"


@pytest.mark.parametrize(("num_classes", "classes"), [(3, COPY_MOVE_CLASSES), (1, UNION_CLASSES)])
def test_classes_follow_num_classes(num_classes, classes) -> None:
    model = DOAGAN(backbone="efficientnet_lite0", num_classes=num_classes)
    assert model.classes == classes and model.num_classes == num_classes
    assert model.union_only == (num_classes == 1)
    torch.testing.assert_close(model.mean, torch.full((1, 3, 1, 1), 0.5))


def test_image_too_small_for_top_k_says_how_to_fix() -> None:
    model = DOAGAN().eval()
    message = r"3x3 stride-8 .* fewer than top_k=20.*upsample the image"
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(1, 3, 24, 24))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_classes": 2}, ValueError, r"num_classes must be 3 .* or 1"),
        ({"aspp_rates": ((6, 12, 18),)}, ValueError, r"two triples"),
        ({"top_k": 0}, ValueError, r"top_k must be >= 1"),
        ({"sigma": 0.0}, ValueError, r"sigma must be > 0"),
        ({"aspp_dropout": 1.0}, ValueError, r"dropout must be in \[0, 1\)"),
        ({"backbone": "resnet"}, KeyError, r"unknown backbone 'resnet'"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        DOAGAN(**kwargs)
