"""Distributed helpers: single-process runs never touch torch.distributed; device choice."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from tamperscope.engine.distributed import (
    DistributedContext,
    all_reduce_mean,
    barrier,
    cleanup_distributed,
    init_distributed,
    resolve_device,
    unwrap_model,
)


@pytest.mark.parametrize("world_size", [None, "1"])
def test_ddp_init_is_skipped_without_torchrun(
    monkeypatch: pytest.MonkeyPatch, world_size: str | None
) -> None:
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    if world_size is not None:
        monkeypatch.setenv("WORLD_SIZE", world_size)
    ctx = init_distributed(torch.device("cpu"))
    assert ctx == DistributedContext(enabled=False, rank=0, local_rank=0, world_size=1)
    assert ctx.is_main
    assert not dist.is_initialized()
    value = torch.tensor([1.0, 3.0])
    assert torch.equal(all_reduce_mean(value, ctx), value)
    barrier(ctx)
    cleanup_distributed(ctx)
    assert not dist.is_initialized()


def test_bad_launcher_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE, RANK and LOCAL_RANK must be integers"):
        init_distributed(torch.device("cpu"))


def test_device_comes_from_the_caller() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected
    assert resolve_device("").type == expected
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_says_so() -> None:
    with pytest.raises(ValueError, match="CUDA is not available \\(use --device cpu\\)"):
        resolve_device("cuda")


def test_unwrapping_a_bare_network() -> None:
    net = torch.nn.Linear(2, 2)
    assert unwrap_model(net) is net
