"""Scalar logs of a training run: TensorBoard when installed, always a JSONL file.

Every scalar goes to ``<run_dir>/scalars.jsonl`` (one JSON object per line: ``tag``,
``value``, ``step``), which needs nothing beyond the standard library and is easy to plot or
test. When the ``tensorboard`` package is installed, the same scalars are written as
TensorBoard event files under ``<run_dir>/tensorboard``; when it is not, a single log message
says so and the JSONL file is the only log.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

__all__ = ["ScalarLogger"]

logger = logging.getLogger(__name__)

_warned_no_tensorboard = False


class ScalarLogger:
    """Write training scalars (only on the main process).

    Args:
        run_dir: the run folder.
        enabled: False on non-main ranks: every call is a no-op.
        tensorboard: also write TensorBoard event files when the package is available.
    """

    def __init__(
        self, run_dir: str | Path, *, enabled: bool = True, tensorboard: bool = True
    ) -> None:
        global _warned_no_tensorboard
        self.enabled = enabled
        self.path = Path(run_dir) / "scalars.jsonl"
        self._writer: Any = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                if not _warned_no_tensorboard:
                    logger.warning(
                        "tensorboard is not installed: scalars are logged to %s only "
                        "(pip install tensorboard for TensorBoard logs)",
                        self.path,
                    )
                    _warned_no_tensorboard = True
            else:
                self._writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    @property
    def has_tensorboard(self) -> bool:
        """Whether TensorBoard event files are written."""
        return self._writer is not None

    def log(self, scalars: dict[str, float | None], step: int) -> None:
        """Write ``{tag: value}`` at ``step``; None and non-finite values are skipped."""
        if not self.enabled:
            return
        for tag, value in scalars.items():
            if value is None or not math.isfinite(float(value)):
                continue
            self._fh.write(
                json.dumps({"tag": tag, "value": float(value), "step": int(step)}) + "\n"
            )
            if self._writer is not None:
                self._writer.add_scalar(tag, float(value), int(step))
        self._fh.flush()

    def close(self) -> None:
        """Flush and close the files."""
        if not self.enabled:
            return
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if not self._fh.closed:
            self._fh.close()
