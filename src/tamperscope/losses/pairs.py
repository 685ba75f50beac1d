"""Losses of DMAC's adversarial training on probe/donor pairs.

Y. Liu, X. Zhu, X. Zhao, Y. Cao, "Adversarial Learning for Constrained Image Splicing Detection
and Localization based on Atrous Convolution", IEEE TIFS 2019 (DOI 10.1109/TIFS.2019.2902826),
Sec. III-C.

Notation: Y_j the ground-truth masks and Y^_j DMAC's softmax probability of the shared region
for j in {a (probe), b (donor)}, both on DMAC's output grid (32 x 32 for 256 x 256 inputs);
I_j the images average-pooled to that grid; Det the detection network
(:class:`~tamperscope.models.dmac.PairDetectionNet`), Dis the discriminative network
(:class:`~tamperscope.models.dmac.MaskDiscriminator`), both returning logits.

* L_ce: spatial cross entropy of DMAC's logits on both masks (the sum of the two per-image
  means, as in the reference code).
* Detection: Det learns the pair label by binary cross entropy on (Y_a I_a, Y_b I_b) and on
  (Y^_a I_a, Y^_b I_b); DMAC's term is the binary cross entropy of Det on its own masked pair
  with the true label.
* Discriminative, ``"bce"``: Dis learns -[log D(Y_j I_j) + log(1 - D(Y^_j I_j))], DMAC's term
  is -log D(Y^_j I_j), with D = sigmoid(Dis); ``"hinge"``: Dis learns
  -[min(0, -1 + Dis(Y_j I_j)) + min(0, -1 - Dis(Y^_j I_j))], DMAC's term is -Dis(Y^_j I_j).
  Both summed over j and averaged over the batch.
* DMAC's total: L = L_ce + lambda_det L_det + lambda_dis L_dis (defaults 0.01 each).

Gradients go only where they belong: the Det/Dis losses see DMAC's masks detached, and DMAC's
terms run Det/Dis with their parameters frozen (``requires_grad`` off while the graph is
built), so ``backward`` of one network's loss leaves the other networks' ``.grad`` untouched.

Ground-truth masks of another size than the output grid are downsampled by area averaging
and thresholded at 0.5 (a cell is shared when at least half of its pixels are). The reference
code's adaptive ground truth (soft labels from the prediction) is not implemented.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from tamperscope.models.dmac import masked_pooled_image
from tamperscope.models.outputs import PairOutput

DisMode = Literal["bce", "hinge"]
DIS_MODES = ("bce", "hinge")

__all__ = [
    "DIS_MODES",
    "MaskedPairs",
    "detection_generator_loss",
    "detection_network_loss",
    "discriminator_generator_loss",
    "discriminator_network_loss",
    "dmac_adversary_losses",
    "dmac_generator_loss",
    "downsample_pair_mask",
    "frozen",
    "masked_pairs",
    "pair_cross_entropy_loss",
]


def _check_mode(mode: str) -> None:
    if mode not in DIS_MODES:
        raise ValueError(f"discriminator loss mode must be 'bce' or 'hinge', got {mode!r}")


def _grid(logits: torch.Tensor) -> tuple[int, int]:
    return int(logits.shape[-2]), int(logits.shape[-1])


def downsample_pair_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Ground-truth mask -> class indices on the output grid.

    Args:
        mask: (B, H, W) or (B, 1, H, W), bool / integer / float, nonzero (> 0.5 for floats) =
            shared region.
        size: (h, w) of the output grid, in cells.

    Returns:
        (B, h, w) int64 in {0, 1}: the mask itself when already (h, w), else area average
        thresholded at 0.5.

    Raises:
        ValueError: ``mask`` is not 3-D or (B, 1, H, W).
    """
    if mask.ndim == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]
    if mask.ndim != 3:
        raise ValueError(f"ground-truth mask must be (B, H, W), got {tuple(mask.shape)}")
    binary = (mask > 0.5) if mask.is_floating_point() else (mask > 0)
    if tuple(binary.shape[-2:]) == tuple(size):
        return binary.long()
    area = F.adaptive_avg_pool2d(binary.float().unsqueeze(1), size)[:, 0]
    return (area >= 0.5).long()


def pair_cross_entropy_loss(
    output: PairOutput, probe_mask: torch.Tensor, donor_mask: torch.Tensor
) -> torch.Tensor:
    """L_ce: spatial cross entropy of both images' logits (DMAC Eq. 6).

    Args:
        output: DMAC's logits, probe_logits and donor_logits (B, 2, h, w) float.
        probe_mask, donor_mask: (B, H, W) ground-truth masks (see
            :func:`downsample_pair_mask`), all zeros for negative pairs.

    Returns:
        scalar float: mean CE over the probe's cells + mean CE over the donor's cells.

    Raises:
        ValueError: logits without 2 channels or batch sizes that differ.
    """
    total = torch.zeros((), device=output.probe_logits.device)
    for logits, mask in ((output.probe_logits, probe_mask), (output.donor_logits, donor_mask)):
        if logits.ndim != 4 or logits.shape[1] != 2 or mask.shape[0] != logits.shape[0]:
            raise ValueError(
                f"pair logits must be (B, 2, h, w) with a mask per image, got "
                f"{tuple(logits.shape)} and mask {tuple(mask.shape)}"
            )
        target = downsample_pair_mask(mask.to(logits.device), _grid(logits))
        total = total + F.cross_entropy(logits.float(), target)
    return total


@dataclass(frozen=True)
class MaskedPairs:
    """Inputs of Det and Dis: masks times pooled images, (B, 3, h, w) float each.

    Attributes:
        real_a, real_b: Y_a * I_a and Y_b * I_b (ground truth; no gradient).
        fake_a, fake_b: Y^_a * I_a and Y^_b * I_b (DMAC's predictions; carry DMAC's graph).
    """

    real_a: torch.Tensor
    real_b: torch.Tensor
    fake_a: torch.Tensor
    fake_b: torch.Tensor

    def detached(self) -> MaskedPairs:
        """The same tensors cut from DMAC's graph (for the Det/Dis updates)."""
        return MaskedPairs(
            self.real_a.detach(), self.real_b.detach(), self.fake_a.detach(), self.fake_b.detach()
        )


def masked_pairs(
    output: PairOutput,
    probe: torch.Tensor,
    donor: torch.Tensor,
    probe_mask: torch.Tensor,
    donor_mask: torch.Tensor,
) -> MaskedPairs:
    """Build Y * I and Y^ * I for both images.

    Args:
        output: DMAC's logits (B, 2, h, w); Y^ = softmax over the 2 channels, channel 1.
        probe, donor: (B, 3, H, W) float in [0, 1], the images DMAC saw.
        probe_mask, donor_mask: (B, H, W) ground truth (see :func:`downsample_pair_mask`).

    Returns:
        :class:`MaskedPairs` of (B, 3, h, w) float tensors.
    """
    size = _grid(output.probe_logits)
    y_a = downsample_pair_mask(probe_mask.to(probe.device), size).float()
    y_b = downsample_pair_mask(donor_mask.to(donor.device), size).float()
    p_a = torch.softmax(output.probe_logits.float(), dim=1)[:, 1]
    p_b = torch.softmax(output.donor_logits.float(), dim=1)[:, 1]
    return MaskedPairs(
        real_a=masked_pooled_image(probe, y_a).detach(),
        real_b=masked_pooled_image(donor, y_b).detach(),
        fake_a=masked_pooled_image(probe, p_a),
        fake_b=masked_pooled_image(donor, p_b),
    )


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Turn off ``requires_grad`` of ``module``'s parameters for the duration of the block.

    A graph built inside the block carries no path to those parameters, so ``backward`` of a
    loss computed there leaves their ``.grad`` untouched; the flags are restored on exit.
    """
    flags = [(p, p.requires_grad) for p in module.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield module
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _labels(label: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    label = label.reshape(-1).to(device=like.device, dtype=like.dtype)
    if label.shape != like.shape:
        raise ValueError(
            f"pair labels must be (B,) with B = {like.shape[0]}, got {tuple(label.shape)}"
        )
    return label


def detection_network_loss(
    detector: nn.Module, pairs: MaskedPairs, label: torch.Tensor
) -> torch.Tensor:
    """Det's loss: BCE of the pair label on the ground-truth and on DMAC's masked pairs.

    DMAC's masks are detached here: this loss trains Det only.

    Args:
        detector: Det, ``detector(masked_a, masked_b)`` -> (B,) logits.
        pairs: :func:`masked_pairs` output.
        label: (B,) in {0, 1}, 1 for a correlated (spliced) pair.

    Returns:
        scalar float: BCE(Det(real pair), label) + BCE(Det(predicted pair), label).

    Raises:
        ValueError: ``label`` does not hold one value per pair.
    """
    pairs = pairs.detached()
    real = detector(pairs.real_a, pairs.real_b)
    fake = detector(pairs.fake_a, pairs.fake_b)
    target = _labels(label, real)
    return F.binary_cross_entropy_with_logits(real, target) + F.binary_cross_entropy_with_logits(
        fake, target
    )


def detection_generator_loss(
    detector: nn.Module, pairs: MaskedPairs, label: torch.Tensor
) -> torch.Tensor:
    """DMAC's detection term L_det: BCE of Det on DMAC's own masked pair with the true label.

    Det's parameters are frozen while this is computed: the gradient reaches DMAC only.

    Args:
        detector: Det.
        pairs: :func:`masked_pairs` output (``fake_a``/``fake_b`` carry DMAC's graph).
        label: (B,) in {0, 1}.

    Returns:
        scalar float.

    Raises:
        ValueError: ``label`` does not hold one value per pair.
    """
    with frozen(detector):
        fake = detector(pairs.fake_a, pairs.fake_b)
    return F.binary_cross_entropy_with_logits(fake, _labels(label, fake))


def discriminator_network_loss(
    discriminator: nn.Module, pairs: MaskedPairs, mode: DisMode = "bce"
) -> torch.Tensor:
    """Dis's loss, summed over probe and donor, averaged over the batch.

    ``"bce"``: -[log D(Y_j I_j) + log(1 - D(Y^_j I_j))] with D = sigmoid(Dis);
    ``"hinge"``: -[min(0, -1 + Dis(Y_j I_j)) + min(0, -1 - Dis(Y^_j I_j))].
    DMAC's masks are detached: this loss trains Dis only.

    Args:
        discriminator: Dis, ``discriminator(masked)`` -> (B,) logits.
        pairs: :func:`masked_pairs` output.
        mode: ``"bce"`` or ``"hinge"``.

    Returns:
        scalar float >= 0.

    Raises:
        ValueError: unknown ``mode``.
    """
    _check_mode(mode)
    pairs = pairs.detached()
    total = torch.zeros((), device=pairs.real_a.device)
    for real_in, fake_in in ((pairs.real_a, pairs.fake_a), (pairs.real_b, pairs.fake_b)):
        real, fake = discriminator(real_in), discriminator(fake_in)
        if mode == "bce":
            term = F.softplus(-real) + F.softplus(fake)  # -log s(r) - log(1 - s(f))
        else:
            term = F.relu(1.0 - real) + F.relu(1.0 + fake)
        total = total + term.mean()
    return total


def discriminator_generator_loss(
    discriminator: nn.Module, pairs: MaskedPairs, mode: DisMode = "bce"
) -> torch.Tensor:
    """DMAC's discriminative term L_dis, summed over probe and donor, averaged over the batch.

    ``"bce"``: -log sigmoid(Dis(Y^_j I_j)); ``"hinge"``: -Dis(Y^_j I_j). Dis's parameters are
    frozen while this is computed: the gradient reaches DMAC only.

    Args:
        discriminator: Dis.
        pairs: :func:`masked_pairs` output.
        mode: ``"bce"`` or ``"hinge"``.

    Returns:
        scalar float (>= 0 for ``"bce"``; any sign for ``"hinge"``).

    Raises:
        ValueError: unknown ``mode``.
    """
    _check_mode(mode)
    total = torch.zeros((), device=pairs.fake_a.device)
    with frozen(discriminator):
        for fake_in in (pairs.fake_a, pairs.fake_b):
            fake = discriminator(fake_in)
            total = total + (F.softplus(-fake) if mode == "bce" else -fake).mean()
    return total


def dmac_generator_loss(
    output: PairOutput,
    probe: torch.Tensor,
    donor: torch.Tensor,
    probe_mask: torch.Tensor,
    donor_mask: torch.Tensor,
    label: torch.Tensor,
    detector: nn.Module | None = None,
    discriminator: nn.Module | None = None,
    *,
    lambda_det: float = 0.01,
    lambda_dis: float = 0.01,
    mode: DisMode = "bce",
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """DMAC's total loss L = L_ce + lambda_det L_det + lambda_dis L_dis (DMAC Eq. 9).

    Args:
        output: DMAC's logits for the batch.
        probe, donor: (B, 3, H, W) float in [0, 1], the images DMAC saw.
        probe_mask, donor_mask: (B, H, W) ground truth, nonzero = shared region.
        label: (B,) in {0, 1}, 1 for correlated pairs.
        detector: Det, or ``None`` to leave L_det out (plain DMAC without adversaries).
        discriminator: Dis, or ``None`` to leave L_dis out.
        lambda_det, lambda_dis: weights of the adversarial terms (paper: 0.01 each).
        mode: ``"bce"`` or ``"hinge"`` for L_dis.

    Returns:
        ``(total, parts)``: scalar total, and the unweighted ``"ce"``, ``"det"``, ``"dis"``
        terms (the last two only when their network is given).

    Raises:
        ValueError: unknown ``mode`` or bad label shape.
    """
    _check_mode(mode)
    parts = {"ce": pair_cross_entropy_loss(output, probe_mask, donor_mask)}
    total = parts["ce"]
    if detector is not None or discriminator is not None:
        pairs = masked_pairs(output, probe, donor, probe_mask, donor_mask)
        if detector is not None:
            parts["det"] = detection_generator_loss(detector, pairs, label)
            total = total + lambda_det * parts["det"]
        if discriminator is not None:
            parts["dis"] = discriminator_generator_loss(discriminator, pairs, mode)
            total = total + lambda_dis * parts["dis"]
    return total, parts


def dmac_adversary_losses(
    output: PairOutput,
    probe: torch.Tensor,
    donor: torch.Tensor,
    probe_mask: torch.Tensor,
    donor_mask: torch.Tensor,
    label: torch.Tensor,
    detector: nn.Module,
    discriminator: nn.Module,
    *,
    mode: DisMode = "bce",
) -> dict[str, torch.Tensor]:
    """The losses that train Det and Dis for one batch (DMAC's output detached).

    Args:
        output, probe, donor, probe_mask, donor_mask, label: as in
            :func:`dmac_generator_loss`.
        detector: Det.
        discriminator: Dis.
        mode: ``"bce"`` or ``"hinge"``.

    Returns:
        ``{"det": Det's loss, "dis": Dis's loss}``, scalars; step each network's optimiser on
        its own entry.

    Raises:
        ValueError: unknown ``mode`` or bad label shape.
    """
    _check_mode(mode)
    pairs = masked_pairs(output, probe, donor, probe_mask, donor_mask).detached()
    return {
        "det": detection_network_loss(detector, pairs, label),
        "dis": discriminator_network_loss(discriminator, pairs, mode),
    }
