"""The one weights loader: shipped specs, exported files and training checkpoints.

:func:`tamperscope.api.load_model`, the trainer's ``model.init_weights`` and
:func:`tamperscope.engine.checkpoints.load_checkpoint` all build their models here, so a file
that one of them reads, the others read too:

- the registry name and constructor kwargs stored beside the tensors rebuild the model
  (``pretrained*`` flags off: the file holds every tensor);
- a file saved from a run with ``model.bn_track_running_stats: false`` has no BatchNorm
  running statistics, and the rebuilt model drops them the same way before loading;
- tensors load strictly; a mismatch is a :class:`WeightsError` naming the file;
- a composite model (``keypoint-doagan``) takes the weights of its parts, shipped (the spec
  names each part's spec) or from a user's file of the part model, through one mechanism
  (:class:`tamperscope.registry.WeightPart`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tamperscope.errors import TamperscopeError
from tamperscope.models.base import TamperModel
from tamperscope.registry import WeightPart, create_model, list_models, model_info
from tamperscope.weights.batchnorm import disable_bn_running_stats
from tamperscope.weights.weights import (
    WeightSpec,
    get_weight_spec,
    read_weights_file,
    sha256_file,
    split_weights_name,
)

__all__ = [
    "LoadedModel",
    "WeightsError",
    "build_model",
    "init_from_weights",
    "load_state",
    "rebuild_kwargs",
]

logger = logging.getLogger(__name__)

#: File name of the generator tensors inside a checkpoint folder.
MODEL_FILE = "model.safetensors"


class WeightsError(TamperscopeError):
    """A weights file or spec cannot be loaded (missing, corrupt, or of another model)."""


@dataclass(frozen=True)
class LoadedModel:
    """A model with its weights loaded.

    Attributes:
        model: the network (in training mode, on the CPU, as built).
        name: its registry name.
        sha256: sha256 of the weights file (composites: of their parts' files joined by
            ``+``); ``None`` for an untrained network.
        input_long_side: the analysis long side (pixels) the weights were made for, ``None``
            when they name none (the model's own ``analysis_long_side`` applies).
        source: the spec name (``MODEL.TAG``) or file the weights came from; ``None`` untrained.
        threshold: decision threshold on the image score the weights are calibrated for
            (shipped specs name it; 0.5 otherwise).
    """

    model: TamperModel
    name: str
    sha256: str | None
    input_long_side: int | None
    source: str | None
    threshold: float = 0.5


def rebuild_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """Constructor kwargs that rebuild a saved model: ``pretrained*`` flags switched off.

    The saved tensors replace any pretrained initialisation, so rebuilding never downloads.
    """
    return {
        k: False if k.startswith("pretrained") and isinstance(v, bool) else v
        for k, v in config.items()
    }


def _weights_file(path: Path) -> Path:
    return path / MODEL_FILE if path.is_dir() else path


def read_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], Path]:
    """Read an exported weights file, a checkpoint's ``model.safetensors`` or its folder.

    Returns:
        ``(state, meta, file)``: tensors, metadata (JSON decoded, ``model_kwargs`` always set:
        from ``model_kwargs`` or, in checkpoints, ``config``, with ``pretrained*`` off) and the
        file read.

    Raises:
        WeightsError: missing, not safetensors, or no model name in the metadata.
    """
    file = _weights_file(Path(path))
    try:
        state, meta = read_weights_file(file)
    except TamperscopeError as exc:
        raise WeightsError(str(exc)) from exc
    kwargs = meta.get("model_kwargs") or meta.get("config") or {}
    if not isinstance(kwargs, dict):
        raise WeightsError(f"{file}: 'model_kwargs' in the metadata is not a JSON object")
    meta["model_kwargs"] = rebuild_kwargs(kwargs)
    return state, meta, file


def _tracks_running_stats(meta: dict[str, Any]) -> bool:
    value = meta.get("bn_track_running_stats", True)
    return not (value is False or str(value).lower() == "false")


def load_state(
    model: nn.Module, state: dict[str, torch.Tensor], meta: dict[str, Any], where: str
) -> None:
    """Load ``state`` into ``model`` strictly, dropping BatchNorm statistics as the file did.

    Args:
        model: the built model (or part).
        state: tensors by name, as saved.
        meta: the file's metadata (``bn_track_running_stats`` is read).
        where: the file or spec, for messages.

    Raises:
        WeightsError: the tensors do not fit (other constructor kwargs or another model).
    """
    if not _tracks_running_stats(meta):
        disable_bn_running_stats(model)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        detail = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else ""
        raise WeightsError(
            f"{where}: tensors do not fit model {meta.get('model', '?')!r} built from "
            f"{meta.get('model_kwargs', {})} ({first} {detail})".rstrip()
        ) from None


def _check_sha(spec: WeightSpec) -> None:
    if not spec.path.is_file():
        raise WeightsError(f"{spec.path}: shipped weights {spec.name} are missing; reinstall")
    if sha256_file(spec.path) != spec.sha256:
        raise WeightsError(
            f"{spec.path}: sha256 does not match the shipped weights {spec.name}; reinstall "
            "tamperscope"
        )


@dataclass(frozen=True)
class _Part:
    """A part's weights: its model name, kwargs, analysis size, tensors and metadata."""

    model: str
    kwargs: dict[str, Any]
    long_side: int | None
    state: dict[str, torch.Tensor]
    meta: dict[str, Any]
    where: str
    sha256: str


def _part_from_spec(ref: str) -> _Part:
    spec = get_weight_spec(ref)
    _check_sha(spec)
    state, meta, _ = read_file(spec.path)
    return _Part(
        spec.model,
        dict(spec.model_kwargs),
        spec.input_long_side,
        state,
        meta,
        spec.name,
        spec.sha256,
    )


def _compose(
    name: str, parts: dict[str, _Part], own: dict[str, Any], model_kwargs: dict[str, Any]
) -> TamperModel:
    """Build composite model ``name`` and load each part's tensors into its submodule."""
    declared = {p.attribute: p for p in model_info(name).parts}
    kwargs = {**own, **model_kwargs}
    for attribute, part in parts.items():
        decl: WeightPart = declared[attribute]
        kwargs[decl.model_kwarg] = part.model
        kwargs[decl.kwargs_kwarg] = part.kwargs
        if decl.long_side_kwarg and part.long_side:
            kwargs.setdefault(decl.long_side_kwarg, int(part.long_side))
    try:
        model = create_model(name, **kwargs)
    except (TamperscopeError, ValueError) as exc:
        where = ", ".join(p.where for p in parts.values())
        raise WeightsError(f"{where}: cannot build model {name!r} around it ({exc})") from exc
    for attribute, part in parts.items():
        load_state(model.get_submodule(attribute), part.state, part.meta, part.where)
    return model


def _part_for(name: str, file_model: str, where: str) -> WeightPart:
    info = model_info(name)
    task = model_info(file_model).task
    for part in info.parts:
        if part.task == task:
            return part
    raise WeightsError(
        f"{where}: holds weights of model {file_model!r}, not {name!r}; pass the model "
        f"{file_model!r} or no model name"
    )


def build_from_spec(spec: WeightSpec, **model_kwargs: Any) -> LoadedModel:
    """Build ``spec.model`` with the shipped weights ``spec`` (sha256 checked first)."""
    if spec.parts:
        parts = {attr: _part_from_spec(ref) for attr, ref in spec.parts.items()}
        model = _compose(spec.model, parts, dict(spec.model_kwargs), model_kwargs)
        sha = "+".join(p.sha256 for p in parts.values())
    else:
        _check_sha(spec)
        state, meta, _ = read_file(spec.path)
        model = create_model(spec.model, **{**spec.model_kwargs, **model_kwargs})
        load_state(model, state, meta, f"{spec.path} ({spec.name})")
        sha = spec.sha256
    return LoadedModel(model, spec.model, sha, spec.input_long_side, spec.name, spec.threshold)


def build_from_file(path: str | Path, name: str | None = None, **model_kwargs: Any) -> LoadedModel:
    """Build the model a weights file names (or composite ``name`` around it) and load it.

    Args:
        path: an exported weights file, a checkpoint's ``model.safetensors`` or its folder.
        name: ``None`` or the file's own model; or a composite model with a part of the
            file's task (``keypoint-doagan`` around a DOA-GAN file).
        **model_kwargs: further constructor kwargs of a composite (ignored otherwise).

    Raises:
        WeightsError: unreadable file, a file of a model ``name`` cannot use, or tensors
            that do not fit.
        KeyError: the file names a model that is not registered.
    """
    state, meta, file = read_file(path)
    file_model = str(meta["model"])
    side = meta.get("input_long_side")
    side = int(side) if isinstance(side, (int, float)) and side else None
    if name is None or name == file_model:
        model = create_model(file_model, **meta["model_kwargs"])
        load_state(model, state, meta, str(file))
        return LoadedModel(model, file_model, sha256_file(file), side, str(file))
    part = _part_for(name, file_model, str(file))
    sha = sha256_file(file)
    loaded = _Part(file_model, meta["model_kwargs"], side, state, meta, str(file), sha)
    model = _compose(name, {part.attribute: loaded}, {}, model_kwargs)
    return LoadedModel(model, name, sha, None, str(file))


def _shipped_ref(source: str) -> tuple[str | None, str] | None:
    """``(model or None, tag)`` when ``source`` names shipped weights (``TAG`` or
    ``MODEL.TAG`` of a registered model); ``None`` when it is a path (``x.pt``, ``runs/w``)."""
    if "/" in source or source.endswith(".safetensors") or Path(source).exists():
        return None
    model, tag = split_weights_name(source)
    if tag is None:
        return None, model
    return (model, tag) if model in list_models() else None


def build_model(
    name: str | None, weights: str | Path | None = "default", **model_kwargs: Any
) -> LoadedModel:
    """Build a registered model with weights: shipped, from a file, or none.

    Args:
        name: registry name, ``MODEL.TAG`` for tagged shipped weights, or ``None`` (only with
            a weights file: the model the file names).
        weights: ``"default"`` (the model's default shipped weights, or none for models
            without parameters), a tag or ``MODEL.TAG`` of shipped weights, a path to a
            weights file or checkpoint, or ``None`` for an untrained network.
        **model_kwargs: constructor kwargs (for untrained networks, training-free models and
            composites).

    Returns:
        The :class:`LoadedModel`.

    Raises:
        KeyError: unknown model name or weights tag.
        WeightsError: a trainable model with no shipped weights under ``"default"``, an
            unreadable file, a file another model cannot use, or tensors that do not fit.
    """
    if name is not None and "." in name:
        name, tag = name.split(".", 1)
        if weights not in ("default", tag):
            raise WeightsError(f"pass the weights tag once: {name}.{tag} with weights={weights!r}")
        weights = tag
    if weights is None:
        if name is None:
            raise WeightsError("name a model (weights=None builds an untrained network)")
        return LoadedModel(create_model(name, **model_kwargs), name, None, None, None)
    ref = None if isinstance(weights, Path) or weights == "default" else _shipped_ref(weights)
    if weights != "default" and ref is None:
        return build_from_file(weights, name, **model_kwargs)
    if ref is not None and ref[0] is not None:
        if name not in (None, ref[0]):
            raise WeightsError(f"{weights}: shipped weights of model {ref[0]!r}, not of {name!r}")
        name = ref[0]
    if name is None:
        raise WeightsError(f"{weights}: not a weights file; name a model for shipped weights")
    info = model_info(name)
    wanted = None if ref is None else ref[1]
    try:
        spec = get_weight_spec(name, wanted)
    except KeyError:
        if wanted is not None:
            raise
        model = create_model(name, **model_kwargs)
        if info.trainable or any(True for _ in model.parameters()):
            raise WeightsError(
                f"model {name!r} ships no trained weights; pass weights=PATH (a file from "
                "'tamperscope train') or weights=None for an untrained network"
            ) from None
        return LoadedModel(model, name, None, None, None)
    return build_from_spec(spec, **model_kwargs)


def init_from_weights(model: nn.Module, name: str, source: str | Path) -> str:
    """Initialise a freshly built ``model`` (registry name ``name``) from weights, in place.

    Used by the trainer's ``model.init_weights``.

    Args:
        model: the built model.
        name: its registry name.
        source: ``"shipped"`` (the default shipped weights of ``name``), a tag or
            ``MODEL.TAG`` of shipped weights, or a weights file / checkpoint of model ``name``.

    Returns:
        Where the weights came from (spec name or file).

    Raises:
        WeightsError: no such shipped weights, an unreadable file, a file of another model,
            or tensors that do not fit the model (other constructor kwargs).
    """
    source = str(source)
    ref = None if source == "shipped" else _shipped_ref(source)
    if source == "shipped" or ref is not None:
        if ref is not None and ref[0] not in (None, name):
            raise WeightsError(
                f"{source}: holds weights of model {ref[0]!r}, not of model {name!r}"
            )
        try:
            spec = get_weight_spec(name, None if ref is None else ref[1])
        except KeyError as exc:
            raise WeightsError(f"{source}: {exc.args[0]}") from None
        if spec.parts:
            raise WeightsError(f"{spec.name}: composite weights cannot initialise a training run")
        _check_sha(spec)
        state, meta, file = read_file(spec.path)
        where = spec.name
    else:
        state, meta, file = read_file(source)
        where = str(file)
    if meta["model"] != name:
        raise WeightsError(
            f"{where}: holds weights of model {meta['model']!r}, not of model {name!r}"
        )
    load_state(model, state, meta, where)
    logger.info("initialised %s from %s", name, where)
    return where
