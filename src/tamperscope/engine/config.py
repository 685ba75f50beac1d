"""Typed training configuration: one dataclass per concern, YAML and ``key=value`` overrides.

The top-level key ``recipe`` names the training recipe (:mod:`tamperscope.engine.recipes`):
``doagan`` for copy-move models, ``dmac`` for probe/donor pair models, ``mvss`` for
manipulation localizers; left empty, the recipe
is the one of the model's registered task. Sections shared by every recipe: ``model``,
``data``, ``optim`` and ``train`` (the loop). Each recipe owns its section: ``doagan``
(discriminator, warm-up, freeze rule) and ``loss`` for DOA-GAN, ``pairs`` for DMAC, ``mvss``
for MVSS-Net.

Defaults live in the dataclasses below. A YAML file only overrides them, and ``--set
section.key=value`` strings override both, in that order::

    config = load_config("configs/doagan_effnet_lite0.yaml", ["optim.lr_generator=5e-4"])

Every key is checked against the dataclass fields: a misspelt key raises
:class:`ConfigError` naming the key and listing the known keys of its section. Values are
coerced to the field's type (``"1e-3"`` to float, ``"true"`` to bool, ...). The resolved
configuration is written to every run folder as ``config.yaml`` by :func:`save_config`.

Files written before the recipes had their own sections still load: ``task`` (``auto``,
``copy_move``, ``pairs``) is read as ``recipe`` (empty, ``doagan``, ``dmac``), and
``model.discriminator``, ``model.discriminator_kwargs``, ``train.warmup_epochs`` and
``train.d_freeze_below`` as the keys of the same name in ``doagan`` (:data:`MOVED_KEYS`).
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tamperscope.errors import TamperscopeError
from tamperscope.io import atomic_open

__all__ = [
    "MOVED_KEYS",
    "ConfigError",
    "DataConfig",
    "DoaganConfig",
    "ExperimentConfig",
    "LossConfig",
    "ModelConfig",
    "MvssConfig",
    "OptimConfig",
    "PairConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "save_config",
]

logger = logging.getLogger(__name__)


class ConfigError(TamperscopeError):
    """A training configuration has an unknown key or a value of the wrong type."""


@dataclass
class ModelConfig:
    """Which model to train.

    Attributes:
        name: registry name of the trained model (``tamperscope.registry.list_models()``);
            its registered task selects the default recipe (copy-move: ``doagan``, pair:
            ``dmac``).
        kwargs: constructor kwargs passed to ``create_model(name, **kwargs)``.
        backbone_attr: name of the submodule trained with ``optim.lr_backbone`` (the pretrained
            feature extractor; recipe ``doagan``); when the model has no such attribute every
            parameter gets ``optim.lr_generator``.
        bn_track_running_stats: ``False`` turns every BatchNorm into one without running
            statistics (batch statistics at train and test time, ``track_running_stats=False``).
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
    """DOA-GAN's loss terms (recipe ``doagan``): L = w_adv L_adv + alpha L_loc + beta / 2
    (L_det + L_det_pristine).

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

    Recipe ``doagan`` reads every key; ``dmac`` reads ``betas``, ``weight_decay`` and
    ``grad_clip`` (its learning rates are in ``pairs``, and fixed).

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
    """The training loop (every recipe).

    Attributes:
        epochs: number of passes over the training data.
        max_steps: stop after this many optimisation steps in total (0: no limit).
        checkpoint_every: save a checkpoint every N steps (0: only at epoch ends and the end).
        keep_checkpoints: number of step checkpoints kept (older ones are deleted; ``best`` is
            always kept).
        early_stopping_patience: stop after this many validations without improvement of
            ``monitor`` (0: never).
        monitor: validation quantity that selects the best checkpoint and drives early
            stopping, e.g. ``"f1_union"`` (higher is better) or ``"loss"`` (lower is better);
            one of the quantities the recipe's validation returns.
        seed: seed of python, numpy, torch, the sampler and the augmentations.
        deterministic: ask torch for deterministic algorithms (slower on CUDA).
        log_every: write training scalars every N steps.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...; empty: cuda when available.
        progress: show a progress bar on the main process.
    """

    epochs: int = 50
    max_steps: int = 0
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
class DoaganConfig:
    """DOA-GAN's adversarial training of copy-move models (recipe ``doagan``).

    Islam, Long, Basharat, Hoogs, "DOA-GAN: Dual-Order Attentive Generative Adversarial
    Network for Image Copy-move Forgery Detection and Localization", CVPR 2020. The recipe
    also reads ``loss``, ``optim`` and ``model.backbone_attr``.

    Attributes:
        discriminator: ``"patchgan"`` for the PatchGAN critic on image + mask channels, or
            ``"none"`` (no adversarial training).
        discriminator_kwargs: extra constructor kwargs of the discriminator
            (:class:`~tamperscope.models.layers.discriminators.PatchDiscriminator`).
        warmup_epochs: epochs in which only the generator trains (no adversarial term, the
            discriminator is not updated).
        d_freeze_below: the discriminator is not updated while its loss is under this value.
    """

    discriminator: str = "patchgan"
    discriminator_kwargs: dict[str, Any] = field(default_factory=dict)
    warmup_epochs: int = 2
    d_freeze_below: float = 0.3


@dataclass
class PairConfig:
    """DMAC's training of probe/donor pair models (recipe ``dmac``).

    Liu, Zhu, Zhao, Cao, "Adversarial Learning for Constrained Image Splicing Detection and
    Localization based on Atrous Convolution", IEEE TIFS 2019: the localization network is
    first trained with cross entropy alone (Adadelta), then adversarially: ``k`` updates of
    the detection (Det) and discriminative (Dis) networks alternate with one update of the
    localization network, each on a fresh minibatch. The recipe reads this section,
    ``model``, ``data`` (``resize_mode: resize`` and no ``attacks``),
    ``optim.betas``/``optim.weight_decay``/``optim.grad_clip`` and ``train``; it ignores
    ``loss`` and ``doagan``.

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
class MvssConfig:
    """MVSS-Net's training of manipulation localizers (recipe ``mvss``).

    Chen, Dong, Wang, Wang, "Image Manipulation Detection by Multi-View Multi-Scale
    Supervision", ICCV 2021 (arXiv:2104.06832): L = alpha L_det + beta L_seg + edge_weight
    L_edge, L_det the BCE-with-logits of the image logit, L_seg the Dice loss of the
    manipulated pixels, L_edge the loss of the edge logits against the boundary of the
    manipulated regions (models built with ``edge_branch=True``). The paper's weights are
    0.04 (image), 0.16 (mask) and 0.8 (edge). The recipe also reads ``model``, ``data``,
    ``optim`` (Adam, backbone at ``optim.lr_backbone``, plateau schedule) and ``train``; it
    ignores ``loss``, ``doagan`` and ``pairs``.

    Attributes:
        alpha: weight of the image-level BCE L_det.
        beta: weight of the mask Dice loss L_seg (on every image, pristine ones included).
        edge_weight: weight of the edge loss L_edge (ignored without an edge branch).
        edge_loss: ``"dice"`` (the paper) or ``"bce"`` for L_edge.
        edge_width: width in pixels of the boundary band the edge logits learn (the
            manipulated region dilated minus eroded by a square of this side); odd, >= 1.
        dice_smooth: additive smoothing of the Dice losses, > 0.
    """

    alpha: float = 0.04
    beta: float = 0.16
    edge_weight: float = 0.8
    edge_loss: str = "dice"
    edge_width: int = 3
    dice_smooth: float = 1.0


@dataclass
class ExperimentConfig:
    """The whole training configuration: one section per concern, one per recipe.

    Attributes:
        recipe: the training recipe (``tamperscope.engine.recipes.list_recipes()``):
            ``"doagan"`` (copy-move models, :mod:`tamperscope.engine.recipes.doagan`),
            ``"dmac"`` (probe/donor pair models, :mod:`tamperscope.engine.recipes.dmac`) or
            ``"mvss"`` (manipulation localizers, :mod:`tamperscope.engine.recipes.mvss`);
            empty: the recipe of the model's registered task. The run folder's
            ``config.yaml`` records the recipe used.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    doagan: DoaganConfig = field(default_factory=DoaganConfig)
    pairs: PairConfig = field(default_factory=PairConfig)
    mvss: MvssConfig = field(default_factory=MvssConfig)
    recipe: str = ""


#: Keys of earlier configs -> where they live now.
MOVED_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("task",): ("recipe",),
    ("model", "discriminator"): ("doagan", "discriminator"),
    ("model", "discriminator_kwargs"): ("doagan", "discriminator_kwargs"),
    ("train", "warmup_epochs"): ("doagan", "warmup_epochs"),
    ("train", "d_freeze_below"): ("doagan", "d_freeze_below"),
}

#: Values of the earlier ``task`` key -> the recipe they select ("" : the model's).
_TASK_RECIPES = {"auto": "", "copy_move": "doagan", "pairs": "dmac"}


def _moved_value(old: tuple[str, ...], value: Any) -> Any:
    if old != ("task",):
        return value
    if value not in _TASK_RECIPES:
        raise ConfigError(
            f"task must be one of {', '.join(_TASK_RECIPES)}, got {value!r} "
            "(task is now recipe: doagan or dmac)"
        )
    return _TASK_RECIPES[value]


def _move_keys(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the keys of :data:`MOVED_KEYS` at their new places.

    Raises:
        ConfigError: a key given both at its old and at its new place.
    """
    values = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    for old, new in MOVED_KEYS.items():
        parent = values if len(old) == 1 else values.get(old[0])
        if not isinstance(parent, dict) or old[-1] not in parent:
            continue
        target = values if len(new) == 1 else values.setdefault(new[0], {})
        if not isinstance(target, dict):
            continue  # reported as a bad section by the builder
        if new[-1] in target:
            raise ConfigError(
                f"config key {'.'.join(old)!r} is now {'.'.join(new)!r}; give only "
                f"{'.'.join(new)!r}"
            )
        target[new[-1]] = _moved_value(old, parent.pop(old[-1]))
        logger.info("config key %r read as %r", ".".join(old), ".".join(new))
    return values


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
    return _build(ExperimentConfig, _move_keys(values))


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
        for old, new in MOVED_KEYS.items():
            if tuple(path[: len(old)]) == old:
                if len(path) == len(old):
                    value = _moved_value(old, value)
                path = [*new, *path[len(old) :]]
                break
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
        path: YAML file with any subset of the sections ``model``, ``data``, ``loss``,
            ``optim``, ``train``, ``doagan``, ``pairs``, ``mvss`` and the ``recipe`` key;
            ``None`` for the defaults.
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
