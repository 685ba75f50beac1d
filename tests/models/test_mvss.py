"""MVSS family: the Bayar constraint, PPM and FPN shapes, the noise stream and the edge branch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tamperscope.models.layers.bayar import BayarConv2d
from tamperscope.models.layers.fpn import FPNDecoder
from tamperscope.models.layers.ppm import PyramidPooling
from tamperscope.models.mvss import MVSS
from tamperscope.models.outputs import LOCALIZATION_CLASSES
from tamperscope.registry import Task, create_model, model_info

SMALL = {"fpn_channels": 16, "ppm_channels": 16, "edge_channels": 8}


def _image(batch: int = 2, height: int = 64, width: int = 64, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.random((batch, 3, height, width), dtype=np.float32))


def _assert_constrained(layer: BayarConv2d) -> None:
    c = layer.centre
    w = layer.weight.detach()
    assert torch.equal(w[:, :, c, c], torch.full_like(w[:, :, c, c], -1.0))
    off_centre = w.sum(dim=(2, 3)) - w[:, :, c, c]
    torch.testing.assert_close(off_centre, torch.ones_like(off_centre))
    # Every kernel sums to zero: a flat image gives no response.
    out = layer(torch.full((1, layer.in_channels, 9, 9), 0.7))
    torch.testing.assert_close(out[..., 2:-2, 2:-2], torch.zeros_like(out[..., 2:-2, 2:-2]))


# ----------------------------------------------------------------------------- BayarConv2d


def test_bayar_constraint_at_construction() -> None:
    torch.manual_seed(0)
    layer = BayarConv2d(3, 4, 5)
    assert layer.weight.shape == (4, 3, 5, 5) and layer.centre == 2
    _assert_constrained(layer)
    assert layer(_image()).shape == (2, 4, 64, 64)


def test_bayar_constraint_after_an_optimizer_step() -> None:
    torch.manual_seed(0)
    layer = BayarConv2d(3, 3, 5)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1)
    loss = layer(_image()).square().mean()
    loss.backward()
    optimizer.step()
    c = layer.centre
    assert not torch.equal(layer.weight[:, :, c, c], torch.full((3, 3), -1.0))  # step broke it
    layer.constrain()
    _assert_constrained(layer)
    assert layer.weight.grad is not None  # constrain() leaves autograd state alone


def test_bayar_constraint_survives_a_zero_sum_kernel() -> None:
    layer = BayarConv2d(1, 1, 3)
    with torch.no_grad():
        layer.weight.zero_()
    layer.constrain()
    assert torch.isfinite(layer.weight).all()
    assert float(layer.weight.detach()[0, 0, 1, 1]) == -1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kernel_size": 4}, "odd and >= 3"),
        ({"kernel_size": 1}, "odd"),
        ({"in_channels": 0}, "at least one input"),
    ],
)
def test_bayar_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BayarConv2d(**kwargs)


# ----------------------------------------------------------------------------- PPM, FPN


@pytest.mark.parametrize("size", [(8, 8), (5, 7), (1, 1)])
def test_pyramid_pooling_keeps_the_grid(size: tuple[int, int]) -> None:
    ppm = PyramidPooling(32, 24, bins=(1, 2, 3, 6)).eval()
    out = ppm(torch.randn(2, 32, *size))
    assert out.shape == (2, 24, *size) and (out >= 0).all()
    assert len(ppm.branches) == 4


def test_pyramid_pooling_trains_with_one_image() -> None:
    PyramidPooling(8, 8).train()(torch.randn(1, 8, 4, 4)).sum().backward()


def test_pyramid_pooling_errors() -> None:
    with pytest.raises(ValueError, match="positive bin sizes"):
        PyramidPooling(8, 8, bins=())


def test_fpn_decodes_on_the_finest_grid() -> None:
    fpn = FPNDecoder([8, 16, 32], channels=12).eval()
    levels = [torch.randn(2, 8, 17, 24), torch.randn(2, 16, 9, 12), torch.randn(2, 32, 5, 6)]
    out = fpn(levels)
    assert out.shape == (2, 12, 17, 24)
    # The coarsest level reaches the output (top-down pathway).
    changed = fpn([levels[0], levels[1], levels[2] + 1.0])
    assert not torch.allclose(out, changed)
    with pytest.raises(ValueError, match="built for 3 levels, got 2"):
        fpn(levels[:2])
    with pytest.raises(ValueError, match="at least one"):
        FPNDecoder([])


# ----------------------------------------------------------------------------- MVSS


def test_registered_variants() -> None:
    for name in ("mvss-resnet50", "mvss-effnet-lite0"):
        assert model_info(name).task is Task.LOCALIZATION and model_info(name).trainable
    model = create_model("mvss-effnet-lite0", **SMALL)
    assert isinstance(model, MVSS) and model.model_name == "mvss-effnet-lite0"
    assert model.classes == LOCALIZATION_CLASSES == ("manipulated",)
    assert model.analysis_long_side == 512 and model.output_stride == 1
    assert model.config["num_stages"] == 4 and not model.config["edge_branch"]
    assert set(model.get_backbone()) == {"rgb", "noise"}
    assert [type(m) for m in model.bayar_layers()] == [BayarConv2d]
    _assert_constrained(model.bayar_layers()[0])
    resnet = create_model("mvss-resnet50", num_stages=2, fpn_channels=8, ppm_channels=8)
    assert resnet.model_name == "mvss-resnet50"
    assert resnet.get_backbone()["rgb"].out_channels == (256, 512)
    assert resnet.config["fpn_channels"] == 8


def test_edge_branch_on_and_off() -> None:
    torch.manual_seed(0)
    off = create_model("mvss-effnet-lite0", num_stages=3, **SMALL).eval()
    torch.manual_seed(0)
    on = create_model("mvss-effnet-lite0", num_stages=3, edge_branch=True, **SMALL).eval()
    image = _image(2, 67, 93)
    with torch.no_grad():
        out_off, out_on = off(image), on(image)
    assert out_off.edge_logits is None
    assert out_on.edge_logits is not None and out_on.edge_logits.shape == (2, 1, 67, 93)
    assert out_on.mask_logits.shape == out_off.mask_logits.shape == (2, 1, 67, 93)
    assert torch.isfinite(out_on.edge_logits).all()
    # The edge branch only adds parameters; the rest of the network is the same.
    names_off = set(off.state_dict())
    extra = set(on.state_dict()) - names_off
    assert extra and all(k.startswith("edge.") for k in extra)
    assert names_off <= set(on.state_dict())


def test_noise_stream_changes_the_output() -> None:
    torch.manual_seed(0)
    model = create_model("mvss-effnet-lite0", **SMALL).eval()
    image = _image()
    with torch.no_grad():
        before = model(image)
        noise = model.get_backbone()["noise"]
        for p in noise.parameters():
            p.add_(0.05 * torch.randn_like(p))
        after = model(image)
    assert not torch.allclose(before.mask_logits, after.mask_logits)
    assert not torch.allclose(before.score_logit, after.score_logit)

    rgb_only = create_model("mvss-effnet-lite0", noise_stream=False, **SMALL).eval()
    assert rgb_only.bayar is None and rgb_only.bayar_layers() == []
    assert set(rgb_only.get_backbone()) == {"rgb"}
    assert not any(k.startswith("backbone.noise.") for k in rgb_only.state_dict())
    with torch.no_grad():
        out = rgb_only(image)
    assert out.mask_logits.shape == (2, 1, 64, 64) and out.score_logit.shape == (2,)


def test_noise_stream_ignores_a_constant_offset() -> None:
    # Bayar kernels sum to zero: brightening the image by a constant changes nothing in the
    # noise stream's input (away from the zero-padded border).
    torch.manual_seed(0)
    model = create_model("mvss-effnet-lite0", **SMALL).eval()
    assert model.bayar is not None
    image = _image() * 0.5
    x = model.normalize(image)
    shifted = model.normalize(image + 0.25)
    a, b = model.bayar(x), model.bayar(shifted)
    torch.testing.assert_close(a[..., 2:-2, 2:-2], b[..., 2:-2, 2:-2], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stages", [2, 3])
def test_fewer_stages(stages: int) -> None:
    model = create_model("mvss-effnet-lite0", num_stages=stages, edge_branch=True, **SMALL)
    assert len(model.fuse) == stages
    out = model.train()(_image(2, 40, 56))
    assert out.mask_logits.shape == (2, 1, 40, 56) and out.edge_logits is not None
    (out.mask_logits.mean() + out.score_logit.mean() + out.edge_logits.mean()).backward()


def test_constructor_errors() -> None:
    with pytest.raises(ValueError, match="num_stages must be 2, 3 or 4, got 5"):
        create_model("mvss-effnet-lite0", num_stages=5)
    with pytest.raises(KeyError, match="unknown MVSS backbone 'vgg'"):
        MVSS(backbone="vgg")


def test_bad_input_message() -> None:
    model = create_model("mvss-effnet-lite0", **SMALL)
    with pytest.raises(ValueError, match=r"^MVSS: image must have shape \(B, 3, H, W\)"):
        model(torch.zeros(3, 64, 64))


def test_stage_grids() -> None:
    model = create_model("mvss-effnet-lite0", **SMALL)
    maps = model.get_backbone()["rgb"](torch.zeros(1, 3, 64, 64))
    assert [tuple(m.shape[1:]) for m in maps] == [
        (24, 16, 16),
        (40, 8, 8),
        (112, 4, 4),
        (320, 2, 2),
    ]
    resnet = create_model("mvss-resnet50", num_stages=2, fpn_channels=8, ppm_channels=8)
    maps = resnet.get_backbone()["noise"](torch.zeros(1, 3, 64, 64))
    assert [tuple(m.shape[1:]) for m in maps] == [(256, 16, 16), (512, 8, 8)]


def test_effnet_pretrained_backbone_builds_offline() -> None:
    from tamperscope.models.backbones import efficientnet_lite0_state_dict

    model = create_model("mvss-effnet-lite0", pretrained_backbone=True, num_stages=2, **SMALL)
    state = efficientnet_lite0_state_dict()
    for stream in ("rgb", "noise"):
        net = model.get_backbone()[stream].net
        torch.testing.assert_close(net.conv_stem.weight, state["conv_stem.weight"])
        torch.testing.assert_close(
            net.blocks[2][0].conv_pw.weight, state["blocks.2.0.conv_pw.weight"]
        )
    assert model.config["pretrained_backbone"] is True


def test_resnet50_pretrained_backbone_uses_the_weights_api(monkeypatch) -> None:
    # Stands in for the download: a random torchvision ResNet-50's state dict.
    from torchvision.models import ResNet50_Weights, resnet50

    torch.manual_seed(3)
    reference = resnet50().state_dict()
    requested = []

    def get_state_dict(self, *args, **kwargs):
        requested.append(self)
        return reference

    monkeypatch.setattr(ResNet50_Weights, "get_state_dict", get_state_dict)
    model = create_model("mvss-resnet50", pretrained_backbone=True, num_stages=2, **SMALL)
    assert requested == [ResNet50_Weights.IMAGENET1K_V2] * 2  # one per stream
    for stream in ("rgb", "noise"):
        backbone = model.get_backbone()[stream]
        torch.testing.assert_close(backbone.stem[0].weight, reference["conv1.weight"])
        torch.testing.assert_close(
            backbone.stages[1][0].conv1.weight, reference["layer2.0.conv1.weight"]
        )
