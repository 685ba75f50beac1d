"""The training loop: epochs, exact resume, checkpoints, schedules, early stopping, logs, DDP.

:class:`Trainer` runs any registered recipe (:mod:`tamperscope.engine.recipes`): the recipe
builds the networks, optimizers, schedulers and data and does one step; the loop does the
rest, the same way for every method:

* epochs over a seeded per-epoch sampler (``DistributedSampler`` with ``train.seed`` and the
  epoch), augmentations drawn per (seed, epoch, index), ``train.max_steps`` as a total budget;
* a checkpoint every ``train.checkpoint_every`` steps, at each epoch end and at the end
  (:mod:`tamperscope.engine.checkpoints`), the ``train.keep_checkpoints`` newest step
  checkpoints kept, and ``best`` when the monitored quantity improved;
* mid-epoch resume: counters, RNG states, optimizers, schedulers and the recipe's own state
  are restored and the sampler skips the batches already seen, so an interrupted and resumed
  run ends with the same tensors as one that ran straight through;
* at each epoch end: validation on the main process (the others get its numbers), the
  recipe's ReduceLROnPlateau schedulers stepped with the validation loss (the mean training
  loss without validation data), ``best`` checkpoint and early stopping on ``train.monitor``;
* scalars to ``scalars.jsonl`` and TensorBoard (:mod:`tamperscope.engine.scalars`), a
  progress bar, ``summary.json``;
* under ``torchrun`` (``WORLD_SIZE`` > 1) one process per device
  (:mod:`tamperscope.engine.distributed`); rank 0 logs and writes checkpoints.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from tamperscope.engine.checkpoints import (
    capture_rng_state,
    latest_checkpoint,
    read_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from tamperscope.engine.config import ConfigError, ExperimentConfig, config_to_dict, save_config
from tamperscope.engine.distributed import (
    DistributedContext,
    all_gather_objects,
    barrier,
    cleanup_distributed,
    init_distributed,
    resolve_device,
)
from tamperscope.engine.errors import TrainingError
from tamperscope.engine.recipes import Recipe, recipe_for
from tamperscope.engine.scalars import ScalarLogger
from tamperscope.io import atomic_open, write_json

__all__ = ["Trainer", "TrainingError", "seed_everything", "train"]

logger = logging.getLogger(__name__)


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed python, numpy and torch (CPU and CUDA) global generators.

    Args:
        seed: the seed.
        deterministic: also ask torch for deterministic algorithms (warn-only) and disable the
            cuDNN benchmark.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds code that uses the global generator
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def _seed_worker(worker_id: int) -> None:
    # torch seeds each worker from the loader's generator; numpy and python follow it.
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)  # noqa: NPY002
    random.seed(seed)


class _SkipSampler(Sampler[int]):
    """The indices of ``base`` after the first ``skip`` (to resume in the middle of an epoch)."""

    def __init__(self, base: Sampler[int], skip: int) -> None:
        self.base = base
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        for i, index in enumerate(self.base):
            if i >= self.skip:
                yield index

    def __len__(self) -> int:
        return max(0, len(self.base) - self.skip)  # type: ignore[arg-type]


class Trainer:
    """Train a registered model with its recipe.

    The recipe is ``config.recipe``, else the one of the model's registered task
    (:func:`~tamperscope.engine.recipes.recipe_for`); the run folder's ``config.yaml``
    records it.

    Args:
        config: the resolved training config.
        run_dir: the run folder: ``config.yaml``, ``checkpoints/``, ``scalars.jsonl``,
            ``tensorboard/``, ``summary.json``.
        device: ``"cpu"``, ``"cuda"``, ...; None: ``config.train.device``, else cuda when
            available. Under ``torchrun`` each process uses ``cuda:LOCAL_RANK``.
        resume: continue from the newest checkpoint of ``run_dir`` (networks, optimizers,
            schedulers, counters and RNG states), exactly where it stopped.
        train_set: training reader (single images or pairs, as the recipe trains); None
            opens ``config.data.train_roots``.
        val_set: validation reader; None opens ``config.data.val_roots`` (or holds out
            ``config.data.val_fraction`` of the training set).

    Attributes:
        recipe: the recipe instance (its networks, optimizers, step).
        train_data, val_data: the recipe's training and validation tensors.
        step, epoch, batch_in_epoch: progress (``epoch`` and the batch within it 0-based).

    Raises:
        TrainingError: a model that is not trained as a whole, no training data, a fresh run
            in a folder that has checkpoints, a resume without checkpoints or from another
            model's or recipe's checkpoint, fewer samples than one batch, several processes
            for a one-process recipe, or the recipe's own refusals.
        ConfigError: unknown recipe, a recipe that does not train the model's task, a
            ``train.monitor`` that the recipe's validation does not return, or the recipe's
            refusals of its section.
        ValueError: unknown or unavailable device.
        DatasetError: a training or validation folder cannot be read as ``data.reader``.
        KeyError: unknown model name.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        run_dir: str | Path,
        *,
        device: str | torch.device | None = None,
        resume: bool = False,
        train_set: Any | None = None,
        val_set: Any | None = None,
    ) -> None:
        from tamperscope.registry import model_info

        info = model_info(config.model.name)
        if not info.trainable:
            raise TrainingError(
                f"model {config.model.name!r} is not trained as a whole: "
                f"{info.not_trainable_reason}"
            )
        recipe_cls = recipe_for(config)
        recipe_cls.check_config(config)
        self.config = config = dataclasses.replace(config, recipe=recipe_cls.name)
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.device = resolve_device(device if device is not None else config.train.device or None)
        resume_from = None
        if resume:
            resume_from = latest_checkpoint(self.ckpt_dir)
            if resume_from is None:
                raise TrainingError(
                    f"{self.ckpt_dir}: no checkpoint to resume from (latest.txt missing)"
                )
        elif latest_checkpoint(self.ckpt_dir) is not None:
            raise TrainingError(
                f"{self.run_dir} already holds checkpoints; pass --resume to continue that run "
                "or choose another --run-dir"
            )

        self.dist: DistributedContext = init_distributed(self.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        try:
            if self.dist.enabled and not recipe_cls.distributed:
                raise TrainingError(
                    f"the {recipe_cls.name} recipe runs in one process; launch 'tamperscope "
                    "train' without torchrun (or with --nproc_per_node=1)"
                )
            self._setup(recipe_cls, resume_from, train_set, val_set)
        except BaseException:
            cleanup_distributed(self.dist)
            raise

    def _setup(
        self,
        recipe_cls: type[Recipe],
        resume_from: Path | None,
        train_set: Any | None,
        val_set: Any | None,
    ) -> None:
        config = self.config
        cfg_t = config.train
        seed_everything(cfg_t.seed, deterministic=cfg_t.deterministic)
        self.recipe: Recipe = recipe_cls(config, device=self.device, dist=self.dist)
        self.train_data, self.val_data = self.recipe.build_data(train_set, val_set)
        per_step = config.data.batch_size * self.dist.world_size
        if len(self.train_data) < per_step:
            noun = recipe_cls.sample_noun
            raise TrainingError(
                f"{len(self.train_data)} training {noun}, fewer than one batch of {per_step} "
                f"(data.batch_size x processes); generate more {noun} or lower "
                "data.batch_size"
            )
        self.recipe.build_networks(initialise=resume_from is None)
        known = self.recipe.validation_keys()
        if cfg_t.monitor not in known:
            raise ConfigError(
                f"train.monitor={cfg_t.monitor!r} is not a validation quantity of the "
                f"{recipe_cls.name} recipe with this model (known: {', '.join(known)})"
            )

        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.best_metric: float | None = None
        self.best_step: int | None = None
        self.bad_epochs = 0
        self.history: list[dict[str, Any]] = []
        if resume_from is not None:
            self._restore(resume_from)
        if self.dist.enabled:
            self.recipe.wrap_distributed()
        self.log = ScalarLogger(self.run_dir, enabled=self.dist.is_main)
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, self.run_dir / "config.yaml")

    @property
    def model(self) -> nn.Module:
        """The trained model (never a DDP wrapper): what checkpoints and exports hold."""
        return self.recipe.exported_model()

    # ------------------------------------------------------------------------- data

    @property
    def steps_per_epoch(self) -> int:
        """Optimisation steps in one epoch (full batches per process)."""
        per_process = len(self.train_data) // self.dist.world_size
        return per_process // self.config.data.batch_size

    def _sampler(self, skip: int) -> Sampler[int]:
        base: Sampler[int] = DistributedSampler(
            self.train_data,  # type: ignore[arg-type]
            num_replicas=self.dist.world_size,
            rank=self.dist.rank,
            shuffle=True,
            seed=self.config.train.seed,
            drop_last=True,
        )
        base.set_epoch(self.epoch)  # type: ignore[attr-defined]
        return _SkipSampler(base, skip) if skip else base

    def train_loader(self) -> DataLoader:
        """The training batches of the current epoch from the current batch on (full
        batches of ``data.batch_size``, this process's share under ``torchrun``)."""
        bs = self.config.data.batch_size
        self.train_data.set_epoch(self.epoch)
        generator = torch.Generator().manual_seed(self.config.train.seed + self.epoch)
        return DataLoader(
            self.train_data,  # type: ignore[arg-type]
            batch_size=bs,
            sampler=self._sampler(self.batch_in_epoch * bs),
            drop_last=True,
            num_workers=self.config.data.num_workers,
            worker_init_fn=_seed_worker,
            generator=generator,
            pin_memory=self.device.type == "cuda",
        )

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One step of the recipe on ``batch`` in the current epoch (counters unchanged).

        Returns:
            The step's scalars (see the recipe's ``train_step``).
        """
        return self.recipe.train_step(batch, self.epoch)

    @torch.no_grad()
    def validate(self) -> dict[str, float | None]:
        """The recipe's validation quantities (computed on the main process; the others get
        its numbers); empty without a validation set."""
        if self.val_data is None:
            return {}
        result: dict[str, float | None] = {}
        if self.dist.is_main:
            loader: DataLoader[dict[str, Any]] = DataLoader(
                self.val_data,  # type: ignore[arg-type]
                batch_size=self.config.data.batch_size,
                shuffle=False,
                num_workers=self.config.data.num_workers,
            )
            result = self.recipe.validate(loader)
        if self.dist.enabled:
            import torch.distributed as dist

            box = [result]
            dist.broadcast_object_list(box, src=0)
            result = box[0]
        return result

    # ------------------------------------------------------------------------- checkpoints

    def _state(self, rng_by_rank: list[dict[str, Any]]) -> dict[str, Any]:
        model = self.model
        mean, std = model.mean, model.std
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "best_metric": self.best_metric,
            "best_step": self.best_step,
            "bad_epochs": self.bad_epochs,
            "monitor": self.config.train.monitor,
            "recipe": self.recipe.name,
            "classes": self.recipe.mask_classes(),
            "mean": mean.flatten().tolist() if isinstance(mean, torch.Tensor) else [0.0, 0.0, 0.0],
            "std": std.flatten().tolist() if isinstance(std, torch.Tensor) else [1.0, 1.0, 1.0],
            "rng": rng_by_rank[0],
            # Under torchrun the processes' generators part (only the main one validates).
            **({"rng_by_rank": rng_by_rank} if len(rng_by_rank) > 1 else {}),
            "schedulers": {k: s.state_dict() for k, s in self.recipe.schedulers.items()},
            **self.recipe.extra_state(),
            "history": self.history,
            "config": config_to_dict(self.config),
        }

    def save(self, name: str | None = None) -> Path | None:
        """Write a checkpoint (main process only) and point ``latest.txt`` at it.

        Under ``torchrun`` every process calls it (each one's RNG states are gathered).

        Args:
            name: folder name under ``checkpoints/``; default ``step_<8-digit step>``.

        Returns:
            The checkpoint folder (None on other processes).
        """
        rng_by_rank = all_gather_objects(capture_rng_state(), self.dist)
        if not self.dist.is_main:
            return None
        name = name or f"step_{self.step:08d}"
        adversary = self.recipe.adversary()
        path = save_checkpoint(
            self.ckpt_dir / name,
            model=self.model,
            model_name=self.config.model.name,
            model_config=self.recipe.model_config,
            state=self._state(rng_by_rank),
            optimizers=self.recipe.optimizers,
            discriminator=adversary.module if adversary is not None else None,
            discriminator_config=adversary.config if adversary is not None else None,
            bn_track_running_stats=self.config.model.bn_track_running_stats,
        )
        if name != "best":
            with atomic_open(self.ckpt_dir / "latest.txt", "w") as fh:
                fh.write(name + "\n")
            self._prune()
        return path

    def _prune(self) -> None:
        keep = self.config.train.keep_checkpoints
        if keep <= 0:
            return
        steps = sorted(p for p in self.ckpt_dir.glob("step_*") if p.is_dir())
        for old in steps[:-keep]:
            shutil.rmtree(old, ignore_errors=True)

    def _restore(self, path: Path) -> None:
        ckpt = read_checkpoint(path)
        if ckpt.model_name != self.config.model.name:
            raise TrainingError(
                f"{path}: checkpoint of model {ckpt.model_name!r}, but the config trains "
                f"{self.config.model.name!r}"
            )
        st = ckpt.state
        # Checkpoints written before recipes had names say "task": "pairs" for DMAC runs.
        saved = st.get("recipe") or ("dmac" if st.get("task") == "pairs" else None)
        if saved is not None and saved != self.recipe.name:
            raise TrainingError(
                f"{path}: checkpoint of a {saved} run, but the config trains with the "
                f"{self.recipe.name} recipe"
            )
        self.recipe.load_networks(ckpt)
        for key, optimizer in self.recipe.optimizers.items():
            if key not in ckpt.optimizer_states:
                raise TrainingError(f"{path}: the checkpoint has no state of optimizer {key!r}")
            optimizer.load_state_dict(ckpt.optimizer_states[key])
        schedulers = st.get("schedulers", {})
        for key, scheduler in self.recipe.schedulers.items():
            if key in schedulers:
                scheduler.load_state_dict(schedulers[key])
        self.recipe.load_extra_state(st)
        self.step = int(st["step"])
        self.epoch = int(st["epoch"])
        self.batch_in_epoch = int(st["batch_in_epoch"])
        self.best_metric = st.get("best_metric")
        self.best_step = st.get("best_step")
        self.bad_epochs = int(st.get("bad_epochs", 0))
        self.history = list(st.get("history", []))
        by_rank = st.get("rng_by_rank") or []
        same_world = len(by_rank) == self.dist.world_size
        restore_rng_state(by_rank[self.dist.rank] if same_world else st["rng"])
        logger.info("resumed from %s at step %d (epoch %d)", path, self.step, self.epoch)

    # ------------------------------------------------------------------------- the loop

    def _improved(self, value: float | None) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if self.best_metric is None:
            return True
        if self.config.train.monitor.startswith("loss"):
            return value < self.best_metric
        return value > self.best_metric

    def _end_of_epoch(self, train_means: dict[str, float]) -> tuple[bool, bool]:
        """Validation, schedules, early stopping; returns (stop, improved)."""
        cfg_t = self.config.train
        val = self.validate()
        plateau_on = val.get("loss", train_means.get(self.recipe.loss_key))
        if plateau_on is not None:
            for scheduler in self.recipe.schedulers.values():
                scheduler.step(plateau_on)
        record = {"epoch": self.epoch, "step": self.step, **{f"val/{k}": v for k, v in val.items()}}
        self.history.append(record)
        self.log.log({f"val/{k}": v for k, v in val.items()}, self.step)
        rates = self.recipe.learning_rates(self.epoch)
        self.log.log({f"lr/{k}": v for k, v in rates.items()}, self.step)
        stop = improved = False
        if val:
            value = val.get(cfg_t.monitor)
            improved = self._improved(value)
            if improved:
                self.best_metric, self.best_step, self.bad_epochs = value, self.step, 0
            elif value is not None:
                self.bad_epochs += 1
            patience = cfg_t.early_stopping_patience
            if patience > 0 and self.bad_epochs >= patience:
                logger.info(
                    "early stopping: %s did not improve for %d epochs", cfg_t.monitor, patience
                )
                stop = True
        if self.dist.is_main:
            logger.info("epoch %d: %s", self.epoch, ", ".join(f"{k}={v}" for k, v in val.items()))
        return stop, improved

    def fit(self, max_steps: int | None = None) -> dict[str, Any]:
        """Train until ``train.epochs`` epochs, ``max_steps`` steps or early stopping.

        Args:
            max_steps: total step budget (counting the steps before a resume); None uses
                ``train.max_steps`` (0: no limit).

        Returns:
            Summary (also written to ``summary.json``): ``step``, ``epoch``, ``recipe``,
            ``best_metric``, ``best_step``, ``monitor``, ``stopped_early``,
            ``last_validation``, ``checkpoint``.
        """
        cfg_t = self.config.train
        limit = cfg_t.max_steps if max_steps is None else max_steps
        limit = int(limit or 0)
        total = cfg_t.epochs * self.steps_per_epoch
        if limit:
            total = min(total, limit)
        bar = None
        if cfg_t.progress and self.dist.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=min(self.step, total), desc="train", unit="step")
        stopped_early = False
        last_val: dict[str, Any] = {}
        loss_key = self.recipe.loss_key
        try:
            while self.epoch < cfg_t.epochs and not (limit and self.step >= limit):
                sums: dict[str, float] = {}
                count = 0
                interrupted = False
                for batch in self.train_loader():
                    stats = self.train_step(batch)
                    self.step += 1
                    self.batch_in_epoch += 1
                    count += 1
                    for k, v in stats.items():
                        sums[k] = sums.get(k, 0.0) + v
                    if self.step % max(1, cfg_t.log_every) == 0:
                        self.log.log({f"train/{k}": v for k, v in stats.items()}, self.step)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{stats[loss_key]:.4f}", epoch=self.epoch)
                    if cfg_t.checkpoint_every and self.step % cfg_t.checkpoint_every == 0:
                        self.save()
                    if limit and self.step >= limit and self.batch_in_epoch < self.steps_per_epoch:
                        interrupted = True
                        break
                if interrupted:
                    break
                means = {k: v / max(1, count) for k, v in sums.items()}
                stopped_early, improved = self._end_of_epoch(means)
                last_val = self.history[-1] if self.history else {}
                self.epoch += 1
                self.batch_in_epoch = 0
                self.save()
                if improved:
                    self.save("best")
                if stopped_early:
                    break
            final = self.save()
            barrier(self.dist)
        finally:
            if bar is not None:
                bar.close()
            self.log.close()
        summary = {
            "step": self.step,
            "epoch": self.epoch,
            "recipe": self.recipe.name,
            "monitor": cfg_t.monitor,
            "best_metric": self.best_metric,
            "best_step": self.best_step,
            "stopped_early": stopped_early,
            "last_validation": last_val,
            "checkpoint": str(final) if final is not None else None,
        }
        if self.dist.is_main:
            write_json(self.run_dir / "summary.json", summary)
        return summary

    def close(self) -> None:
        """Leave the process group (if any)."""
        cleanup_distributed(self.dist)


def train(
    config: ExperimentConfig,
    run_dir: str | Path,
    *,
    device: str | torch.device | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    train_set: Any | None = None,
    val_set: Any | None = None,
) -> dict[str, Any]:
    """Train with the config's recipe: build a :class:`Trainer`, run :meth:`Trainer.fit`,
    leave the process group.

    Args:
        config: resolved config (:func:`tamperscope.engine.config.load_config`); its
            ``recipe`` (or the model's registered task) picks the recipe.
        run_dir: run folder.
        device: ``"cpu"``/``"cuda"``/...; None: ``train.device`` or cuda when available.
        resume: continue from the newest checkpoint of ``run_dir``.
        max_steps: total step budget overriding ``train.max_steps``.
        train_set, val_set: readers overriding ``data.train_roots`` / ``data.val_roots``
            (:class:`~tamperscope.data.base.ForgeryDataset` for ``doagan``,
            :class:`~tamperscope.data.base.PairDataset` for ``dmac``).

    Returns:
        The summary of :meth:`Trainer.fit`.

    Raises:
        TrainingError, ConfigError, DatasetError, ValueError, KeyError: see :class:`Trainer`.
    """
    trainer = Trainer(
        config, run_dir, device=device, resume=resume, train_set=train_set, val_set=val_set
    )
    try:
        return trainer.fit(max_steps=max_steps)
    finally:
        trainer.close()
