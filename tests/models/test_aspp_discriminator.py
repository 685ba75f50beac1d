"""ASPP and PatchGAN discriminator layers."""

from __future__ import annotations

import pytest
import torch

from tamperscope.models.layers.aspp import ASPP
from tamperscope.models.layers.discriminators import PatchDiscriminator


def test_aspp_shape_and_batch_of_one_training(rng) -> None:
    aspp = ASPP(20, 16, rates=(6, 12, 24)).train()
    x = torch.from_numpy(rng.standard_normal((1, 20, 9, 7)).astype("float32"))
    y = aspp(x)
    assert y.shape == (1, 16, 9, 7)
    assert (y >= 0).all()
    y.sum().backward()
    assert all(p.grad is not None for p in aspp.parameters())
    assert [b[0].dilation for b in aspp.branches[1:]] == [(6, 6), (12, 12), (24, 24)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"rates": (6, 12)}, r"three positive atrous rates"), ({"dropout": 1.5}, r"\[0, 1\)")],
)
def test_aspp_errors(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        ASPP(8, 8, **kwargs)


@pytest.mark.parametrize(
    ("size", "expected"), [((64, 64), (1, 1)), ((128, 96), (3, 2)), ((100, 70), (2, 1))]
)
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_patch_discriminator_output_shape(size, expected, spectral_norm, rng) -> None:
    disc = PatchDiscriminator(mask_channels=3, spectral_norm=spectral_norm)
    image = torch.from_numpy(rng.random((2, 3, *size), dtype="float32"))
    mask = torch.softmax(torch.from_numpy(rng.standard_normal((2, 3, *size))).float(), 1)
    out = disc(image, mask)
    assert out.shape == (2, 1, *expected)
    out.mean().backward()
    convs = [m for m in disc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256, 512, 1]
    assert [c.stride for c in convs] == [(2, 2)] * 5 + [(1, 1)]
    assert all(c.kernel_size == (4, 4) for c in convs)
    has_sn = any(hasattr(c, "weight_orig") for c in convs)
    assert has_sn == spectral_norm


def test_patch_discriminator_one_channel_mask_and_norms() -> None:
    for norm in ("batch", "instance", "none"):
        disc = PatchDiscriminator(mask_channels=1, norm=norm)
        assert disc(torch.zeros(2, 3, 64, 64), torch.zeros(2, 1, 64, 64)).shape == (2, 1, 1, 1)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in disc.modules())


@pytest.mark.parametrize(
    ("image", "mask", "match"),
    [
        ((2, 3, 64, 64), (2, 1, 64, 64), r"mask of shape \(B, 3, H, W\).*one_hot"),
        ((2, 4, 64, 64), (2, 3, 64, 64), r"image of shape \(B, 3, H, W\)"),
        ((2, 3, 64, 64), (2, 3, 64, 32), r"differ in batch size or spatial size"),
        ((2, 3, 48, 64), (2, 3, 48, 64), r"needs H, W >= 64 pixels"),
    ],
)
def test_patch_discriminator_errors(image, mask, match) -> None:
    disc = PatchDiscriminator(mask_channels=3)
    with pytest.raises(ValueError, match=match):
        disc(torch.zeros(image), torch.zeros(mask))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"channels": (32, 2)}, r"ending in 1 channel"), ({"norm": "group"}, r"norm must be")],
)
def test_patch_discriminator_bad_config(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        PatchDiscriminator(**kwargs)
