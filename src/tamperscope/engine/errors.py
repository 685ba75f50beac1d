"""The error of a training run that cannot start or continue."""

from __future__ import annotations

from tamperscope.errors import TamperscopeError

__all__ = ["TrainingError"]


class TrainingError(TamperscopeError):
    """A training run cannot start or continue (bad run folder, data too small, a model that
    is not trained as a whole, a checkpoint of another run, ...)."""
