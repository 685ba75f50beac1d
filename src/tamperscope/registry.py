"""Model registry: ``@register_model(name, task=..., trainable=...)``, :func:`create_model`,
:func:`list_models`.

What a model does is recorded as data when it is registered (its :class:`Task`), so that the
trainer, the evaluation runner, the CLI and the web service pick the right data, losses, metrics
and report without looking at the model's signature or output annotations (the pattern of
torchvision's ``models/_api.py`` and timm's ``models/_registry.py``).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tamperscope.models.base import TamperModel

F = TypeVar("F", bound=Callable[..., Any])


class Task(enum.StrEnum):
    """What a model does.

    Members:
        COPY_MOVE: one image -> (pristine, source, target) mask, or the union (forged) mask
            of a 1-class head, and an image score
            (:class:`~tamperscope.models.outputs.CopyMoveOutput`).
        LOCALIZATION: one image -> a binary manipulated-pixel mask and an image score
            (:class:`~tamperscope.models.outputs.LocalizationOutput`).
        INPAINTING_BOX: one image -> the probability that a part is inpainted and its box
            (:class:`~tamperscope.models.outputs.BoxOutput`).
        PAIR: a probe and a donor -> the shared (spliced) region in both
            (:class:`~tamperscope.models.outputs.PairOutput`).
    """

    COPY_MOVE = "copy_move"
    LOCALIZATION = "localization"
    INPAINTING_BOX = "inpainting_box"
    PAIR = "pair"


@dataclass(frozen=True)
class WeightPart:
    """How the weights of another registered model become a submodule of a composite model.

    A composite model (``keypoint-doagan`` holds a DOA-GAN) is built from the part's registry
    name, constructor kwargs and analysis size, and the part's tensors are loaded under the
    prefix ``attribute + "."``. The same mechanism serves the shipped weights (a spec names
    the spec of its part) and a user's file of the part model.

    Attributes:
        attribute: name of the submodule that holds the part.
        model_kwarg: constructor kwarg that takes the part's registry name.
        kwargs_kwarg: constructor kwarg that takes the part's constructor kwargs (a dict).
        long_side_kwarg: constructor kwarg that takes the part's analysis long side
            (pixels), or ``""`` when the composite has none.
        task: the task a part model must have.
    """

    attribute: str
    model_kwarg: str
    kwargs_kwarg: str
    long_side_kwarg: str = ""
    task: Task = Task.COPY_MOVE

    @property
    def prefix(self) -> str:
        """Prefix of the part's tensor names in the composite's state dict."""
        return self.attribute + "."


@dataclass(frozen=True)
class ModelInfo:
    """A registered model.

    Attributes:
        name: registry name.
        task: what the model does.
        trainable: whether ``tamperscope train`` can train it (training-free detectors and
            hybrids whose output carries no gradient cannot).
        constructor: callable that builds the model (a
            :class:`~tamperscope.models.base.TamperModel`) from constructor kwargs.
        not_trainable_reason: for untrainable models, what to do instead (shown by the trainer).
        parts: for composite models, the parts a weights file of another model can fill, by
            submodule name.
    """

    name: str
    task: Task
    trainable: bool
    constructor: Callable[..., Any]
    not_trainable_reason: str = ""
    parts: tuple[WeightPart, ...] = ()


_MODELS: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    task: Task | str,
    trainable: bool = True,
    not_trainable_reason: str = "",
    parts: tuple[WeightPart, ...] = (),
) -> Callable[[F], F]:
    """Register a model constructor under ``name``.

    Args:
        name: registry name (lower case, words joined by ``-``).
        task: what the model does (a :class:`Task` or its value).
        trainable: whether the trainer may train it.
        not_trainable_reason: for ``trainable=False``, what the user should do instead.
        parts: for composite models, how weights of other models fill their submodules.

    Raises:
        ValueError: ``name`` is already registered, or ``task`` is not a :class:`Task` value.
    """
    task = Task(task)

    def wrap(fn: F) -> F:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = ModelInfo(
            name=name,
            task=task,
            trainable=bool(trainable),
            constructor=fn,
            not_trainable_reason=not_trainable_reason,
            parts=tuple(parts),
        )
        return fn

    return wrap


def unregister_model(name: str) -> None:
    """Remove a registered model (plugins and tests that register temporary models).

    Raises:
        KeyError: ``name`` is not registered.
    """
    del _MODELS[name]


def _ensure_builtin_models() -> None:
    # Importing the package registers the built-in models.
    import tamperscope.models  # noqa: F401


def list_models(task: Task | str | None = None) -> list[str]:
    """Names of the registered models, sorted; only those of ``task`` when given.

    Raises:
        ValueError: ``task`` is not a :class:`Task` value.
    """
    _ensure_builtin_models()
    wanted = Task(task) if task is not None else None
    return sorted(n for n, info in _MODELS.items() if wanted is None or info.task == wanted)


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` registered under ``name``.

    Raises:
        KeyError: unknown name; the message lists close matches.
    """
    _ensure_builtin_models()
    try:
        return _MODELS[name]
    except KeyError:
        close = difflib.get_close_matches(name, _MODELS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(
            f"unknown model {name!r}{hint} (registered: {', '.join(sorted(_MODELS))})"
        ) from None


def model_task(name: str) -> Task:
    """The :class:`Task` of model ``name``.

    Raises:
        KeyError: unknown name.
    """
    return model_info(name).task


def create_model(name: str, **kwargs: Any) -> TamperModel:
    """Build the model registered under ``name`` with constructor kwargs.

    Raises:
        KeyError: unknown name; the message lists close matches.
        TypeError: the registered constructor does not build a
            :class:`~tamperscope.models.base.TamperModel`.
    """
    from tamperscope.models.base import TamperModel

    model = model_info(name).constructor(**kwargs)
    if not isinstance(model, TamperModel):
        raise TypeError(
            f"model {name!r} is registered with a constructor that returns "
            f"{type(model).__name__}, not a tamperscope.models.base.TamperModel"
        )
    return model
