"""Typed outputs of the models' ``forward``: logits only, never probabilities or losses."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class CopyMoveOutput:
    """Output of a copy-move detector.

    Attributes:
        mask_logits: (B, C, H, W) float32 logits; C = 3 (pristine, source, target) for 3-class
            heads, C = 1 (forged vs pristine) for 1-class heads. H, W are the input size.
        score_logit: (B,) float32 image-level logit (forged vs pristine).
    """

    mask_logits: torch.Tensor
    score_logit: torch.Tensor


@dataclass(frozen=True)
class PairOutput:
    """Output of a probe/donor (constrained splicing) model such as DMAC.

    Attributes:
        probe_logits: (B, 2, h, w) float32 logits of the probe, channels (not shared,
            shared/tampered); h, w are the model's output grid (stride 8 for DMAC).
        donor_logits: (B, 2, h, w) float32 logits of the donor, same layout.
    """

    probe_logits: torch.Tensor
    donor_logits: torch.Tensor
