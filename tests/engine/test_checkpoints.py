"""Checkpoints (safetensors + JSON): round trip, model rebuild, export, RNG, errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from _engine_helpers import TINY, tiny_config
from safetensors import safe_open

from tamperscope.engine import train
from tamperscope.engine.checkpoints import (
    CheckpointError,
    capture_rng_state,
    export_weights,
    flatten_optimizer_state,
    load_checkpoint,
    read_checkpoint,
    rebuild_kwargs,
    restore_rng_state,
    save_checkpoint,
    unflatten_optimizer_state,
)
from tamperscope.registry import create_model
from tamperscope.weights.batchnorm import disable_bn_running_stats


def _trained_model_and_optimizer() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = create_model(TINY, num_classes=3, width=4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.rand(2, 3, 16, 16)
    for _ in range(2):
        opt.zero_grad()
        out = model(x)
        (out.mask_logits.mean() + out.score_logit.mean()).backward()
        opt.step()
    return model.eval(), opt


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model, opt = _trained_model_and_optimizer()
    path = save_checkpoint(
        tmp_path / "ck" / "step_00000002",
        model=model,
        model_name=TINY,
        model_config=model.config,
        state={"step": 2, "epoch": 0, "best_metric": 0.5},
        optimizers={"generator": opt},
    )
    assert sorted(p.name for p in path.iterdir()) == [
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
    ]
    ckpt = read_checkpoint(path)
    assert ckpt.model_name == TINY and ckpt.model_config == model.config
    assert ckpt.state["step"] == 2 and ckpt.state["best_metric"] == 0.5
    for key, value in model.state_dict().items():
        assert torch.equal(ckpt.model_state[key], value)
    fresh = torch.optim.Adam(create_model(TINY, num_classes=3, width=4).parameters(), lr=1.0)
    fresh.load_state_dict(ckpt.optimizer_states["generator"])
    saved, loaded = opt.state_dict(), fresh.state_dict()
    assert loaded["param_groups"][0]["lr"] == 1e-2
    for index, entry in saved["state"].items():
        for key, value in entry.items():
            assert torch.equal(loaded["state"][index][key], value)
    rebuilt = load_checkpoint(path)
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(rebuilt(x).mask_logits, model(x).mask_logits)
    assert not any(p.name.endswith(".tmp") for p in path.parent.iterdir())


def test_optimizer_flattening_scheme() -> None:
    _, opt = _trained_model_and_optimizer()
    tensors, meta = flatten_optimizer_state("generator", opt.state_dict())
    assert "generator/0/exp_avg" in tensors and "generator/0/step" in tensors
    json.dumps(meta)  # the non-tensor part is plain JSON
    back = unflatten_optimizer_state("generator", tensors, meta)
    assert torch.equal(back["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_rng_states_restore_exactly() -> None:
    state = capture_rng_state()
    json.dumps(state)
    draws = (random.random(), np.random.rand(), torch.rand(3))  # noqa: NPY002
    restore_rng_state(state)
    again = (random.random(), np.random.rand(), torch.rand(3))  # noqa: NPY002
    assert draws[0] == again[0] and draws[1] == again[1] and torch.equal(draws[2], again[2])


def test_export_and_reload(generated_set: Path, tmp_path: Path) -> None:
    summary = train(tiny_config(generated_set), tmp_path / "run", max_steps=2)
    out = export_weights(summary["checkpoint"], tmp_path / "ship" / "tiny.safetensors")
    with safe_open(str(out), framework="pt") as fh:
        meta = fh.metadata()
        keys = set(fh.keys())
    assert meta["model"] == TINY
    assert json.loads(meta["config"]) == {"num_classes": 3, "width": 8, "dropout": 0.1}
    assert json.loads(meta["classes"]) == ["pristine", "source", "target"]
    assert json.loads(meta["input_size"]) == 32
    assert json.loads(meta["mean"]) == [0.5, 0.5, 0.5]
    assert json.loads(meta["std"]) == [0.25, 0.25, 0.25]
    assert not any(k.startswith("generator/") for k in keys)  # generator weights only
    from_ckpt = load_checkpoint(summary["checkpoint"])
    from_export = load_checkpoint(out)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(from_ckpt(x).mask_logits, from_export(x).mask_logits)
    # The inference API reads the same file.
    from tamperscope.api import load_model

    detector = load_model(weights=out, device="cpu")
    assert detector.name == TINY and detector.long_side == 32
    assert torch.equal(detector.model(x).mask_logits, from_export(x).mask_logits)
    custom = export_weights(
        summary["checkpoint"], tmp_path / "c.safetensors", classes=["forged"], input_size=512
    )
    with safe_open(str(custom), framework="pt") as fh:
        assert json.loads(fh.metadata()["classes"]) == ["forged"]
        assert json.loads(fh.metadata()["input_size"]) == 512


def test_rebuild_kwargs_turn_pretrained_flags_off() -> None:
    kwargs = {"pretrained_backbone": True, "top_k": 20, "pretrained": "imagenet"}
    assert rebuild_kwargs(kwargs) == {
        "pretrained_backbone": False,
        "top_k": 20,
        "pretrained": "imagenet",
    }


def test_model_without_running_stats_is_rebuilt_the_same_way(tmp_path: Path) -> None:
    model = create_model(TINY, num_classes=1, width=4)
    disable_bn_running_stats(model)
    path = save_checkpoint(
        tmp_path / "ck",
        model=model,
        model_name=TINY,
        model_config=model.config,
        state={},
        bn_track_running_stats=False,
    )
    rebuilt = load_checkpoint(path)
    assert rebuilt.backbone[1].running_mean is None
    x = torch.rand(2, 3, 8, 8)
    assert torch.equal(rebuilt(x).mask_logits, model.eval()(x).mask_logits)


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="checkpoint folder does not exist"):
        read_checkpoint(tmp_path / "none")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="incomplete checkpoint, state.json is missing"):
        read_checkpoint(tmp_path / "half")
    with pytest.raises(CheckpointError, match="weights file does not exist"):
        load_checkpoint(tmp_path / "none.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(junk)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="no 'model' entry in its metadata"):
        load_checkpoint(tmp_path / "plain.safetensors")
    with pytest.raises(CheckpointError, match="no 'model' entry"):
        export_weights(tmp_path / "plain.safetensors", tmp_path / "out.safetensors")
    save_file(
        {"w": torch.zeros(1)},
        str(tmp_path / "wrong.safetensors"),
        metadata={"model": TINY, "config": json.dumps({"num_classes": 3})},
    )
    with pytest.raises(CheckpointError, match="tensors do not fit model"):
        load_checkpoint(tmp_path / "wrong.safetensors")
    model = create_model(TINY)
    with pytest.raises(CheckpointError, match="model config of .* is not JSON-serialisable"):
        save_checkpoint(
            tmp_path / "bad", model=model, model_name=TINY, model_config={"x": object()}, state={}
        )
    assert not (tmp_path / "bad").exists()
