"""``tamperscope evaluate``: score predictions against a dataset."""

from __future__ import annotations


def evaluate() -> None:
    """Score predicted masks and scores against a dataset's ground truth."""
    raise NotImplementedError
