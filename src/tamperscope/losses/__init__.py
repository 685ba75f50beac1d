"""Losses and their composition from a list of ``{name, weight, **options}`` terms.

Functional forms live in :mod:`tamperscope.losses.segmentation` and
:mod:`tamperscope.losses.adversarial`; this module wraps each in a small ``nn.Module`` that
declares the named inputs it needs, and :func:`build_loss` sums weighted terms::

    loss = build_loss([
        {"name": "weighted_ce", "weight": 1.0},
        {"name": "dice", "weight": 0.5},
        {"name": "detection_bce", "weight": 0.1},
    ])
    total, parts = loss(mask_logits=out.mask_logits, mask=mask, score_logit=out.score_logit,
                        label=label)

Named inputs (pass those the chosen terms need):

* ``mask_logits``: (B, C, H, W) float logits; ``mask``: (B, H, W) int64 class indices.
* ``score_logit``: (B,) float; ``label``: (B,) in {0, 1}.
* ``dist_maps``: (B, C, H, W) float signed distances (boundary loss).
* ``disc_fake``: discriminator outputs on generated pairs; ``disc_real``: on real pairs.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from tamperscope.losses.adversarial import (
    GanMode,
    check_gan_mode,
    gan_discriminator_loss,
    gan_generator_loss,
)
from tamperscope.losses.segmentation import (
    ClassWeights,
    boundary_loss,
    check_segmentation_inputs,
    cross_entropy_loss,
    detection_bce_loss,
    dice_loss,
    focal_loss,
    generalized_dice_loss,
    signed_distance_map,
)

__all__ = [
    "LOSSES",
    "BoundaryLoss",
    "CompositeLoss",
    "CrossEntropyLoss",
    "DetectionBCELoss",
    "DiceLoss",
    "FocalLoss",
    "GanDiscriminatorLoss",
    "GanGeneratorLoss",
    "GeneralizedDiceLoss",
    "LossTerm",
    "WeightedCrossEntropyLoss",
    "boundary_loss",
    "build_loss",
    "cross_entropy_loss",
    "detection_bce_loss",
    "dice_loss",
    "focal_loss",
    "gan_discriminator_loss",
    "gan_generator_loss",
    "generalized_dice_loss",
    "list_losses",
    "signed_distance_map",
]


class LossTerm(nn.Module):
    """Base of the composable losses: ``inputs`` names the keyword arguments of ``forward``."""

    inputs: tuple[str, ...] = ()


class CrossEntropyLoss(LossTerm):
    """:func:`~tamperscope.losses.segmentation.cross_entropy_loss` as a term."""

    inputs = ("mask_logits", "mask")

    def __init__(self, class_weights: ClassWeights = None) -> None:
        super().__init__()
        self.class_weights = class_weights

    def forward(self, mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return cross_entropy_loss(mask_logits, mask, self.class_weights)


class WeightedCrossEntropyLoss(LossTerm):
    """Cross entropy with pristine weighted 1 and every tampered class ``tampered_weight``.

    Args:
        tampered_weight: weight of source and target (3-class) or forged (1-class) pixels
            (default 10).
    """

    inputs = ("mask_logits", "mask")

    def __init__(self, tampered_weight: float = 10.0) -> None:
        super().__init__()
        self.tampered_weight = float(tampered_weight)

    def forward(self, mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        k = check_segmentation_inputs(mask_logits, mask)
        weights = [1.0] + [self.tampered_weight] * (k - 1)
        return cross_entropy_loss(mask_logits, mask, weights)


class FocalLoss(LossTerm):
    """:func:`~tamperscope.losses.segmentation.focal_loss` as a term."""

    inputs = ("mask_logits", "mask")

    def __init__(self, gamma: float = 2.0, class_weights: ClassWeights = None) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"focal loss gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)
        self.class_weights = class_weights

    def forward(self, mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return focal_loss(mask_logits, mask, self.gamma, self.class_weights)


class DiceLoss(LossTerm):
    """:func:`~tamperscope.losses.segmentation.dice_loss` as a term."""

    inputs = ("mask_logits", "mask")

    def __init__(self, smooth: float = 1.0, include_background: bool = True) -> None:
        super().__init__()
        self.smooth = float(smooth)
        self.include_background = bool(include_background)

    def forward(self, mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return dice_loss(mask_logits, mask, self.smooth, self.include_background)


class GeneralizedDiceLoss(LossTerm):
    """:func:`~tamperscope.losses.segmentation.generalized_dice_loss` as a term."""

    inputs = ("mask_logits", "mask")

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = float(eps)

    def forward(self, mask_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return generalized_dice_loss(mask_logits, mask, self.eps)


class BoundaryLoss(LossTerm):
    """:func:`~tamperscope.losses.segmentation.boundary_loss` as a term."""

    inputs = ("mask_logits", "dist_maps")

    def __init__(self, include_background: bool = False) -> None:
        super().__init__()
        self.include_background = bool(include_background)

    def forward(self, mask_logits: torch.Tensor, dist_maps: torch.Tensor) -> torch.Tensor:
        return boundary_loss(mask_logits, dist_maps, self.include_background)


class DetectionBCELoss(LossTerm):
    """:func:`~tamperscope.losses.segmentation.detection_bce_loss` as a term."""

    inputs = ("score_logit", "label")

    def __init__(self, pos_weight: float | None = None) -> None:
        super().__init__()
        self.pos_weight = pos_weight

    def forward(self, score_logit: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return detection_bce_loss(score_logit, label, self.pos_weight)


class GanGeneratorLoss(LossTerm):
    """:func:`~tamperscope.losses.adversarial.gan_generator_loss` as a term."""

    inputs = ("disc_fake",)

    def __init__(self, mode: GanMode = "vanilla") -> None:
        super().__init__()
        check_gan_mode(mode)
        self.mode: GanMode = mode

    def forward(self, disc_fake: torch.Tensor) -> torch.Tensor:
        return gan_generator_loss(disc_fake, self.mode)


class GanDiscriminatorLoss(LossTerm):
    """:func:`~tamperscope.losses.adversarial.gan_discriminator_loss` as a term."""

    inputs = ("disc_real", "disc_fake")

    def __init__(self, mode: GanMode = "vanilla", real_label: float = 1.0) -> None:
        super().__init__()
        check_gan_mode(mode)
        self.mode: GanMode = mode
        self.real_label = float(real_label)

    def forward(self, disc_real: torch.Tensor, disc_fake: torch.Tensor) -> torch.Tensor:
        return gan_discriminator_loss(disc_real, disc_fake, self.mode, self.real_label)


LOSSES: dict[str, Callable[..., LossTerm]] = {
    "ce": CrossEntropyLoss,
    "weighted_ce": WeightedCrossEntropyLoss,
    "focal": FocalLoss,
    "dice": DiceLoss,
    "generalized_dice": GeneralizedDiceLoss,
    "boundary": BoundaryLoss,
    "detection_bce": DetectionBCELoss,
    "gan_generator": GanGeneratorLoss,
    "gan_discriminator": GanDiscriminatorLoss,
}


def list_losses() -> list[str]:
    """Names accepted by :func:`build_loss`, sorted."""
    return sorted(LOSSES)


class CompositeLoss(nn.Module):
    """Weighted sum of loss terms (built by :func:`build_loss`).

    Args:
        terms: (key, weight, term) triples; keys are unique.
    """

    def __init__(self, terms: Sequence[tuple[str, float, LossTerm]]) -> None:
        super().__init__()
        self.keys = [key for key, _, _ in terms]
        self.weights = [weight for _, weight, _ in terms]
        self.terms = nn.ModuleList([term for _, _, term in terms])
        self.term_inputs: list[tuple[str, ...]] = [term.inputs for _, _, term in terms]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Named inputs the terms need, in first-use order."""
        names: dict[str, None] = {}
        for term_inputs in self.term_inputs:
            names.update(dict.fromkeys(term_inputs))
        return tuple(names)

    def forward(self, **inputs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Evaluate every term and their weighted sum.

        Args:
            **inputs: the named tensors the terms need (see the module docstring); extra
                names are ignored.

        Returns:
            total: scalar tensor, sum of weight * term.
            parts: unweighted value of each term, keyed by its name (``name_2``, ... for
                repeated names).

        Raises:
            ValueError: a needed input is missing; the message names the term and input.
        """
        total: torch.Tensor | None = None
        parts: dict[str, torch.Tensor] = {}
        for key, weight, term, needs in zip(
            self.keys, self.weights, self.terms, self.term_inputs, strict=True
        ):
            missing = [name for name in needs if inputs.get(name) is None]
            if missing:
                raise ValueError(
                    f"loss term {key!r} needs input(s) {', '.join(missing)}; pass them as keyword "
                    f"arguments (given: {', '.join(sorted(inputs)) or 'none'})"
                )
            value = term(**{name: inputs[name] for name in needs})
            parts[key] = value
            total = weight * value if total is None else total + weight * value
        assert total is not None  # build_loss refuses empty lists
        return total, parts


def build_loss(specs: Sequence[Mapping[str, Any]]) -> CompositeLoss:
    """Build a weighted sum of losses from ``[{name, weight, **options}, ...]``.

    Args:
        specs: one mapping per term: ``name`` (see :func:`list_losses`), optional ``weight``
            (finite, >= 0, default 1), and the term's constructor options (e.g. ``gamma`` for
            ``"focal"``, ``class_weights`` for ``"ce"``, ``mode`` for the GAN terms).

    Returns:
        a :class:`CompositeLoss`, called with named inputs, returning ``(total, parts)``.

    Raises:
        ValueError: empty list, a term without ``name``, a bad ``weight`` or unknown options.
        KeyError: unknown loss name; the message lists close matches.
    """
    if isinstance(specs, Mapping) or not isinstance(specs, Sequence) or not specs:
        raise ValueError(
            f"build_loss needs a non-empty list of {{name, weight, ...}} mappings, got {specs!r}"
        )
    terms: list[tuple[str, float, LossTerm]] = []
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if not isinstance(spec, Mapping) or "name" not in spec:
            raise ValueError(f"loss term {i} must be a mapping with a 'name', got {spec!r}")
        options = dict(spec)
        name = str(options.pop("name"))
        weight = options.pop("weight", 1.0)
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not (math.isfinite(weight) and weight >= 0)
        ):
            raise ValueError(
                f"loss term {name!r}: weight must be a finite number >= 0, got {weight!r}"
            )
        if name not in LOSSES:
            close = difflib.get_close_matches(name, LOSSES, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"unknown loss {name!r}{hint} (known: {', '.join(list_losses())})")
        cls = LOSSES[name]
        accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ValueError(
                f"loss term {name!r}: unknown option(s) {', '.join(unknown)} "
                f"(accepted: {', '.join(accepted) or 'none'})"
            )
        seen[name] = seen.get(name, 0) + 1
        key = name if seen[name] == 1 else f"{name}_{seen[name]}"
        terms.append((key, float(weight), cls(**options)))
    return CompositeLoss(terms)
