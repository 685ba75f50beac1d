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


@dataclass(frozen=True)
class LocalizationOutput:
    """Output of a binary manipulation localizer (splicing, inpainting, any edit).

    Attributes:
        mask_logits: (B, 1, H, W) float32 logits of "this pixel is manipulated"; H, W are the
            input size.
        score_logit: (B,) float32 image-level logit (manipulated vs authentic).
    """

    mask_logits: torch.Tensor
    score_logit: torch.Tensor


@dataclass(frozen=True)
class BoxOutput:
    """Output of an inpainted-region detector with a bounding box.

    Attributes:
        score_logit: (B,) float32 logit of "the image holds an inpainted part".
        box: (B, 4) float32 box (xmin, ymin, xmax, ymax) normalised to [0, 1] by the input
            width and height; a regression output, meaningful where the score is high.
        mask_logits: (B, 1, H, W) float32 per-pixel logits of the inpainted part, or ``None``
            for a model without a mask head.
    """

    score_logit: torch.Tensor
    box: torch.Tensor
    mask_logits: torch.Tensor | None = None
