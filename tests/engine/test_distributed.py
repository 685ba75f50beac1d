"""Distributed helpers: single-process runs never touch torch.distributed; device choice;
an exact resume of a two-process run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from _engine_helpers import assert_same_checkpoints, write_generated_set

from tamperscope.engine.distributed import (
    DistributedContext,
    all_gather_objects,
    all_reduce_mean,
    barrier,
    cleanup_distributed,
    init_distributed,
    resolve_device,
    unwrap_model,
)

HERE = Path(__file__).resolve().parent


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


def test_gathering_and_unwrapping_in_one_process() -> None:
    assert all_gather_objects({"a": 1}, DistributedContext()) == [{"a": 1}]
    net = torch.nn.Linear(2, 2)
    assert unwrap_model(net) is net


@pytest.mark.slow
def test_two_processes_resume_exactly(tmp_path: Path) -> None:
    # Two CPU processes (Gloo) under torchrun: the discriminator's gradients are averaged by
    # hand, validation runs on the main process only, and each process gets its own RNG
    # states back on resume. 8 samples, 2 processes, batch 2: 2 steps per epoch; the run
    # stopped after 3 steps is in epoch 1, after the validation of epoch 0.
    write_generated_set(tmp_path / "gen", 8)
    write_generated_set(tmp_path / "val", 4, seed=1, negatives=2)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), str(HERE.parent), str(HERE.parents[1] / "src"), env.get("PYTHONPATH", "")]
    )
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    launch += ["--nproc_per_node", "2", str(HERE / "_ddp_resume.py")]
    for run, steps, *resume in (("straight", 6), ("resumed", 3), ("resumed", 6, "resume")):
        args = [str(tmp_path / run), str(steps), *resume]
        done = subprocess.run(launch + args, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    straight = tmp_path / "straight" / "checkpoints" / "step_00000006"
    resumed = tmp_path / "resumed" / "checkpoints" / "step_00000006"
    state = assert_same_checkpoints(straight, resumed)
    assert len(state["rng_by_rank"]) == 2 and state["rng"] == state["rng_by_rank"][0]
