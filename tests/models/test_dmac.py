"""DMAC (Liu, Zhu, Zhao, Cao, IEEE TIFS 2019): correlation layer against a naive loop, top-T
pooling, the feature extractors and the adversarial networks; the generic checks are in
``test_models.py``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tamperscope.models.backbones import AtrousEfficientNetLite0, AtrousVGG16
from tamperscope.models.dmac import (
    DMAC,
    MaskDiscriminator,
    PairDetectionNet,
    masked_pooled_image,
)
from tamperscope.models.layers.correlation import (
    Correlation,
    cyclic_correlation,
    pool_correlation,
    translation_indices,
)
from tamperscope.registry import create_model


def _images(rng, batch: int, height: int, width: int) -> torch.Tensor:
    return torch.from_numpy(rng.random((batch, 3, height, width), dtype=np.float32))


def _model(seed: int = 0, **kwargs) -> DMAC:
    torch.manual_seed(seed)
    return create_model("dmac-vgg16", **kwargs)


def _naive_correlation(f_a: np.ndarray, f_b: np.ndarray) -> np.ndarray:
    batch, _, h, w = f_a.shape
    out = np.zeros((batch, h * w, h, w))
    for b in range(batch):
        for i in range(h):
            for j in range(w):
                for it in range(h):
                    for jt in range(w):
                        out[b, w * it + jt, i, j] = (
                            f_a[b, :, i, j] @ f_b[b, :, (i + it) % h, (j + jt) % w]
                        )
    return out


@pytest.mark.parametrize("normalize", [False, True])
def test_cyclic_correlation_matches_naive_loop(rng, normalize):
    f_a = rng.normal(size=(2, 5, 3, 4))
    f_b = rng.normal(size=(2, 5, 3, 4))
    got = cyclic_correlation(torch.tensor(f_a), torch.tensor(f_b), normalize=normalize)
    if normalize:
        f_a = f_a / np.linalg.norm(f_a, axis=1, keepdims=True)
        f_b = f_b / np.linalg.norm(f_b, axis=1, keepdims=True)
    assert got.shape == (2, 12, 3, 4)
    np.testing.assert_allclose(got.numpy(), _naive_correlation(f_a, f_b), atol=1e-10)


def test_translation_indices_wrap_around():
    index = translation_indices(3, 4)
    assert index.shape == (12, 12) and index.dtype == torch.int64
    # position (2, 3) shifted by (i_t, j_t) = (1, 2) lands on (0, 1)
    assert int(index[2 * 4 + 3, 1 * 4 + 2]) == 0 * 4 + 1
    assert torch.equal(index[:, 0], torch.arange(12))  # zero translation
    # every row is a permutation: each position of f_b met once per position of f_a
    assert torch.equal(index.sort(dim=1).values, torch.arange(12).expand(12, 12))


def test_cyclic_shift_gives_correlation_one_at_that_shift(rng):
    f_a = torch.from_numpy(rng.normal(size=(1, 16, 5, 6)))
    shift = (2, 3)
    f_b = torch.roll(f_a, shifts=shift, dims=(2, 3))  # f_b(i + 2, j + 3) = f_a(i, j)
    corr = cyclic_correlation(f_a, f_b)
    k = 6 * shift[0] + shift[1]
    torch.testing.assert_close(corr[:, k], torch.ones(1, 5, 6, dtype=corr.dtype))
    assert bool((corr.argmax(dim=1) == k).all())
    pooled = Correlation(top_t=3)(f_a, f_b)
    assert pooled.shape == (1, 5, 5, 6)
    torch.testing.assert_close(pooled[:, 0], torch.ones(1, 5, 6, dtype=pooled.dtype))  # max
    torch.testing.assert_close(pooled[:, 2], corr[:, k])  # first top-T channel is the shift


def test_pool_correlation_top_t_order_max_and_mean():
    corr = torch.zeros(2, 5, 2, 2)
    for k, value in enumerate([0.1, 0.5, -0.2, 0.9, 0.3]):
        corr[0, k] = value
    corr[1] = corr[0].flip(0)  # sums order reversed for the second item
    corr[0, 2, 0, 0] = 2.0  # channel 2 now sums to 1.4
    pooled = pool_correlation(corr, top_t=3)
    assert pooled.shape == (2, 5, 2, 2)
    # item 0: sums (0.4, 2.0, 1.4, 3.6, 1.2) -> channels 3, 1, 2
    torch.testing.assert_close(pooled[0, 2:], corr[0, [3, 1, 2]])
    torch.testing.assert_close(pooled[0, 0], corr[0].amax(0))
    torch.testing.assert_close(pooled[0, 1], corr[0].mean(0))
    assert float(pooled[0, 0, 0, 0]) == 2.0
    # item 1: channels are reversed, so the best are 1, 3, 0 (0.9, 0.5, 0.3)
    torch.testing.assert_close(pooled[1, 2:], corr[1, [1, 3, 0]])


def test_exclude_zero_shift_drops_the_trivial_self_match(rng):
    f = torch.from_numpy(rng.normal(size=(1, 8, 4, 4)))
    layer = Correlation(top_t=6)
    kept = layer(f, f)
    dropped = layer(f, f, exclude_zero_shift=True)
    torch.testing.assert_close(kept[:, 0], torch.ones_like(kept[:, 0]))  # self match = 1
    torch.testing.assert_close(kept[:, 2], torch.ones_like(kept[:, 2]))  # zero shift is top
    assert float(dropped[:, 0].max()) < 1.0 - 1e-6
    assert dropped.shape == kept.shape == (1, 8, 4, 4)


def test_correlation_errors():
    with pytest.raises(ValueError, match="same shape"):
        cyclic_correlation(torch.zeros(1, 4, 3, 3), torch.zeros(1, 4, 3, 4))
    with pytest.raises(ValueError, match="fewer than top_t=6"):
        pool_correlation(torch.zeros(1, 4, 2, 2), top_t=6)
    with pytest.raises(ValueError, match="top_t must be >= 0"):
        Correlation(top_t=-1)


def test_correlation_passes_gradients_into_the_feature_extractor(rng):
    model = _model(aspp_channels=16).train()
    out = model(_images(rng, 2, 64, 64), _images(rng, 2, 64, 64))
    (out.probe_logits.square().mean() + out.donor_logits.square().mean()).backward()
    grads = dict(model.named_parameters())
    assert model.get_backbone() is model.backbone
    assert grads["backbone.block3.0.weight"].grad.abs().sum() > 0
    assert grads["backbone.block5.24.weight"].grad.abs().sum() > 0


def test_training_after_an_inference_mode_pass_at_the_same_size(rng):
    """The cached translation index must not be an inference tensor (autograd refuses those)."""
    model = _model()
    with torch.inference_mode():
        model.eval()(_images(rng, 1, 48, 48), _images(rng, 1, 48, 48))
    out = model.train()(_images(rng, 2, 48, 48), _images(rng, 2, 48, 48))
    loss = out.probe_logits.sum() + out.donor_logits.sum()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_probe_and_donor_roles_swap(rng):
    model = _model(aspp_channels=16).eval()
    a, b = _images(rng, 1, 64, 64), _images(rng, 1, 64, 64)
    with torch.no_grad():
        ab, ba = model(a, b), model(b, a)
    torch.testing.assert_close(ab.probe_logits, ba.donor_logits, rtol=1e-4, atol=1e-5)


def test_config_holds_constructor_kwargs():
    model = _model(top_t=4, aspp_rates=(1, 2, 3, 4), aspp_channels=16, exclude_zero_shift=True)
    assert model.config == {
        "pretrained_backbone": False,
        "top_t": 4,
        "aspp_rates": [1, 2, 3, 4],
        "aspp_channels": 16,
        "exclude_zero_shift": True,
    }
    assert model.model_name == "dmac-vgg16" and model.output_stride == 8
    assert model.analysis_long_side == 256


def test_backbone_has_torchvision_vgg16_layout(monkeypatch):
    from torchvision.models import VGG16_Weights
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(3)
    reference = make_layers(cfgs["D"])
    fake_state = {f"features.{k}": v for k, v in reference.state_dict().items()}
    fake_state["classifier.0.weight"] = torch.zeros(1)
    monkeypatch.setattr(VGG16_Weights, "get_state_dict", lambda self, progress=True: fake_state)
    net = AtrousVGG16("imagenet")
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    ref_convs = [m for m in reference.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13
    for conv, ref in zip(convs, ref_convs, strict=True):
        assert torch.equal(conv.weight, ref.weight) and torch.equal(conv.bias, ref.bias)
    assert [c.dilation for c in convs[-3:]] == [(2, 2)] * 3
    features = net(torch.zeros(1, 3, 64, 64))
    assert [tuple(f.shape) for f in features] == [(1, 256, 8, 8), (1, 512, 8, 8), (1, 512, 8, 8)]


@pytest.mark.parametrize(
    ("probe_shape", "donor_shape", "match"),
    [
        ((1, 3, 64, 64), (1, 3, 64, 72), r"same shape.*resize both"),
        ((1, 3, 16, 16), (1, 3, 16, 16), r"16x16 probe gives 4 stride-8 cells, fewer than the 6"),
    ],
)
def test_bad_input_messages(probe_shape, donor_shape, match):
    model = _model().eval()
    with pytest.raises(ValueError, match=match):
        model(torch.zeros(probe_shape), torch.zeros(donor_shape))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"top_t": 0}, r"top_t must be >= 1"), ({"aspp_rates": ()}, r"at least one positive")],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DMAC(**kwargs)
    with pytest.raises(ValueError, match="weights must be None or 'imagenet'"):
        AtrousVGG16("places365")


def test_masked_pooled_image_values():
    image = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4).expand(1, 3, 4, 4)
    mask = torch.tensor([[[1.0, 0.0], [0.5, 1.0]]])
    out = masked_pooled_image(image, mask)
    expected = torch.tensor([[2.5, 0.0], [0.5 * 10.5, 12.5]])
    assert out.shape == (1, 3, 2, 2)
    torch.testing.assert_close(out[0, 1], expected)
    with pytest.raises(ValueError, match=r"mask \(B, h, w\)"):
        masked_pooled_image(image, torch.zeros(2, 2, 2))


@pytest.mark.parametrize("side", [32, 8])
def test_detection_and_discriminator_shapes(rng, side):
    a, b = _images(rng, 2, side, side), _images(rng, 2, side, side)
    det, dis = PairDetectionNet(), MaskDiscriminator()
    logit = det(a, b)
    assert logit.shape == (2,) and torch.isfinite(logit).all()
    assert dis(a).shape == (2,)
    # the Siamese difference is symmetric and vanishes for identical inputs
    det.eval()
    with torch.no_grad():
        torch.testing.assert_close(det(a, b), det(b, a))
        torch.testing.assert_close(det(a, a), det(b, b))
    sn_weights = [n for n, _ in dis.named_parameters() if n.endswith("weight_orig")]
    assert len(sn_weights) == 5  # four convolutions and the fully connected layer


def test_top_t_ties_go_to_the_lower_translation_index():
    corr = torch.zeros(1, 4, 2, 2)
    corr[0, 1] = 0.5
    corr[0, 3] = 0.5 + 1e-7  # equal up to float noise, as translations k and -k of a self-match
    corr[0, 2] = 0.2
    pooled = pool_correlation(corr, top_t=2)
    torch.testing.assert_close(pooled[0, 2:], corr[0, [1, 3]])
    shuffled = pool_correlation(corr[:, [0, 3, 2, 1]], top_t=1)  # now index 1 holds 0.5 + 1e-7
    torch.testing.assert_close(shuffled[0, 2], corr[0, 3])


# ----------------------------------------------------------------------------- EfficientNet-Lite0


def test_effnet_variant_is_registered_with_its_name():
    model = create_model("dmac-effnet-lite0", top_t=4, aspp_channels=16)
    assert model.model_name == "dmac-effnet-lite0"
    assert isinstance(model.backbone, AtrousEfficientNetLite0)
    assert "backbone" not in model.config


def test_atrous_effnet_keeps_stride_8_with_dilation_and_loads_imagenet_weights():
    from tamperscope.models.backbones import efficientnet_lite0_state_dict

    net = AtrousEfficientNetLite0("imagenet").eval()
    features = net(torch.zeros(1, 3, 64, 64))
    assert [tuple(f.shape) for f in features] == [(1, 40, 8, 8), (1, 112, 8, 8), (1, 320, 8, 8)]
    dilations = {m.dilation for m in net.modules() if isinstance(m, torch.nn.Conv2d)}
    assert (2, 2) in dilations and (4, 4) in dilations  # the stride-16 and stride-32 stages
    reference = efficientnet_lite0_state_dict()
    state = net.net.state_dict()
    assert len(state) > 200
    for key, value in state.items():
        assert torch.equal(value, reference[key]), key
    model = create_model("dmac-effnet-lite0", pretrained_backbone=True)
    assert torch.equal(model.mean, torch.full((1, 3, 1, 1), 0.5))


def test_unknown_dmac_backbone():
    with pytest.raises(ValueError, match="unknown backbone 'resnet'"):
        DMAC(backbone="resnet")
    with pytest.raises(ValueError, match="weights must be None or 'imagenet'"):
        AtrousEfficientNetLite0("coco")
