"""Multi-GPU helpers for ``torchrun``: process group set-up, rank checks, reductions.

Training is distributed only when the launcher says so: ``torchrun --nproc_per_node=N`` sets
``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in the environment, and :func:`init_distributed`
then joins the process group (NCCL on CUDA, Gloo on CPU). Without ``WORLD_SIZE`` (or with
``WORLD_SIZE=1``) nothing is initialised and the trainer runs as a single process. Only rank 0
logs and writes checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistributedContext",
    "all_reduce_mean",
    "barrier",
    "all_gather_objects",
    "cleanup_distributed",
    "init_distributed",
    "resolve_device",
    "unwrap_model",
]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a (possibly single-process) run.

    Attributes:
        enabled: a process group was initialised (``WORLD_SIZE`` > 1).
        rank: global rank (0 in a single process).
        local_rank: rank on this machine (selects the GPU).
        world_size: number of processes.
    """

    enabled: bool = False
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this process logs and writes checkpoints (rank 0)."""
        return self.rank == 0


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device asked for, or CUDA when available and nothing was asked for.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a torch.device, or ``None``/``""``.

    Raises:
        ValueError: CUDA was asked for but is not available, or the name is not a device.
    """
    if device is None or device == "":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r} (use cpu, cuda or cuda:N)") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} asked for, but CUDA is not available (use --device cpu)"
        )
    return dev


def init_distributed(device: torch.device) -> DistributedContext:
    """Join the ``torchrun`` process group when ``WORLD_SIZE`` > 1; otherwise do nothing.

    Args:
        device: the device kind of this run; CUDA runs use NCCL and one GPU per process
            (``cuda:LOCAL_RANK``), CPU runs use Gloo.

    Returns:
        The context; ``enabled`` is False (and no process group exists) for single-process runs.

    Raises:
        ValueError: ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` are not integers.
    """
    try:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as exc:
        raise ValueError(f"WORLD_SIZE, RANK and LOCAL_RANK must be integers ({exc})") from None
    if world_size <= 1:
        return DistributedContext()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistributedContext(enabled=True, rank=rank, local_rank=local_rank, world_size=world_size)


def cleanup_distributed(ctx: DistributedContext) -> None:
    """Leave the process group if this run joined one."""
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistributedContext) -> None:
    """Wait for every process (no-op in a single process)."""
    if ctx.enabled:
        dist.barrier()


def all_reduce_mean(value: torch.Tensor, ctx: DistributedContext) -> torch.Tensor:
    """Mean of ``value`` over the processes (the value itself in a single process).

    Args:
        value: any float tensor, same shape on every process.
    """
    if not ctx.enabled:
        return value
    out = value.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / ctx.world_size


def all_gather_objects(value: Any, ctx: DistributedContext) -> list[Any]:
    """``value`` of every process, by rank (``[value]`` in a single process).

    Args:
        value: a picklable object; every process must call this at the same point.
    """
    if not ctx.enabled:
        return [value]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, value)
    return out


def unwrap_model(model: nn.Module) -> nn.Module:
    """The network inside a ``DistributedDataParallel`` wrapper (``model`` itself otherwise)."""
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, nn.Module) else model
