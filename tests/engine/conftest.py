"""Fixtures of the engine tests (helpers in ``_engine_helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _engine_helpers import write_generated_set


@pytest.fixture
def generated_set(tmp_path: Path) -> Path:
    """Eight 64x64 copy-move samples (the last two pristine) in the generated layout."""
    return write_generated_set(tmp_path / "gen", 8)
