"""Optimizers, learning-rate schedule and the discriminator's training rules (DOA-GAN recipe).

Islam, Long, Basharat, Hoogs, "DOA-GAN: Dual-Order Attentive Generative Adversarial Network
for Image Copy-move Forgery Detection and Localization", CVPR 2020: Adam (betas 0.9, 0.999),
learning rate 1e-3 for the generator, 1e-4 for the discriminator and for the pretrained
backbone; the learning rates are halved when the validation loss stops improving
(ReduceLROnPlateau, factor 0.5). The generator trains alone for some warm-up epochs; after
that, the discriminator is updated only while its loss is at least 0.3, so that it does not
overpower the generator.
"""

from __future__ import annotations

from torch import nn
from torch.optim import Adam, Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from tamperscope.engine.config import OptimConfig
from tamperscope.engine.distributed import unwrap_model

__all__ = [
    "build_discriminator_optimizer",
    "build_generator_optimizer",
    "build_plateau_scheduler",
    "discriminator_may_update",
    "in_warmup",
    "split_backbone_parameters",
]


def split_backbone_parameters(
    model: nn.Module, backbone_attr: str = "backbone"
) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Trainable parameters of ``model`` split into (backbone, rest).

    Args:
        model: the generator (a DDP wrapper is unwrapped).
        backbone_attr: attribute naming the backbone submodule; when the model has none, the
            backbone list is empty.

    Returns:
        ``(backbone_params, other_params)``, each in module order, frozen parameters left out.
    """
    bare = unwrap_model(model)
    backbone = getattr(bare, backbone_attr, None) if backbone_attr else None
    backbone_ids = (
        {id(p) for p in backbone.parameters()} if isinstance(backbone, nn.Module) else set()
    )
    bb: list[nn.Parameter] = []
    rest: list[nn.Parameter] = []
    for p in bare.parameters():
        if not p.requires_grad:
            continue
        (bb if id(p) in backbone_ids else rest).append(p)
    return bb, rest


def build_generator_optimizer(
    model: nn.Module, cfg: OptimConfig, backbone_attr: str = "backbone"
) -> Optimizer:
    """Adam over the generator: backbone at ``cfg.lr_backbone``, the rest at ``cfg.lr_generator``.

    Raises:
        ValueError: the model has no trainable parameter.
    """
    bb, rest = split_backbone_parameters(model, backbone_attr)
    groups = []
    if rest:
        groups.append({"params": rest, "lr": cfg.lr_generator, "name": "generator"})
    if bb:
        groups.append({"params": bb, "lr": cfg.lr_backbone, "name": "backbone"})
    if not groups:
        raise ValueError("the generator has no trainable parameter")
    return Adam(groups, lr=cfg.lr_generator, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)  # type: ignore[arg-type]


def build_discriminator_optimizer(discriminator: nn.Module, cfg: OptimConfig) -> Optimizer:
    """Adam over the discriminator at ``cfg.lr_discriminator``."""
    return Adam(
        discriminator.parameters(),
        lr=cfg.lr_discriminator,
        betas=tuple(cfg.betas),  # type: ignore[arg-type]
        weight_decay=cfg.weight_decay,
    )


def build_plateau_scheduler(optimizer: Optimizer, cfg: OptimConfig) -> ReduceLROnPlateau:
    """ReduceLROnPlateau on a loss (mode ``min``): rates times ``cfg.plateau_factor`` after
    ``cfg.plateau_patience`` epochs without improvement, never under ``cfg.min_lr``."""
    return ReduceLROnPlateau(
        optimizer,
        mode="min",
        factor=cfg.plateau_factor,
        patience=cfg.plateau_patience,
        min_lr=cfg.min_lr,
    )


def in_warmup(epoch: int, warmup_epochs: int) -> bool:
    """Whether ``epoch`` (0-based) is a generator-only warm-up epoch.

    During warm-up the discriminator is neither updated nor used in the generator's loss.
    """
    return epoch < warmup_epochs


def discriminator_may_update(d_loss: float, threshold: float = 0.3) -> bool:
    """The freeze rule: update the discriminator only while its loss is at least ``threshold``.

    Args:
        d_loss: the discriminator loss of the current batch, 0.5 (L_real + L_fake).
        threshold: DOA-GAN's 0.3.

    Returns:
        False when the discriminator is frozen for this batch (no optimizer step).
    """
    return d_loss >= threshold
