"""DMAC's losses: hand-computed values, mask downsampling and where the gradients go."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tamperscope.losses.pairs import (
    MaskedPairs,
    detection_generator_loss,
    detection_network_loss,
    discriminator_generator_loss,
    discriminator_network_loss,
    dmac_adversary_losses,
    dmac_generator_loss,
    downsample_pair_mask,
    frozen,
    masked_pairs,
    pair_cross_entropy_loss,
)
from tamperscope.models.dmac import MaskDiscriminator, PairDetectionNet
from tamperscope.models.outputs import PairOutput


class MeanDis(nn.Module):
    """Test double: the logit is w times the mean of the masked image."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w * x.mean(dim=(1, 2, 3))


class DiffDet(nn.Module):
    """Test double: the logit is w times (mean of a - mean of b)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.w * (a.mean(dim=(1, 2, 3)) - b.mean(dim=(1, 2, 3)))


def _const(value: float) -> torch.Tensor:
    return torch.full((1, 3, 2, 2), float(value))


def _val(t: torch.Tensor) -> float:
    return float(t.detach())


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_downsample_pair_mask_area_threshold():
    mask = torch.zeros(1, 4, 4, dtype=torch.uint8)
    mask[0, 0:2, 0:1] = 255  # top-left cell: 2 of 4 pixels -> shared
    mask[0, 0, 2] = 1  # top-right cell: 1 of 4 -> not shared
    mask[0, 2:4, 2:4] = 1  # bottom-right: 4 of 4
    out = downsample_pair_mask(mask, (2, 2))
    assert out.dtype == torch.int64
    assert out.tolist() == [[[1, 0], [0, 1]]]
    same = downsample_pair_mask(torch.tensor([[[0.2, 0.7]]]), (1, 2))
    assert same.tolist() == [[[0, 1]]]
    with pytest.raises(ValueError, match=r"must be \(B, H, W\)"):
        downsample_pair_mask(torch.zeros(4, 4), (2, 2))


def test_pair_cross_entropy_hand_values():
    zeros = torch.zeros(1, 2, 2, 2)
    out = PairOutput(probe_logits=zeros, donor_logits=zeros)
    mask = torch.zeros(1, 16, 16)
    assert _val(pair_cross_entropy_loss(out, mask, mask)) == pytest.approx(2 * math.log(2))
    probe_logits = torch.tensor([[[[0.0]], [[1.0]]]])  # (1, 2, 1, 1)
    donor_logits = torch.tensor([[[[2.0]], [[0.0]]]])
    out = PairOutput(probe_logits=probe_logits, donor_logits=donor_logits)
    loss = pair_cross_entropy_loss(out, torch.ones(1, 8, 8), torch.ones(1, 8, 8))
    expected = _softplus(-1.0) + _softplus(2.0)  # -log s(1) and -log(1 - s(2))
    assert _val(loss) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match=r"\(B, 2, h, w\)"):
        pair_cross_entropy_loss(PairOutput(torch.zeros(1, 3, 2, 2), zeros), mask, mask)


def test_masked_pairs_use_ground_truth_and_softmax_channel_one():
    probe = torch.full((1, 3, 8, 8), 0.5)
    donor = torch.full((1, 3, 8, 8), 0.25)
    logits = torch.zeros(1, 2, 2, 2)
    logits[:, 1] = 50.0  # probability of the shared region = 1
    out = PairOutput(probe_logits=logits, donor_logits=-logits)
    gt = torch.zeros(1, 8, 8)
    gt[0, :4, :4] = 1
    pairs = masked_pairs(out, probe, donor, gt, gt)
    assert pairs.real_a.shape == (1, 3, 2, 2)
    assert pairs.real_a[0, 0].tolist() == [[0.5, 0.0], [0.0, 0.0]]
    torch.testing.assert_close(pairs.fake_a, torch.full((1, 3, 2, 2), 0.5))
    torch.testing.assert_close(pairs.fake_b, torch.zeros(1, 3, 2, 2))


def test_discriminator_losses_hand_values():
    pairs = MaskedPairs(
        real_a=_const(2), real_b=_const(0.5), fake_a=_const(-1), fake_b=_const(0.25)
    )
    dis = MeanDis()
    bce = discriminator_network_loss(dis, pairs, "bce")
    expected = (_softplus(-2) + _softplus(-1)) + (_softplus(-0.5) + _softplus(0.25))
    assert _val(bce) == pytest.approx(expected, rel=1e-6)
    hinge = discriminator_network_loss(dis, pairs, "hinge")
    # a: relu(1 - 2) + relu(1 - 1) = 0; b: relu(0.5) + relu(1.25) = 1.75
    assert _val(hinge) == pytest.approx(1.75)
    gen_bce = discriminator_generator_loss(dis, pairs, "bce")
    assert _val(gen_bce) == pytest.approx(_softplus(1) + _softplus(-0.25), rel=1e-6)
    gen_hinge = discriminator_generator_loss(dis, pairs, "hinge")
    assert _val(gen_hinge) == pytest.approx(1 - 0.25)


def test_detection_losses_hand_values():
    pairs = MaskedPairs(real_a=_const(2), real_b=_const(0.5), fake_a=_const(1), fake_b=_const(1))
    det = DiffDet()
    label = torch.tensor([1])
    # real logit 1.5, fake logit 0: BCE = softplus(-1.5) + log 2
    loss = detection_network_loss(det, pairs, label)
    assert _val(loss) == pytest.approx(_softplus(-1.5) + math.log(2), rel=1e-6)
    loss0 = detection_network_loss(det, pairs, torch.tensor([0.0]))
    assert _val(loss0) == pytest.approx(_softplus(1.5) + math.log(2), rel=1e-6)
    assert _val(detection_generator_loss(det, pairs, label)) == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match=r"pair labels must be \(B,\) with B = 1"):
        detection_generator_loss(det, pairs, torch.tensor([1, 0]))


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    logits_a = torch.randn(2, 2, 8, 8, requires_grad=True)
    logits_b = torch.randn(2, 2, 8, 8, requires_grad=True)
    out = PairOutput(probe_logits=logits_a, donor_logits=logits_b)
    probe, donor = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    masks = (torch.rand(2, 64, 64) > 0.7).long()
    label = torch.tensor([1, 0])
    return out, probe, donor, masks, label


@pytest.mark.parametrize("mode", ["bce", "hinge"])
def test_dmac_loss_reaches_dmac_only(mode):
    out, probe, donor, masks, label = _setup()
    det, dis = PairDetectionNet(), MaskDiscriminator()
    total, parts = dmac_generator_loss(out, probe, donor, masks, masks, label, det, dis, mode=mode)
    assert set(parts) == {"ce", "det", "dis"}
    expected = parts["ce"] + 0.01 * parts["det"] + 0.01 * parts["dis"]
    torch.testing.assert_close(total, expected)
    total.backward()
    assert out.probe_logits.grad is not None and out.probe_logits.grad.abs().sum() > 0
    assert all(p.grad is None for p in det.parameters())
    assert all(p.grad is None for p in dis.parameters())
    assert all(p.requires_grad for p in [*det.parameters(), *dis.parameters()])


def test_adversarial_terms_push_gradient_into_dmac():
    out, probe, donor, masks, label = _setup(1)
    det, dis = PairDetectionNet(), MaskDiscriminator()
    _, parts = dmac_generator_loss(out, probe, donor, masks, masks, label, det, dis)
    (parts["det"] + parts["dis"]).backward()  # the CE term left out
    assert out.probe_logits.grad.abs().sum() > 0 and out.donor_logits.grad.abs().sum() > 0


@pytest.mark.parametrize("mode", ["bce", "hinge"])
def test_adversary_losses_reach_det_and_dis_only(mode):
    out, probe, donor, masks, label = _setup(2)
    det, dis = PairDetectionNet(), MaskDiscriminator()
    losses = dmac_adversary_losses(out, probe, donor, masks, masks, label, det, dis, mode=mode)
    assert set(losses) == {"det", "dis"}
    losses["det"].backward()
    assert all(p.grad is not None for p in det.parameters())
    assert all(p.grad is None for p in dis.parameters())
    losses["dis"].backward()
    assert all(p.grad is not None for p in dis.parameters())
    assert out.probe_logits.grad is None and out.donor_logits.grad is None


def test_ce_only_without_adversaries_and_lambdas():
    out, probe, donor, masks, label = _setup(3)
    total, parts = dmac_generator_loss(out, probe, donor, masks, masks, label)
    assert set(parts) == {"ce"} and torch.equal(total, parts["ce"])
    det = DiffDet()
    total, parts = dmac_generator_loss(out, probe, donor, masks, masks, label, det, lambda_det=0.5)
    torch.testing.assert_close(total, parts["ce"] + 0.5 * parts["det"])


def test_frozen_restores_flags_even_on_error():
    net = nn.Linear(2, 2)
    net.bias.requires_grad_(False)
    with pytest.raises(RuntimeError, match="boom"), frozen(net):
        assert not net.weight.requires_grad
        raise RuntimeError("boom")
    assert net.weight.requires_grad and not net.bias.requires_grad


def test_unknown_mode_message():
    out, probe, donor, masks, label = _setup()
    pairs = masked_pairs(out, probe, donor, masks, masks)
    with pytest.raises(ValueError, match="must be 'bce' or 'hinge', got 'wgan'"):
        discriminator_network_loss(MeanDis(), pairs, "wgan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be 'bce' or 'hinge'"):
        dmac_generator_loss(out, probe, donor, masks, masks, label, mode="lsgan")  # type: ignore[arg-type]
