"""Model registry: ``@register_model("name")``, :func:`create_model`, :func:`list_models`."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_MODELS: dict[str, Callable[..., Any]] = {}


def register_model(name: str) -> Callable[[F], F]:
    """Register a model constructor under ``name``.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def wrap(fn: F) -> F:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = fn
        return fn

    return wrap


def _ensure_builtin_models() -> None:
    # Importing the package registers the built-in models.
    import tamperscope.models  # noqa: F401


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    _ensure_builtin_models()
    return sorted(_MODELS)


def get_model_constructor(name: str) -> Callable[..., Any]:
    """The constructor registered under ``name``.

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


def create_model(name: str, **kwargs: Any) -> Any:
    """Build the model registered under ``name`` with constructor kwargs.

    Raises:
        KeyError: unknown name; the message lists close matches.
    """
    return get_model_constructor(name)(**kwargs)
