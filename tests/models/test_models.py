"""Generic tests run on every registered DOA-GAN model: shapes, gradients, determinism, I/O."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from tamperscope.models.doagan import DOAGAN
from tamperscope.models.outputs import CopyMoveOutput
from tamperscope.registry import create_model, list_models

MODELS = [name for name in list_models() if name.startswith("doagan")]


def _build(name: str, seed: int = 0, **kwargs) -> DOAGAN:
    if "effnet" in name and importlib.util.find_spec("timm") is None:
        pytest.skip("the EfficientNet-Lite0 backbone needs timm, which is not installed")
    torch.manual_seed(seed)
    return create_model(name, **kwargs)


def _image(rng, batch: int, height: int, width: int) -> torch.Tensor:
    return torch.from_numpy(rng.random((batch, 3, height, width), dtype="float32"))


def test_both_doagan_models_are_registered() -> None:
    assert {"doagan-vgg19", "doagan-effnet-lite0"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(("size", "num_classes"), [((64, 64), 3), ((72, 56), 3), ((67, 93), 1)])
def test_output_shapes(name, size, num_classes, rng) -> None:
    model = _build(name, num_classes=num_classes).eval()
    height, width = size
    with torch.no_grad():
        out = model(_image(rng, 2, height, width))
    assert isinstance(out, CopyMoveOutput)
    assert out.mask_logits.shape == (2, num_classes, height, width)
    assert out.score_logit.shape == (2,)
    assert out.mask_logits.dtype == torch.float32
    assert torch.isfinite(out.mask_logits).all() and torch.isfinite(out.score_logit).all()


@pytest.mark.parametrize("name", MODELS)
def test_backward_gives_finite_gradients(name, rng) -> None:
    model = _build(name).train()
    out = model(_image(rng, 2, 72, 56))
    loss = out.mask_logits.square().mean() + out.score_logit.square().mean()
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert all(g is not None for g in grads.values()), [n for n, g in grads.items() if g is None]
    assert all(torch.isfinite(g).all() for g in grads.values())
    # The attention path is trained too, not only the heads.
    assert model.attention.temperature.grad is not None
    assert model.attention.temperature.grad.abs() > 0
    assert any(g.abs().sum() > 0 for n, g in grads.items() if n.startswith("backbone."))


@pytest.mark.parametrize("name", MODELS)
def test_eval_is_deterministic(name, rng) -> None:
    model = _build(name).eval()
    image = _image(rng, 2, 64, 64)
    with torch.no_grad():
        first, second = model(image), model(image)
    torch.testing.assert_close(first.mask_logits, second.mask_logits, rtol=0, atol=0)
    torch.testing.assert_close(first.score_logit, second.score_logit, rtol=0, atol=0)


@pytest.mark.parametrize("name", MODELS)
def test_safetensors_round_trip_rebuilds_from_config(name, rng, tmp_path) -> None:
    model = _build(name, seed=1, num_classes=1, top_k=12, sigma=0.1).eval()
    path = tmp_path / "model.safetensors"
    save_file(
        model.state_dict(),
        str(path),
        metadata={"model": model.model_name, "config": json.dumps(model.config)},
    )
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["model"] == name
    config = json.loads(meta["config"])
    assert config["num_classes"] == 1 and config["top_k"] == 12

    rebuilt = _build(meta["model"], seed=2, **config).eval()
    image = _image(rng, 2, 72, 56)
    with torch.no_grad():
        before = rebuilt(image).mask_logits
    rebuilt.load_state_dict(load_file(str(path)), strict=True)
    with torch.no_grad():
        expected, got = model(image), rebuilt(image)
    assert not torch.allclose(before, expected.mask_logits)  # the load changed something
    torch.testing.assert_close(got.mask_logits, expected.mask_logits)
    torch.testing.assert_close(got.score_logit, expected.score_logit)


def test_config_holds_constructor_kwargs() -> None:
    model = _build("doagan-vgg19", num_classes=1, top_k=8, aspp_rates=((1, 2, 3), (4, 5, 6)))
    assert model.config["num_classes"] == 1
    assert model.config["top_k"] == 8
    assert model.config["aspp_rates"] == [[1, 2, 3], [4, 5, 6]]
    assert model.config["pretrained_backbone"] is False
    assert json.loads(json.dumps(model.config)) == model.config
    assert model.backbone_name == "vgg19"


@pytest.mark.parametrize(
    ("shape", "dtype", "match"),
    [
        ((3, 64, 64), torch.float32, r"add the batch axis"),
        ((1, 1, 64, 64), torch.float32, r"\(B, 3, H, W\).*convert to RGB"),
        ((1, 3, 64, 64), torch.uint8, r"image.float\(\) / 255"),
        ((1, 3, 24, 24), torch.float32, r"fewer than top_k=20.*upsample the image"),
    ],
)
def test_bad_input_messages(shape, dtype, match) -> None:
    model = _build("doagan-vgg19").eval()
    with pytest.raises(ValueError, match=match):
        model(torch.zeros(shape, dtype=dtype))


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
