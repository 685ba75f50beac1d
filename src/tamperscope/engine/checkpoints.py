"""Training checkpoints and shipped weights: safetensors + JSON, never pickles.

A checkpoint is a folder, written under a temporary name and renamed into place when complete
(so an interrupted save never leaves a half checkpoint)::

    step_00001000/
        model.safetensors          generator tensors (parameters and buffers); metadata:
                                   model (registry name), config (constructor kwargs, JSON),
                                   model_kwargs (the same, pretrained flags off),
                                   bn_track_running_stats ("true"/"false")
        discriminator.safetensors  discriminator tensors (when there is one); metadata: kind,
                                   config (JSON)
        optimizer.safetensors      every tensor of every optimizer state, flattened (below)
        state.json                 step, epoch, batch in epoch, best metric, early-stopping
                                   counter, RNG states (python, numpy, torch, CUDA), scheduler
                                   states, the non-tensor part of the optimizer states, the
                                   resolved training config

Optimizer state scheme: ``optimizer.state_dict()`` is ``{"state": {index: {key: value}},
"param_groups": [...]}``. Each tensor value is stored in ``optimizer.safetensors`` under
``"<optimizer name>/<index>/<key>"``; every non-tensor value goes to
``state.json["optimizers"][<optimizer name>]["scalars"][<index>][<key>]`` and the param groups
(learning rates, betas, parameter indices) to ``...["param_groups"]``.
:func:`unflatten_optimizer_state` rebuilds the dict that ``optimizer.load_state_dict`` takes.

RNG states are JSON: python's ``random.getstate()`` as lists, numpy's legacy global
generator as its dict form, torch and CUDA generator states as base64 of their bytes.

:func:`export_weights` writes the generator tensors alone in one safetensors file for
shipping, with metadata ``model``, ``config``, ``model_kwargs``, ``classes``, ``input_size``,
``mean``, ``std`` (JSON strings); :func:`load_checkpoint` rebuilds a model from a checkpoint
folder, its ``model.safetensors`` or an exported file.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from tamperscope.engine.distributed import unwrap_model
from tamperscope.errors import TamperscopeError
from tamperscope.weights.loading import rebuild_kwargs

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "capture_rng_state",
    "export_weights",
    "flatten_optimizer_state",
    "latest_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "rebuild_kwargs",
    "restore_rng_state",
    "save_checkpoint",
    "unflatten_optimizer_state",
]

MODEL_FILE = "model.safetensors"
DISCRIMINATOR_FILE = "discriminator.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"
FORMAT = "tamperscope-checkpoint"
VERSION = 1


class CheckpointError(TamperscopeError):
    """A checkpoint or weights file is missing, incomplete or not a tamperscope file."""


@dataclass
class Checkpoint:
    """Everything a checkpoint folder holds, read back by :func:`read_checkpoint`.

    Attributes:
        path: the checkpoint folder.
        model_name: registry name of the generator.
        model_config: its constructor kwargs.
        bn_track_running_stats: False when the model was trained with BatchNorm without
            running statistics (the rebuilt model gets the same conversion).
        model_state: generator tensors (CPU).
        discriminator_state: discriminator tensors, or None.
        discriminator_config: ``{"kind": ..., "config": {...}}`` of the discriminator, or None.
        optimizer_states: optimizer name -> ``state_dict`` as ``load_state_dict`` takes it.
        state: the rest of ``state.json`` (step, epoch, RNG, schedulers, config, ...).
    """

    path: Path
    model_name: str
    model_config: dict[str, Any]
    bn_track_running_stats: bool
    model_state: dict[str, torch.Tensor]
    discriminator_state: dict[str, torch.Tensor] | None = None
    discriminator_config: dict[str, Any] | None = None
    optimizer_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- tensors


def _cpu_tensors(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Clones break storage sharing (tied weights), which safetensors refuses to write.
    return {k: v.detach().to("cpu").clone().contiguous() for k, v in state_dict.items()}


def _json_meta(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


def flatten_optimizer_state(
    name: str, state_dict: dict[str, Any]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer ``state_dict`` into tensors and JSON-serialisable values.

    Args:
        name: optimizer name, the key prefix (``"generator"``, ``"discriminator"``).
        state_dict: ``optimizer.state_dict()``.

    Returns:
        ``(tensors, meta)``: tensors keyed ``"<name>/<index>/<key>"``; meta is
        ``{"param_groups": [...], "scalars": {index: {key: value}}}``.
    """
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state_dict["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{name}/{index}/{key}"] = value.detach().to("cpu").clone().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    groups = json.loads(json.dumps(state_dict["param_groups"]))
    return tensors, {"param_groups": groups, "scalars": scalars}


def unflatten_optimizer_state(
    name: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> dict[str, Any]:
    """Inverse of :func:`flatten_optimizer_state`: the dict ``optimizer.load_state_dict`` takes."""
    state: dict[int, dict[str, Any]] = {}
    prefix = f"{name}/"
    for key, value in tensors.items():
        if not key.startswith(prefix):
            continue
        index, sub = key[len(prefix) :].split("/", 1)
        state.setdefault(int(index), {})[sub] = value
    for index, entries in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entries)
    return {"state": state, "param_groups": meta["param_groups"]}


# ----------------------------------------------------------------------------- RNG


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")


def _unb64(s: str) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(base64.b64decode(s), dtype=np.uint8).copy())


def capture_rng_state() -> dict[str, Any]:
    """The global RNG states of python, numpy, torch and CUDA as JSON-serialisable values."""
    py_version, py_state, py_gauss = random.getstate()
    # The legacy global generator is what third-party code draws from when it uses np.random.
    np_state = np.random.get_state(legacy=False)  # noqa: NPY002
    out: dict[str, Any] = {
        "python": [py_version, list(py_state), py_gauss],
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "state": {
                "key": np_state["state"]["key"].tolist(),
                "pos": int(np_state["state"]["pos"]),
            },
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": _b64(torch.get_rng_state()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    return out


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore the global RNG states saved by :func:`capture_rng_state`."""
    version, py_state, gauss = state["python"]
    random.setstate((version, tuple(py_state), gauss))
    np_state = dict(state["numpy"])
    np_state["state"] = {
        "key": np.asarray(np_state["state"]["key"], dtype=np.uint32),
        "pos": np_state["state"]["pos"],
    }
    np.random.set_state(np_state)  # noqa: NPY002
    torch.set_rng_state(_unb64(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = [_unb64(s) for s in state["cuda"]]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


# ----------------------------------------------------------------------------- save / read


def save_checkpoint(
    path: str | Path,
    *,
    model: nn.Module,
    model_name: str,
    model_config: dict[str, Any],
    state: dict[str, Any],
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    discriminator: nn.Module | None = None,
    discriminator_config: dict[str, Any] | None = None,
    bn_track_running_stats: bool = True,
) -> Path:
    """Write a checkpoint folder atomically (temporary folder, then rename).

    Args:
        path: the checkpoint folder to create (replaced if it exists).
        model: the generator (a DDP wrapper is unwrapped).
        model_name: its registry name.
        model_config: its constructor kwargs (JSON-serialisable); stored as ``config`` and,
            with ``pretrained*`` flags off (:func:`rebuild_kwargs`), as ``model_kwargs``.
        state: JSON-serialisable training state (step, epoch, RNG, schedulers, config, ...).
        optimizers: optimizers by name; their states are flattened (see module docs).
        discriminator: the discriminator, if any.
        discriminator_config: ``{"kind": ..., "config": {...}}`` rebuilding the discriminator.
        bn_track_running_stats: False when the generator's BatchNorms have no running stats.

    Returns:
        The checkpoint folder.

    Raises:
        CheckpointError: ``model_config`` or ``state`` is not JSON-serialisable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        config_json = _json_meta(model_config)
    except TypeError as exc:
        raise CheckpointError(
            f"model config of {model_name!r} is not JSON-serialisable ({exc})"
        ) from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        save_file(
            _cpu_tensors(unwrap_model(model).state_dict()),
            str(tmp / MODEL_FILE),
            metadata={
                "format": "pt",
                "model": model_name,
                "config": config_json,
                "model_kwargs": _json_meta(rebuild_kwargs(model_config)),
                "bn_track_running_stats": "true" if bn_track_running_stats else "false",
            },
        )
        if discriminator is not None:
            save_file(
                _cpu_tensors(unwrap_model(discriminator).state_dict()),
                str(tmp / DISCRIMINATOR_FILE),
                metadata={"format": "pt", "config": _json_meta(discriminator_config or {})},
            )
        optim_tensors: dict[str, torch.Tensor] = {}
        optim_meta: dict[str, Any] = {}
        for name, opt in (optimizers or {}).items():
            tensors, meta = flatten_optimizer_state(name, opt.state_dict())
            optim_tensors.update(tensors)
            optim_meta[name] = meta
        save_file(optim_tensors, str(tmp / OPTIMIZER_FILE), metadata={"format": "pt"})
        record = {
            "format": FORMAT,
            "version": VERSION,
            "model": model_name,
            "model_config": model_config,
            "bn_track_running_stats": bn_track_running_stats,
            "discriminator": discriminator_config if discriminator is not None else None,
            "optimizers": optim_meta,
            **state,
        }
        try:
            text = json.dumps(record, indent=2)
        except TypeError as exc:
            raise CheckpointError(f"checkpoint state is not JSON-serialisable ({exc})") from None
        (tmp / STATE_FILE).write_text(text + "\n", encoding="utf-8")
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _read_meta(file: Path) -> dict[str, str]:
    try:
        with safe_open(str(file), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{file}: not a readable safetensors file ({exc})") from None


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint folder written by :func:`save_checkpoint` (tensors on CPU).

    Raises:
        CheckpointError: the folder is missing or incomplete (no ``state.json`` or
            ``model.safetensors``) or not a tamperscope checkpoint.
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: checkpoint folder does not exist")
    state_file, model_file = path / STATE_FILE, path / MODEL_FILE
    for needed in (state_file, model_file):
        if not needed.is_file():
            raise CheckpointError(f"{path}: incomplete checkpoint, {needed.name} is missing")
    try:
        record = json.loads(state_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{state_file}: not valid JSON ({exc})") from None
    if record.get("format") != FORMAT:
        raise CheckpointError(f"{state_file}: not a tamperscope checkpoint")
    model_state = load_file(str(model_file))
    disc_file = path / DISCRIMINATOR_FILE
    disc_state = load_file(str(disc_file)) if disc_file.is_file() else None
    optim_file = path / OPTIMIZER_FILE
    optim_tensors = load_file(str(optim_file)) if optim_file.is_file() else {}
    optim_meta = record.pop("optimizers", {}) or {}
    optimizer_states = {
        name: unflatten_optimizer_state(name, optim_tensors, meta)
        for name, meta in optim_meta.items()
    }
    return Checkpoint(
        path=path,
        model_name=record.pop("model"),
        model_config=record.pop("model_config", {}) or {},
        bn_track_running_stats=bool(record.pop("bn_track_running_stats", True)),
        model_state=model_state,
        discriminator_state=disc_state,
        discriminator_config=record.pop("discriminator", None),
        optimizer_states=optimizer_states,
        state=record,
    )


def latest_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The checkpoint named in ``<checkpoint_dir>/latest.txt``, or None when there is none."""
    pointer = Path(checkpoint_dir) / "latest.txt"
    if not pointer.is_file():
        return None
    target = Path(checkpoint_dir) / pointer.read_text(encoding="utf-8").strip()
    return target if target.is_dir() else None


def _weights_file(path: Path) -> Path:
    if path.is_dir():
        return path / MODEL_FILE
    return path


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the generator saved in a checkpoint or exported weights file.

    Goes through the one weights loader (:func:`tamperscope.weights.loading.build_from_file`):
    the registry name and constructor kwargs stored beside the tensors rebuild the model
    (``pretrained*`` flags off), BatchNorm statistics are dropped when the run had none, and
    the tensors are loaded strictly.

    Args:
        path: a checkpoint folder, its ``model.safetensors``, or a file written by
            :func:`export_weights`.
        device: where to put the model.

    Returns:
        The model in eval mode.

    Raises:
        CheckpointError: the file is missing, not safetensors, lacks the model name, or its
            tensors do not fit the rebuilt model.
        KeyError: the model name is not registered.
    """
    from tamperscope.weights.loading import build_from_file

    try:
        loaded = build_from_file(path)
    except TamperscopeError as exc:
        raise CheckpointError(str(exc)) from None
    return loaded.model.to(device).eval()


def export_weights(
    checkpoint: str | Path,
    out: str | Path,
    *,
    classes: list[str] | tuple[str, ...] | None = None,
    input_size: int | list[int] | None = None,
    mean: list[float] | None = None,
    std: list[float] | None = None,
) -> Path:
    """Write the generator weights of a checkpoint alone, for shipping inside the package.

    The metadata of the safetensors file holds (as strings) ``model`` (registry name),
    ``config`` (constructor kwargs as trained, JSON), ``model_kwargs`` (the same with
    ``pretrained*`` flags off, what :func:`tamperscope.api.load_model` rebuilds), ``classes``
    (JSON list of mask channel names), ``input_size`` (training size in pixels, JSON; also as
    ``input_long_side``, the analysis size :func:`tamperscope.api.load_model` reads),
    ``mean`` and ``std`` (JSON lists of the RGB normalisation applied inside the model) and
    ``bn_track_running_stats``. Values not given
    are taken from the checkpoint's ``state.json``.

    Args:
        checkpoint: a checkpoint folder (or its ``model.safetensors``).
        out: the ``.safetensors`` file to write (atomically).
        classes: mask channel names; default: those the checkpoint recorded, else
            ``pristine, source, target`` (``forged`` for models built with ``num_classes=1``).
        input_size: training image size in pixels.
        mean: RGB mean in [0, 1] the model normalises its [0, 1] input with; default: the
            one the checkpoint recorded (the model's ``mean`` buffer), else 0.
        std: RGB standard deviation, likewise (default 1).

    Returns:
        ``out``.

    Raises:
        CheckpointError: the checkpoint is missing or incomplete.
    """
    file = _weights_file(Path(checkpoint))
    if not file.is_file():
        raise CheckpointError(f"{file}: checkpoint weights do not exist")
    meta = _read_meta(file)
    if "model" not in meta:
        raise CheckpointError(
            f"{file}: no 'model' entry in the safetensors metadata; not a tamperscope file"
        )
    record: dict[str, Any] = {}
    state_file = file.parent / STATE_FILE
    if state_file.is_file():
        record = json.loads(state_file.read_text(encoding="utf-8"))
    data_cfg = (record.get("config") or {}).get("data", {})
    tensors = load_file(str(file))
    if classes is None:
        classes = record.get("classes")
    if classes is None:
        channels = int(json.loads(meta.get("config", "{}")).get("num_classes", 3))
        classes = ["forged"] if channels == 1 else ["pristine", "source", "target"]
    if input_size is None:
        input_size = data_cfg.get("image_size")
    metadata = {
        "format": "pt",
        "model": meta["model"],
        "config": meta.get("config", "{}"),
        "model_kwargs": _json_meta(rebuild_kwargs(json.loads(meta.get("config", "{}")))),
        "bn_track_running_stats": meta.get("bn_track_running_stats", "true"),
        "classes": json.dumps(list(classes)),
        "input_size": json.dumps(input_size),
        "input_long_side": json.dumps(input_size),
        "mean": json.dumps(list(mean if mean is not None else record.get("mean", [0.0, 0.0, 0.0]))),
        "std": json.dumps(list(std if std is not None else record.get("std", [1.0, 1.0, 1.0]))),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return out
