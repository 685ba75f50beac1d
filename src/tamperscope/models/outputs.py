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
