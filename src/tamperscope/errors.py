"""Exceptions raised by tamperscope.

Every error a user can trigger with bad input derives from :class:`TamperscopeError` and names
the file and the problem, so a batch command can report it and go on with the other files.
"""

from __future__ import annotations

from pathlib import Path


class TamperscopeError(Exception):
    """Base class of the errors tamperscope raises on bad input or configuration."""


class ImageReadError(TamperscopeError):
    """An image or mask file could not be decoded.

    Attributes:
        path: the file that failed.
        reason: what is wrong with it, in words.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DatasetError(TamperscopeError):
    """A dataset folder does not have the layout its reader expects."""
