"""The contract every tamperscope model follows.

:class:`TamperModel` is the base of the networks and detectors (in the spirit of
segmentation_models_pytorch's ``SegmentationModel`` with its hub mixin): it records the
constructor kwargs in ``config`` so that a weights file rebuilds its model, declares the
analysis size, and checks input tensors through :func:`check_tensor`, whose messages say the
fix (kornia's ``KORNIA_CHECK_SHAPE``). What a model does (its task) and whether it trains are
recorded when it is registered (:func:`tamperscope.registry.register_model`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

__all__ = ["TamperModel", "check_tensor", "jsonable"]


def jsonable(value: Any) -> Any:
    """Constructor kwargs as JSON values: tuples become lists, recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def check_tensor(
    x: Any,
    dims: Sequence[str | int],
    *,
    name: str,
    floating: bool = True,
) -> None:
    """Check an input tensor's shape (and dtype) early, with a message that says the fix.

    Args:
        x: the value to check.
        dims: the expected dimensions: an int for a fixed size, a letter for any size
            (e.g. ``("B", 3, "H", "W")``).
        name: who expects it, for the message (e.g. ``"DOA-GAN image"``).
        floating: the tensor must have a floating dtype (images are float in [0, 1]).

    Raises:
        ValueError: not a tensor, wrong number of dimensions, a wrong fixed size, or an
            integer dtype where a float is expected.
    """
    expected = "(" + ", ".join(str(d) for d in dims) + ")"
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape {expected}, got {type(x)}")
    shape = tuple(x.shape)
    hint = ""
    if x.ndim == len(dims) - 1 and dims and dims[0] == "B":
        hint = " (add the batch axis: x.unsqueeze(0))"
    elif x.ndim == len(dims):
        for size, want in zip(shape, dims, strict=True):
            if isinstance(want, int) and size != want:
                if want == 3 and size in (1, 4):
                    hint = " (convert to RGB: repeat grey channels, drop alpha)"
                elif len(dims) == 4 and shape[-1] == want:
                    hint = " (channels last? use x.permute(0, 3, 1, 2))"
                break
        else:
            if floating and not x.is_floating_point():
                raise ValueError(
                    f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}; "
                    "convert with x.float() / 255"
                )
            return
    raise ValueError(f"{name} must have shape {expected}, got {shape}{hint}")


class TamperModel(nn.Module):
    """Base class of tamperscope's models.

    Subclasses call ``super().__init__()`` first. After the subclass's ``__init__`` returns,
    ``config`` holds its constructor kwargs as JSON values (every parameter of the signature,
    defaults included), unless the subclass set ``self.config`` itself (to normalise values
    or leave out arguments that a registered constructor fixes, such as the backbone).
    ``tamperscope.registry.create_model(name, **model.config)`` then rebuilds the model.

    Attributes:
        config: the constructor kwargs, JSON-serialisable.
        analysis_long_side: long side (pixels) at which ``analyze`` feeds images when the
            weights name none; ``None`` for the full image (detectors that resize themselves).
    """

    analysis_long_side: ClassVar[int | None] = 512
    config: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        init = cls.__dict__["__init__"]
        signature = inspect.signature(init)

        @functools.wraps(init)
        def __init__(self: TamperModel, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            if type(self) is cls and "config" not in self.__dict__:
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                captured: dict[str, Any] = {}
                for pname, value in list(bound.arguments.items())[1:]:
                    kind = signature.parameters[pname].kind
                    if kind is inspect.Parameter.VAR_KEYWORD:
                        captured.update(value)
                    elif kind is not inspect.Parameter.VAR_POSITIONAL:
                        captured[pname] = value
                self.config = jsonable(captured)

        cls.__init__ = __init__  # type: ignore[method-assign]
