"""Typed outputs of the models' ``forward``: logits only, never probabilities or losses.

The class names of the mask channels, in channel order, are given by the constants below;
a model states its own in :attr:`tamperscope.models.base.TamperModel.classes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "COPY_MOVE_CLASSES",
    "LOCALIZATION_CLASSES",
    "PAIR_CLASSES",
    "UNION_CLASSES",
    "BoxOutput",
    "CopyMoveOutput",
    "LocalizationOutput",
    "PairOutput",
]

#: Channels of a 3-class copy-move mask (softmax over the channels).
COPY_MOVE_CLASSES: tuple[str, ...] = ("pristine", "source", "target")
#: The one channel of a union (1-class) mask: forged versus pristine (sigmoid).
UNION_CLASSES: tuple[str, ...] = ("forged",)
#: The one channel of a manipulation localizer's mask: manipulated versus pristine (sigmoid).
LOCALIZATION_CLASSES: tuple[str, ...] = ("manipulated",)
#: Channels of a probe/donor mask (softmax over the channels).
PAIR_CLASSES: tuple[str, ...] = ("not_shared", "shared")


@dataclass(frozen=True)
class CopyMoveOutput:
    """Output of a copy-move detector (task ``copy_move``).

    Two heads exist. A 3-class head (:data:`COPY_MOVE_CLASSES`) tells the copied region
    (source) from its pasted copy (target): its probabilities are the softmax over the
    channels. A 1-class union head (:data:`UNION_CLASSES`, e.g. DOA-GAN built with
    ``num_classes=1`` for data without source/target masks) only marks forged pixels, source
    or target alike: its probability is the sigmoid of the channel. The model's ``classes``
    says which.

    Attributes:
        mask_logits: (B, C, H, W) float32 logits, C = ``len(model.classes)`` (3 or 1); H, W
            are the input size. Training-free detectors give log-probabilities, which are
            logits whose softmax returns the probabilities.
        score_logit: (B,) float32 image-level logit of "the image holds a copy-move"
            (sigmoid gives the score in [0, 1]).
    """

    mask_logits: torch.Tensor
    score_logit: torch.Tensor


@dataclass(frozen=True)
class PairOutput:
    """Output of a probe/donor (constrained splicing) model such as DMAC (task ``pair``).

    Attributes:
        probe_logits: (B, 2, h, w) float32 logits of the probe, channels
            :data:`PAIR_CLASSES` (not shared, shared: the region spliced from the donor),
            softmax over the channels; h = ceil(H / s), w = ceil(W / s) for the model's
            ``output_stride`` s (8 for DMAC).
        donor_logits: (B, 2, h, w) float32 logits of the donor, same layout (shared: the
            region that was copied into the probe).
    """

    probe_logits: torch.Tensor
    donor_logits: torch.Tensor


@dataclass(frozen=True)
class LocalizationOutput:
    """Output of a binary manipulation localizer (splicing, inpainting, any edit).

    Attributes:
        mask_logits: (B, 1, H, W) float32 logits of "this pixel is manipulated" (sigmoid);
            H, W are the input size.
        score_logit: (B,) float32 image-level logit (manipulated vs authentic).
        edge_logits: (B, 1, H, W) float32 logits of "this pixel lies on the boundary of a
            manipulated region" (sigmoid), from models with an edge-supervised branch
            (e.g. MVSS-Net built with ``edge_branch=True``); ``None`` otherwise. A training
            signal: inference reads ``mask_logits``.
    """

    mask_logits: torch.Tensor
    score_logit: torch.Tensor
    edge_logits: torch.Tensor | None = None


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
