"""The contract every tamperscope model follows.

:class:`TamperModel` is the base of the registered networks and detectors (in the spirit of
segmentation_models_pytorch's ``SegmentationModel`` with its hub mixin). It

- records the constructor kwargs in ``config``, so that a weights file rebuilds its model;
- declares what callers read without looking at the architecture: the analysis size
  (``analysis_long_side``), the output grid (``output_stride``), the mask channels
  (``classes``, ``num_classes``, ``union_only``), the input normalisation (the ``mean`` and
  ``std`` buffers) and the pretrained feature extractor (:meth:`TamperModel.get_backbone`);
- checks input tensors through :func:`check_tensor`, whose messages say the fix (kornia's
  ``KORNIA_CHECK_SHAPE``).

:class:`PairModel` adds the probe/donor protocol: features of a donor are computed once and
reused against many probes. What a model does (its task) and whether it trains are recorded
when it is registered (:func:`tamperscope.registry.register_model`); ``forward`` returns one of
the dataclasses of :mod:`tamperscope.models.outputs`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from tamperscope.models.outputs import PAIR_CLASSES, UNION_CLASSES, PairOutput

__all__ = ["PairModel", "TamperModel", "check_tensor", "jsonable"]


def jsonable(value: Any) -> Any:
    """Constructor kwargs as JSON values: tuples become lists, recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _shape_hint(shape: tuple[int, ...], dims: Sequence[str | int], name: str) -> str:
    """The likely fix of a shape mismatch, or ``""``."""
    channels = dims[1] if len(dims) == 4 and isinstance(dims[1], int) else None
    if len(shape) == len(dims) - 1 and dims and dims[0] == "B":
        if channels is not None and shape[-1] == channels and shape[0] != channels:
            return f"; channels last without a batch axis? use {name}.permute(2, 0, 1).unsqueeze(0)"
        return f"; add the batch axis: {name}.unsqueeze(0)"
    if len(shape) != len(dims) or channels is None or shape[1] == channels:
        return ""
    if shape[-1] == channels:
        return f"; channels last? use {name}.permute(0, 3, 1, 2)"
    if channels == 3 and shape[1] == 1:
        return f"; convert grey to RGB: {name}.repeat(1, 3, 1, 1)"
    if channels == 3 and shape[1] == 4:
        return f"; convert RGBA to RGB: {name}[:, :3]"
    return ""


def check_tensor(
    x: Any,
    dims: Sequence[str | int],
    *,
    name: str,
    owner: str = "",
    floating: bool = True,
    error: type[Exception] = ValueError,
) -> None:
    """Check an input tensor's shape (and dtype) early, with a message that says the fix.

    Messages read ``"OWNER: NAME must have shape (B, 3, H, W), got (3, 64, 64); add the batch
    axis: NAME.unsqueeze(0)"``. The hints cover a missing batch axis, channels last, grey
    (1 channel) and RGBA (4 channels) images where RGB is expected, an integer dtype where a
    float is expected (``NAME.float() / 255`` for uint8) and arrays that are not tensors.

    Args:
        x: the value to check.
        dims: the expected dimensions: an int for a fixed size, a letter for any size
            (e.g. ``("B", 3, "H", "W")``).
        name: the argument's name as the caller writes it (``"image"``, ``"probe"``); the
            fixes are written with it.
        owner: who expects it (``"DOA-GAN"``), put before the message; ``""`` for none.
        floating: the tensor must have a floating dtype (images are float in [0, 1]).
        error: the exception type raised; a ``ValueError`` subclass of the caller's
            (e.g. :class:`~tamperscope.models.keypoint.KeypointInputError`).

    Raises:
        ValueError: (or ``error``) not a tensor, wrong number of dimensions, a wrong fixed
            size, or an integer dtype where a float is expected.
    """
    subject = f"{owner}: {name}" if owner else name
    expected = "(" + ", ".join(str(d) for d in dims) + ")"
    if not isinstance(x, torch.Tensor):
        hint = f"; convert with torch.as_tensor({name})" if hasattr(x, "__array__") else ""
        raise error(
            f"{subject} must be a torch.Tensor of shape {expected}, got {type(x).__name__}{hint}"
        )
    shape = tuple(x.shape)
    fits = len(shape) == len(dims) and all(
        not isinstance(want, int) or size == want for size, want in zip(shape, dims, strict=True)
    )
    if not fits:
        raise error(
            f"{subject} must have shape {expected}, got {shape}{_shape_hint(shape, dims, name)}"
        )
    if floating and not x.is_floating_point():
        fix = f"{name}.float() / 255" if x.dtype == torch.uint8 else f"{name}.float()"
        raise error(
            f"{subject} must be a float tensor (images: float in [0, 1]), got dtype {x.dtype}; "
            f"convert with {fix}"
        )


class TamperModel(nn.Module):
    """Base class of tamperscope's registered models.

    Subclasses call ``super().__init__()`` first. After the subclass's ``__init__`` returns,
    ``config`` holds its constructor kwargs as JSON values (every parameter of the signature,
    defaults included), unless the subclass set ``self.config`` itself (to normalise values
    or leave out arguments that a registered constructor fixes, such as the backbone).
    ``tamperscope.registry.create_model(name, **model.config)`` then rebuilds the model.

    Sub-networks (backbones, heads, layers) stay plain ``torch.nn.Module``.

    Attributes:
        config: the constructor kwargs, JSON-serialisable.
        analysis_long_side: long side (pixels) at which ``analyze`` feeds images when the
            weights name none; ``None`` for the full image (detectors that resize themselves).
            Class attribute, default 512.
        analysis_tile: side (pixels) of the native-resolution tiles in which ``analyze``
            feeds images to a localization model (an image that fits is analysed whole, at its
            own size); ``None`` to resize to ``analysis_long_side`` instead. Class attribute,
            default None.
        output_stride: pixels per cell of the output masks: 1 when the logits have the input
            size, 8 for DMAC (logits on a ceil(H / 8) x ceil(W / 8) grid). Class attribute.
        classes: names of the mask channels, in channel order (see
            :mod:`tamperscope.models.outputs`: ``("pristine", "source", "target")``,
            ``("forged",)`` or ``("not_shared", "shared")``). Subclasses set it, on the class
            or, when it depends on the constructor kwargs, on the instance.
        mean: (1, 3, 1, 1) float32 buffer (not saved in the state dict), per-channel mean
            that ``forward`` subtracts from the [0, 1] RGB input; 0 for models that do not
            normalise. Set with :meth:`set_normalization`.
        std: (1, 3, 1, 1) float32 buffer (not saved), per-channel divisor after the mean;
            1 for models that do not normalise.
    """

    analysis_long_side: ClassVar[int | None] = 512
    analysis_tile: ClassVar[int | None] = None
    output_stride: ClassVar[int] = 1
    classes: tuple[str, ...] = ()
    config: dict[str, Any]
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.set_normalization((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

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

    @property
    def num_classes(self) -> int:
        """Channels of the output masks: ``len(classes)``."""
        return len(self.classes)

    @property
    def union_only(self) -> bool:
        """True for a 1-class copy-move head (forged vs pristine), which cannot tell source
        from target."""
        return tuple(self.classes) == UNION_CLASSES

    def set_normalization(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Set the ``mean`` and ``std`` buffers that :meth:`normalize` applies.

        Args:
            mean: three per-channel means (RGB, in [0, 1] units).
            std: three per-channel standard deviations, > 0.
        """
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """``(image - mean) / std``.

        Args:
            image: (B, 3, H, W) float in [0, 1], RGB.

        Returns:
            (B, 3, H, W) float, the input of the feature extractor.
        """
        return (image - self.mean) / self.std

    def get_backbone(self) -> nn.Module | None:
        """The pretrained feature extractor, or ``None`` when the model has none.

        The trainer gives its parameters their own learning rate and may freeze it.
        """
        return None


class PairModel(TamperModel):
    """Base of probe/donor models (task ``pair``): ``forward(probe, donor) -> PairOutput``.

    The forward pass splits into :meth:`encode` (features of one batch of images) and
    :meth:`decode` (the two feature sets to logits), so that the features of a donor are
    computed once and matched against many probes (windows of a large probe, a gallery).
    Subclasses implement both; ``forward`` may be overridden for speed but must equal
    ``decode(encode(probe), encode(donor))``.

    Attributes:
        classes: ``("not_shared", "shared")``.
    """

    classes = PAIR_CLASSES

    def encode(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Features of a batch of images.

        Args:
            image: (B, 3, H, W) float32 in [0, 1], RGB.

        Returns:
            the model's feature maps, each (B, d, h, w) float.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement encode")

    def decode(
        self, probe_features: Sequence[torch.Tensor], donor_features: Sequence[torch.Tensor]
    ) -> PairOutput:
        """Logits of the shared region from the probe's and the donor's features.

        Args:
            probe_features: :meth:`encode` of the probes (batch B).
            donor_features: :meth:`encode` of the donors (batch B, or 1: one donor against
                every probe).

        Returns:
            PairOutput with probe_logits and donor_logits (B, 2, h, w) float.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement decode")

    def forward(self, probe: torch.Tensor, donor: torch.Tensor) -> PairOutput:
        """Localize the region shared by each probe and its donor.

        Args:
            probe: (B, 3, H, W) float32 in [0, 1], RGB.
            donor: (B, 3, H, W) float32 in [0, 1], RGB.

        Returns:
            PairOutput with probe_logits and donor_logits (B, 2, h, w) float32 logits.
        """
        return self.decode(self.encode(probe), self.encode(donor))
