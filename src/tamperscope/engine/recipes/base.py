"""What a training recipe supplies to the loop, and the registry of recipes by name.

The loop (:class:`tamperscope.engine.trainer.Trainer`) runs epochs, resumes, checkpoints,
schedules, stops early and logs; it knows nothing about a method. A :class:`Recipe` is one
method's training: it builds its networks, optimizers and schedulers and its training and
validation data, does one training step, validates, and hands the loop what a checkpoint
holds. Recipes register under a name (``@register_recipe``) and say which model task they
train; a config names one with ``recipe:``, or the model's registered task picks it.
"""

from __future__ import annotations

import difflib
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from tamperscope.data.base import ForgeryDataset
from tamperscope.engine.checkpoints import Checkpoint
from tamperscope.engine.config import ConfigError, ExperimentConfig, ModelConfig
from tamperscope.engine.data import ForgerySubset, TrainingDataset, open_image_sets, resolve_sets
from tamperscope.engine.distributed import DistributedContext, unwrap_model
from tamperscope.engine.errors import TrainingError
from tamperscope.errors import TamperscopeError
from tamperscope.models.base import TamperModel
from tamperscope.registry import Task, model_task
from tamperscope.weights.batchnorm import disable_bn_running_stats

__all__ = [
    "Adversary",
    "EpochDataset",
    "Recipe",
    "build_image_data",
    "build_trained_model",
    "finite_or_none",
    "get_recipe",
    "list_recipes",
    "load_init_weights",
    "recipe_for",
    "register_recipe",
]

R = TypeVar("R", bound="type[Recipe]")


class EpochDataset(Protocol):
    """A map-style dataset whose augmentations depend on the epoch (``set_epoch``)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any]: ...

    def set_epoch(self, epoch: int) -> None: ...


@dataclass(frozen=True)
class Adversary:
    """The networks a recipe trains beside the model, as a checkpoint keeps them.

    Attributes:
        module: their tensors go to ``discriminator.safetensors``.
        config: ``{"kind": ..., "config": {...}}``, what rebuilds them (in ``state.json``).
    """

    module: nn.Module
    config: dict[str, Any]


class Recipe(ABC):
    """One method's training, driven by the loop.

    The loop calls, in order: :meth:`check_model` and :meth:`check_config` (before anything
    is built), the constructor, :meth:`build_data`, :meth:`build_networks`, then per batch
    :meth:`train_step` and per epoch :meth:`validate`; it steps :attr:`schedulers` with the
    validation loss and saves and restores :attr:`optimizers`, :attr:`schedulers`,
    :meth:`adversary`, :meth:`extra_state` and the exported model (:meth:`exported_model`).

    Class attributes:
        name: the registry name (the config's ``recipe``).
        task: the model task it trains.
        distributed: whether it trains under ``torchrun`` with several processes.
        sample_noun: what a training sample is called in messages.
        synth_command: the ``tamperscope synth`` command that writes its training data.
        loss_key: the scalar of :meth:`train_step` shown in the progress bar and averaged
            for the plateau schedulers when there is no validation set.

    Attributes set by :meth:`build_networks`:
        model: the trained network (wrapped in ``DistributedDataParallel`` under ``torchrun``).
        model_config: its constructor kwargs (stored beside its tensors).
        optimizers: every optimizer by name (checkpointed).
        schedulers: ReduceLROnPlateau schedulers by name, stepped by the loop at epoch ends
            with the validation loss (empty: fixed learning rates).

    Args:
        config: the resolved config.
        device: where the networks and batches go.
        dist: the process group context of the run.
    """

    name: ClassVar[str]
    task: ClassVar[Task]
    distributed: ClassVar[bool] = False
    sample_noun: ClassVar[str] = "samples"
    synth_command: ClassVar[str] = ""
    loss_key: ClassVar[str] = "g_total"

    model: nn.Module
    model_config: dict[str, Any]
    optimizers: dict[str, Optimizer]
    schedulers: dict[str, ReduceLROnPlateau]

    def __init__(
        self, config: ExperimentConfig, *, device: torch.device, dist: DistributedContext
    ) -> None:
        self.config = config
        self.device = device
        self.dist = dist
        self.optimizers = {}
        self.schedulers = {}

    # ------------------------------------------------------------------------- checks

    @classmethod
    def check_model(cls, name: str) -> None:
        """Refuse a model whose registered task this recipe does not train.

        Raises:
            ConfigError: the model's task is another one (the message names the recipe
                that trains it, if any).
            KeyError: unknown model name.
        """
        task = model_task(name)
        if task == cls.task:
            return
        other = [r.name for r in _RECIPES.values() if r.task == task]
        hint = f"use recipe: {other[0]} or leave recipe unset" if other else "no recipe trains it"
        raise ConfigError(
            f"recipe {cls.name!r} trains {cls.task.value} models, but model {name!r} is a "
            f"{task.value} model; {hint}"
        )

    @classmethod  # noqa: B027 - an optional hook: most recipes check their section
    def check_config(cls, config: ExperimentConfig) -> None:
        """Refuse settings of the recipe's sections that it cannot train with.

        Raises:
            ConfigError: naming the key and the values it takes.
        """

    # ------------------------------------------------------------------------- building

    @abstractmethod
    def build_data(
        self, train_set: Any | None, val_set: Any | None
    ) -> tuple[EpochDataset, EpochDataset | None]:
        """The training and validation tensors of the run.

        Args:
            train_set, val_set: readers given by the caller; None opens the configured
                folders (``data.train_roots``, ``data.val_roots``, ``data.val_fraction``).

        Returns:
            ``(train_data, val_data)``; ``val_data`` is None without validation data.

        Raises:
            TrainingError: no training data, or data of the wrong kind.
            DatasetError: a folder cannot be read with ``data.reader``.
        """

    @abstractmethod
    def build_networks(self, *, initialise: bool) -> None:
        """Build :attr:`model`, the recipe's other networks, :attr:`optimizers` and
        :attr:`schedulers` on the device.

        Args:
            initialise: load ``model.init_weights`` (False when a checkpoint follows).

        Raises:
            TrainingError: bad ``model.init_weights``, or a model that does not fit the data.
            ConfigError: a setting of the recipe's section that does not fit the model.
        """

    def wrap_distributed(self) -> None:
        """Wrap :attr:`model` in ``DistributedDataParallel`` (called under ``torchrun``).

        Recipes that train other networks in several processes average their gradients
        themselves.
        """
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        self.model = DistributedDataParallel(self.model, device_ids=ids)

    def exported_model(self) -> TamperModel:
        """The network that checkpoints and exported weights hold (never a DDP wrapper)."""
        model = unwrap_model(self.model)
        assert isinstance(model, TamperModel)  # build_trained_model only builds TamperModels
        return model

    # ------------------------------------------------------------------------- training

    @abstractmethod
    def validation_keys(self) -> list[str]:
        """Names of the quantities :meth:`validate` returns (``train.monitor`` values);
        ``loss`` among them."""

    @abstractmethod
    def train_step(self, batch: dict[str, Any], epoch: int) -> dict[str, float]:
        """One optimisation step on a collated batch of the training data.

        Args:
            batch: a batch of :meth:`build_data`'s training data (tensors on any device).
            epoch: the current epoch (0-based): recipes with phases pick theirs from it.

        Returns:
            The step's scalars by name, :attr:`loss_key` among them.
        """

    @abstractmethod
    def validate(self, loader: Iterable[dict[str, Any]]) -> dict[str, float | None]:
        """Validation quantities on the batches of ``loader`` (main process only).

        Returns:
            The quantities of :meth:`validation_keys`; None where one is not defined on
            these data (e.g. an AUC with one class).
        """

    @abstractmethod
    def learning_rates(self, epoch: int) -> dict[str, float]:
        """The learning rates to log at the end of ``epoch``, by name."""

    @abstractmethod
    def mask_classes(self) -> list[str]:
        """Names of the model's mask channels (recorded for exported weights)."""

    # ------------------------------------------------------------------------- checkpoints

    def adversary(self) -> Adversary | None:
        """The networks trained beside the model, for ``discriminator.safetensors``."""
        return None

    def extra_state(self) -> dict[str, Any]:
        """JSON values of the recipe's own counters, merged into ``state.json``."""
        return {}

    @abstractmethod
    def load_networks(self, ckpt: Checkpoint) -> None:
        """Load the model and the adversary from a read checkpoint.

        Raises:
            TrainingError: the checkpoint lacks a network this recipe trains.
        """

    def load_extra_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore what :meth:`extra_state` saved (``state``: the whole ``state.json``)."""

    # ------------------------------------------------------------------------- helpers

    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        """``batch`` with its tensors on :attr:`device` (other values as they are)."""
        return {
            k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()
        }


# ----------------------------------------------------------------------------- helpers


def load_init_weights(model: nn.Module, name: str, init_weights: str) -> None:
    """Initialise ``model`` (registry name ``name``) from weights before training.

    Args:
        model: the freshly built model.
        name: its registry name.
        init_weights: a weights file of model ``name``, ``"shipped"`` for its default shipped
            weights, or a tag of its shipped weights (see
            :func:`tamperscope.weights.loading.init_from_weights`).

    Raises:
        TrainingError: no such shipped weights, an unreadable file, a file of another model,
            or tensors that do not fit the model (other constructor kwargs).
    """
    from tamperscope.weights.loading import init_from_weights

    try:
        init_from_weights(model, name, init_weights)
    except TamperscopeError as exc:
        raise TrainingError(f"model.init_weights: {exc}") from exc


def build_trained_model(
    cfg: ModelConfig, device: torch.device, *, initialise: bool
) -> tuple[TamperModel, dict[str, Any]]:
    """The model a run trains: built from the registry, initialised, BatchNorm as configured.

    Args:
        cfg: the ``model`` section.
        device: where to put it.
        initialise: load ``cfg.init_weights`` when set.

    Returns:
        ``(model, model_config)``: the model in train mode and its constructor kwargs (the
        model's ``config``).

    Raises:
        TrainingError: bad ``cfg.init_weights`` (see :func:`load_init_weights`).
        KeyError: unknown model name.
    """
    from tamperscope.registry import create_model

    model = create_model(cfg.name, **cfg.kwargs).to(device)
    if initialise and cfg.init_weights:
        load_init_weights(model, cfg.name, cfg.init_weights)
    if not cfg.bn_track_running_stats:
        disable_bn_running_stats(model)
    return model, dict(model.config)


def build_image_data(
    config: ExperimentConfig,
    train_set: ForgeryDataset | None,
    val_set: ForgeryDataset | None,
    *,
    synth_command: str,
    **dataset_kwargs: Any,
) -> tuple[TrainingDataset, TrainingDataset | None]:
    """Training and validation tensors of single-image readers.

    The sets are the given ones or those of ``config.data``
    (:func:`~tamperscope.engine.data.resolve_sets`); the training tensors get the configured
    flips and attacks, the validation ones none.

    Args:
        config: the experiment config (``data`` and ``train.seed`` are read).
        train_set: a training reader, or None for the configured folders.
        val_set: a validation reader, or None for the configured split.
        synth_command: the ``tamperscope synth`` command named when no data is configured.
        **dataset_kwargs: further :class:`~tamperscope.engine.data.TrainingDataset`
            arguments of both sets (``num_classes``, ``signed_distance``).

    Returns:
        ``(train_data, val_data)``; ``val_data`` is None without a validation set.

    Raises:
        TrainingError: no training data, or a reader of image pairs.
        DatasetError: a folder cannot be read.
    """
    cfg_d = config.data
    train_set, val_set = resolve_sets(
        cfg_d,
        config.train.seed,
        train_set,
        val_set,
        open_sets=open_image_sets,
        subset=ForgerySubset,
        synth_command=synth_command,
    )
    common: dict[str, Any] = {
        "size": cfg_d.image_size,
        "resize_mode": cfg_d.resize_mode,
        "seed": config.train.seed,
        **dataset_kwargs,
    }
    train_data = TrainingDataset(
        train_set,
        train=True,
        hflip=cfg_d.hflip,
        vflip=cfg_d.vflip,
        attacks=cfg_d.attacks,
        attack_prob=cfg_d.attack_prob,
        **common,
    )
    val_data = TrainingDataset(val_set, train=False, **common) if val_set is not None else None
    return train_data, val_data


def finite_or_none(value: float | None) -> float | None:
    """``value`` as a float, or None when it is None, NaN or infinite."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


# ----------------------------------------------------------------------------- registry

_RECIPES: dict[str, type[Recipe]] = {}


def register_recipe(cls: R) -> R:
    """Class decorator: register a :class:`Recipe` subclass under its ``name``.

    Raises:
        ValueError: the name is taken.
    """
    if cls.name in _RECIPES:
        raise ValueError(f"recipe {cls.name!r} is already registered")
    _RECIPES[cls.name] = cls
    return cls


def list_recipes() -> list[str]:
    """Names of the registered recipes, sorted."""
    return sorted(_RECIPES)


def get_recipe(name: str) -> type[Recipe]:
    """The recipe registered as ``name``.

    Raises:
        ConfigError: unknown name (the message lists the recipes and close matches).
    """
    try:
        return _RECIPES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_RECIPES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"unknown recipe {name!r}{hint} (recipes: {', '.join(list_recipes())})"
        ) from None


def recipe_for(config: ExperimentConfig) -> type[Recipe]:
    """The recipe of a config: its ``recipe``, else the one of the model's registered task.

    Raises:
        ConfigError: unknown recipe, a recipe that does not train the model's task, or a
            model task no recipe trains.
        KeyError: unknown model name.
    """
    name = config.model.name
    if config.recipe:
        cls = get_recipe(config.recipe)
        cls.check_model(name)
        return cls
    task = model_task(name)
    for cls in _RECIPES.values():
        if cls.task == task:
            return cls
    trains = ", ".join(f"{r.name} ({r.task.value})" for r in _RECIPES.values())
    raise ConfigError(f"no training recipe for {task.value} models such as {name!r}; {trains}")
