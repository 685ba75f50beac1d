"""Weight initialisation of the heads built on top of pretrained backbones."""

from __future__ import annotations

from torch import nn


def init_head_weights(module: nn.Module, *, skip_frozen: bool = False) -> None:
    """Initialise one module of a head (use with :meth:`torch.nn.Module.apply`).

    Convolutions get Kaiming-normal weights (fan-out, ReLU) and zero biases, BatchNorm layers
    unit weights and zero biases; other modules are left as they are.

    Args:
        module: the module to initialise.
        skip_frozen: leave convolutions whose weight does not require gradients as they are.
    """
    if isinstance(module, nn.Conv2d):
        if skip_frozen and not module.weight.requires_grad:
            return
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
