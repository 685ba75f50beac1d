"""Typed training configuration: one dataclass per concern, YAML and ``key=value`` overrides.

Defaults live in the dataclasses below. A YAML file only overrides them, and ``--set
section.key=value`` strings override both, in that order::

    config = load_config("configs/doagan_effnet_lite0.yaml", ["optim.lr_generator=5e-4"])

Every key is checked against the dataclass fields: a misspelt key raises
:class:`ConfigError` naming the key and listing the known keys of its section. Values are
coerced to the field's type (``"1e-3"`` to float, ``"true"`` to bool, ...). The resolved
configuration is written to every run folder as ``config.yaml`` by :func:`save_config`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tamperscope.errors import TamperscopeError
from tamperscope.io import atomic_open

__all__ = [
    "ConfigError",
    "DataConfig",
    "ExperimentConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "PairConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "save_config",
]


class ConfigError(TamperscopeError):
    """A training configuration has an unknown key or a value of the wrong type."""


@dataclass
class ModelConfig:
    """Which model to train.

    Attributes:
        name: registry name of the generator (``tamperscope.registry.list_models()``); it must
            return a :class:`~tamperscope.models.outputs.CopyMoveOutput`.
        kwargs: constructor kwargs passed to ``create_model(name, **kwargs)``.
        backbone_attr: name of the submodule trained with ``optim.lr_backbone`` (the pretrained
            feature extractor); when the model has no such attribute every parameter gets
            ``optim.lr_generator``.
        bn_track_running_stats: ``False`` turns every BatchNorm into one without running
            statistics (batch statistics at train and test time, ``track_running_stats=False``).
        discriminator: ``"patchgan"`` for the PatchGAN critic on image + mask channels, or
            ``"none"`` (no adversarial training).
        discriminator_kwargs: extra constructor kwargs of the discriminator.
        init_weights: a weights file (safetensors from ``tamperscope train``, or ``"shipped"``
            for the weights shipped with ``name``) whose tensors initialise the model before
            training: fine-tuning. Empty: train from the constructor's initialisation. The
            file must hold weights of the model ``name``; a resumed run takes its tensors from
            the checkpoint instead.
    """

    name: str = "doagan-effnet-lite0"
    kwargs: dict[str, Any] = field(default_factory=dict)
    backbone_attr: str = "backbone"
    bn_track_running_stats: bool = True
    discriminator: str = "patchgan"
    discriminator_kwargs: dict[str, Any] = field(default_factory=dict)
    init_weights: str = ""


@dataclass
class DataConfig:
    """Training and validation data.

    Attributes:
        reader: dataset reader name (``tamperscope.data.list_datasets()``), ``"generated"`` for
            sets written by ``tamperscope synth copy-move``.
        train_roots: dataset folders used for training (concatenated).
        val_roots: held-out dataset folders for validation; when empty, ``val_fraction`` of the
            training samples are held out instead.
        val_fraction: fraction (0-1) of training samples held out when ``val_roots`` is empty;
            0 disables validation.
        image_size: training size in pixels (square side).
        resize_mode: ``"resize"`` scales the whole image to ``image_size``; ``"crop"`` scales
            its short side to at least ``image_size`` and takes a random (train) or centre
            (validation) crop.
        hflip: probability (0-1) of a horizontal flip.
        vflip: probability (0-1) of a vertical flip.
        attacks: post-processing attack specs applied to training images
            (``tamperscope.synth.attacks``, e.g. ``"jpeg:70"``).
        attack_prob: probability (0-1) that a training image gets one attack drawn from
            ``attacks``.
        batch_size: images per step and process.
        num_workers: DataLoader worker processes (0: load in the main process).
    """

    reader: str = "generated"
    train_roots: list[str] = field(default_factory=list)
    val_roots: list[str] = field(default_factory=list)
    val_fraction: float = 0.1
    image_size: int = 256
    resize_mode: str = "resize"
    hflip: float = 0.5
    vflip: float = 0.0
    attacks: list[str] = field(default_factory=list)
    attack_prob: float = 0.0
    batch_size: int = 8
    num_workers: int = 0


@dataclass
class LossConfig:
    """Loss terms: L = w_adv L_adv + alpha L_loc + beta / 2 (L_det + L_det_pristine).

    Attributes:
        localization: terms of the localization loss L_loc as ``{name, weight, ...}`` entries
            (``tamperscope.losses.build_loss``), e.g. ``[{name: weighted_ce, weight: 1.0}]``.
        alpha: weight of L_loc.
        beta: weight of the detection terms; L_det is the BCE-with-logits of the image score
            on forged images of the batch, L_det_pristine on pristine ones.
        localize_pristine: also apply L_loc to pristine images (all-pristine masks); DOA-GAN
            applies it to forged images only.
        adversarial: ``"vanilla"`` (BCE GAN), ``"lsgan"`` (least squares) or ``"none"``.
        adversarial_weight: weight of the generator's adversarial term.
    """

    localization: list[dict[str, Any]] = field(
        default_factory=lambda: [{"name": "weighted_ce", "weight": 1.0}]
    )
    alpha: float = 1.0
    beta: float = 1.0
    localize_pristine: bool = False
    adversarial: str = "vanilla"
    adversarial_weight: float = 1.0


@dataclass
class OptimConfig:
    """Optimizers and learning-rate schedule (Adam, ReduceLROnPlateau on the validation loss).

    Attributes:
        lr_generator: learning rate of the generator's non-backbone parameters.
        lr_backbone: learning rate of the backbone (``model.backbone_attr``).
        lr_discriminator: learning rate of the discriminator.
        betas: Adam betas.
        weight_decay: Adam weight decay (L2).
        plateau_factor: factor of ReduceLROnPlateau.
        plateau_patience: epochs without validation-loss improvement before the rates drop.
        min_lr: lower bound of every learning rate.
        grad_clip: max gradient norm of the generator (0: no clipping).
    """

    lr_generator: float = 1e-3
    lr_backbone: float = 1e-4
    lr_discriminator: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    plateau_factor: float = 0.5
    plateau_patience: int = 2
    min_lr: float = 1e-7
    grad_clip: float = 0.0


@dataclass
class TrainConfig:
    """The training loop.

    Attributes:
        epochs: number of passes over the training data.
        max_steps: stop after this many optimisation steps in total (0: no limit).
        warmup_epochs: epochs in which only the generator trains (no adversarial term, the
            discriminator is not updated).
        d_freeze_below: the discriminator is not updated while its loss is under this value.
        checkpoint_every: save a checkpoint every N steps (0: only at epoch ends and the end).
        keep_checkpoints: number of step checkpoints kept (older ones are deleted; ``best`` is
            always kept).
        early_stopping_patience: stop after this many validations without improvement of
            ``monitor`` (0: never).
        monitor: validation quantity that selects the best checkpoint and drives early
            stopping, e.g. ``"f1_union"`` (higher is better) or ``"loss"`` (lower is better).
        seed: seed of python, numpy, torch, the sampler and the augmentations.
        deterministic: ask torch for deterministic algorithms (slower on CUDA).
        log_every: write training scalars every N steps.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...; empty: cuda when available.
        progress: show a progress bar on the main process.
    """

    epochs: int = 50
    max_steps: int = 0
    warmup_epochs: int = 2
    d_freeze_below: float = 0.3
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    early_stopping_patience: int = 10
    monitor: str = "f1_union"
    seed: int = 0
    deterministic: bool = False
    log_every: int = 10
    device: str = ""
    progress: bool = True


@dataclass
class PairConfig:
    """DMAC's training of probe/donor pair models (``task: pairs``).

    Liu, Liu, Cheng, "Adversarial Learning for Constrained Image Splicing Detection and
    Localization based on Atrous Convolution", IEEE TIFS 2019: the localization network is
    first trained with cross entropy alone (Adadelta), then adversarially: ``k`` updates of
    the detection (Det) and discriminative (Dis) networks alternate with one update of the
    localization network, each on a fresh minibatch. The pair trainer reads this section,
    ``model.name``/``model.kwargs``, ``data`` (``resize_mode: resize`` and no ``attacks``),
    ``optim.betas``/``optim.weight_decay``/``optim.grad_clip`` and ``train``; it ignores
    ``loss``, the discriminator keys of ``model``, ``train.warmup_epochs`` and
    ``train.d_freeze_below``.

    Attributes:
        pretrain_epochs: epochs of cross-entropy pretraining (Adadelta) before the
            adversarial phase; ``>= train.epochs`` trains with cross entropy only.
        pretrain_lr: Adadelta learning rate of the pretraining.
        lr_model: Adam learning rate of the localization network in the adversarial phase
            (paper: 1e-5).
        lr_adversaries: Adam learning rate of Det and Dis (paper: 2e-4).
        k: Det/Dis updates per localization-network update (paper: 1).
        lambda_det: weight of the detection term L_det (paper: 0.01).
        lambda_dis: weight of the discriminative term L_dis (paper: 0.01).
        dis_loss: ``"bce"`` or ``"hinge"`` form of the discriminative losses.
        freeze_backbone: keep the feature extractor (the model's ``backbone``) at its
            initial, e.g. ImageNet, weights: no gradient, BatchNorm statistics fixed; only
            the ASPP classifier learns. Far cheaper per step (no backward through the
            features), for CPU training.
        detector_kwargs: constructor kwargs of
            :class:`~tamperscope.models.dmac.PairDetectionNet`.
        discriminator_kwargs: constructor kwargs of
            :class:`~tamperscope.models.dmac.MaskDiscriminator`.
    """

    pretrain_epochs: int = 1
    pretrain_lr: float = 1.0
    lr_model: float = 1e-5
    lr_adversaries: float = 2e-4
    k: int = 1
    lambda_det: float = 0.01
    lambda_dis: float = 0.01
    dis_loss: str = "bce"
    freeze_backbone: bool = False
    detector_kwargs: dict[str, Any] = field(default_factory=dict)
    discriminator_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExperimentConfig:
    """The whole training recipe: one section per concern.

    Attributes:
        task: ``"copy_move"`` (single images, :mod:`tamperscope.engine.trainer`),
            ``"pairs"`` (probe/donor pairs, :mod:`tamperscope.engine.pair_trainer`) or
            ``"auto"`` (pairs when the registered model's ``forward`` takes a probe and a
            donor, else copy-move).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pairs: PairConfig = field(default_factory=PairConfig)
    task: str = "auto"


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _known(cls: type) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` to the annotated type ``tp`` or raise ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r} is a section: expected a mapping, got {value!r}")
        return _build(tp, value, key)  # type: ignore[arg-type]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "true",
            "yes",
            "on",
            "1",
            "false",
            "no",
            "off",
            "0",
        ):
            return value.lower() in ("true", "yes", "on", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"config key {key!r} expects true or false, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"config key {key!r} expects a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"config key {key!r} expects a number, got {value!r}") from None
        if tp is int:
            if not number.is_integer():
                raise ConfigError(f"config key {key!r} expects an integer, got {value!r}")
            return int(number)
        return number
    if tp is str:
        if isinstance(value, dict | list):
            raise ConfigError(f"config key {key!r} expects a string, got {value!r}")
        return "" if value is None else str(value)
    if origin is list:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise ConfigError(f"config key {key!r} expects a list, got {value!r}")
        (item_tp,) = typing.get_args(tp) or (Any,)
        return [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r} expects a mapping, got {value!r}")
        return dict(value)
    return value


def _build(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    hints = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in names:
            where = f"section {prefix!r}" if prefix else "the top level"
            full = f"{prefix}.{key}" if prefix else key
            raise ConfigError(f"unknown config key {full!r}; known keys in {where}: {_known(cls)}")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in values.items()}
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any] | None) -> ExperimentConfig:
    """Build a config from nested mappings over the defaults.

    Args:
        values: ``{"model": {...}, "optim": {...}, ...}``; missing keys keep their defaults.

    Raises:
        ConfigError: an unknown key (the message lists the known keys) or a value of the wrong
            type.
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"a config must be a mapping of sections, got {type(values).__name__}")
    return _build(ExperimentConfig, values)


def config_to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """Nested plain-dict form of ``config`` (YAML/JSON serialisable)."""
    return dataclasses.asdict(config)


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {item!r} must look like section.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {item!r}: cannot parse the value ({exc})") from None
    return key.split("."), value


def apply_overrides(config: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Apply ``section.key=value`` overrides; values are parsed as YAML scalars/lists.

    Keys inside mapping fields can be reached too (``model.kwargs.num_classes=1``).

    Args:
        config: the config to start from (not modified).
        overrides: strings such as ``"optim.lr_generator=5e-4"`` or ``"data.attacks=[jpeg:70]"``.

    Returns:
        A new config.

    Raises:
        ConfigError: malformed override, unknown key (the message names it and lists the known
            keys of its section) or a value of the wrong type.
    """
    values = config_to_dict(config)
    for item in overrides:
        path, value = _parse_override(item)
        node: Any = values
        cls: Any = ExperimentConfig
        for depth, part in enumerate(path[:-1]):
            if cls is not None:
                if part not in {f.name for f in dataclasses.fields(cls)}:
                    where = ".".join(path[:depth]) or "the top level"
                    raise ConfigError(
                        f"unknown config key {'.'.join(path[: depth + 1])!r}; known keys in "
                        f"{where}: {_known(cls)}"
                    )
                hint = _field_types(cls)[part]
                cls = hint if dataclasses.is_dataclass(hint) else None
                if cls is None and typing.get_origin(hint) is not dict:
                    raise ConfigError(
                        f"config key {'.'.join(path[: depth + 1])!r} is not a section or mapping"
                    )
            elif not isinstance(node.get(part, {}), dict):
                raise ConfigError(f"config key {'.'.join(path[: depth + 1])!r} is not a mapping")
            node = node.setdefault(part, {})
        last = path[-1]
        if cls is not None and last not in {f.name for f in dataclasses.fields(cls)}:
            where = f"section {'.'.join(path[:-1])!r}" if len(path) > 1 else "the top level"
            raise ConfigError(
                f"unknown config key {'.'.join(path)!r}; known keys in {where}: {_known(cls)}"
            )
        node[last] = value
    return config_from_dict(values)


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None
) -> ExperimentConfig:
    """Defaults, then the YAML file, then the overrides.

    Args:
        path: YAML recipe with any subset of the sections ``model``, ``data``, ``loss``,
            ``optim``, ``train``, ``pairs`` and the ``task`` key; ``None`` for the defaults.
        overrides: ``section.key=value`` strings (see :func:`apply_overrides`).

    Raises:
        ConfigError: the file is missing or not valid YAML, or a key/value is invalid.
    """
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file does not exist")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a config must be a mapping of sections")
        values = loaded or {}
    try:
        config = config_from_dict(values)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path is not None else str(exc)) from None
    return apply_overrides(config, list(overrides or []))


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    """Write the resolved config as YAML, atomically."""
    text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
    with atomic_open(path, "w") as fh:
        fh.write(text)
