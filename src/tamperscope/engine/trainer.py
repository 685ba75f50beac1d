"""The training loop of copy-move detectors with optional adversarial training (DOA-GAN).

Islam, Long, Basharat, Hoogs, "DOA-GAN: Dual-Order Attentive Generative Adversarial Network
for Image Copy-move Forgery Detection and Localization", CVPR 2020. Each step:

1. the generator predicts mask logits (B, C, H, W) and image logits (B,);
2. after the warm-up epochs, the PatchGAN discriminator scores (image, ground-truth one-hot)
   as real and (image, predicted probabilities) as fake; its loss 0.5 (L_real + L_fake) is
   back-propagated only while it is at least ``train.d_freeze_below`` (0.3);
3. the generator minimises L = w_adv L_adv + alpha L_loc + beta / 2 (L_det + L_det_pristine):
   L_adv makes the discriminator take the prediction for real, L_loc is the configured
   localization loss (on forged images), L_det and L_det_pristine the detection
   BCE-with-logits on the forged and on the pristine images of the batch.

Deviation from the paper: forged and pristine images share batches (the paper alternates
forged and pristine batches); the two detection terms are the means over each part of the
batch, so the weighting of the paper's formula is kept.

Validation runs once per epoch on the held-out set: the loss without the adversarial term
(which drives ReduceLROnPlateau), protocol-B F1 of the forged-vs-pristine union mask, per-class
F1 (3-class heads) and image-level AUC. The monitored value selects the ``best`` checkpoint and
drives early stopping.
"""

from __future__ import annotations

import logging
import math
import random
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from tamperscope.data.base import ForgeryDataset
from tamperscope.data.training import TrainingDataset
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
    all_reduce_mean,
    barrier,
    cleanup_distributed,
    init_distributed,
    resolve_device,
)
from tamperscope.engine.scalars import ScalarLogger
from tamperscope.engine.schedules import (
    build_discriminator_optimizer,
    build_generator_optimizer,
    build_plateau_scheduler,
    discriminator_may_update,
    in_warmup,
)
from tamperscope.errors import TamperscopeError
from tamperscope.io import atomic_open, write_json
from tamperscope.losses import (
    CompositeLoss,
    build_loss,
    detection_bce_loss,
    gan_discriminator_loss,
    gan_generator_loss,
)
from tamperscope.models.outputs import CopyMoveOutput
from tamperscope.weights.batchnorm import disable_bn_running_stats

__all__ = ["Trainer", "TrainingError", "load_init_weights", "seed_everything", "train"]

logger = logging.getLogger(__name__)

ADVERSARIAL_KINDS = ("vanilla", "lsgan", "none")
DISCRIMINATORS = ("patchgan", "none")


class TrainingError(TamperscopeError):
    """A training run cannot start or continue (bad run folder, data too small, ...)."""


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


class _Concat(ForgeryDataset):
    """Several readers of the same mask kind as one."""

    def __init__(self, parts: Sequence[ForgeryDataset]) -> None:
        self.parts = list(parts)
        kinds = {getattr(p, "mask_kind", "binary") for p in self.parts}
        self.mask_kind = "three_class" if kinds == {"three_class"} else "binary"
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def names(self) -> list[str]:
        return [n for p in self.parts for n in p.names()]

    def load(self, index: int) -> Any:
        part = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.parts[part][index - int(self.offsets[part])]


class _Subset(ForgeryDataset):
    def __init__(self, source: ForgeryDataset, indices: Sequence[int]) -> None:
        self.source = source
        self.indices = [int(i) for i in indices]
        self.mask_kind = getattr(source, "mask_kind", "binary")

    def __len__(self) -> int:
        return len(self.indices)

    def names(self) -> list[str]:
        names = self.source.names()
        return [names[i] for i in self.indices]

    def load(self, index: int) -> Any:
        return self.source[self.indices[index]]


def _open_sets(reader: str, roots: Sequence[str]) -> ForgeryDataset:
    from tamperscope.data.base import open_dataset

    parts = []
    for root in roots:
        ds = open_dataset(reader, root)
        if not isinstance(ds, ForgeryDataset):
            raise TrainingError(
                f"{root}: reader {reader!r} gives image pairs; training needs single images"
            )
        parts.append(ds)
    return parts[0] if len(parts) == 1 else _Concat(parts)


def _bare(model: nn.Module) -> nn.Module:
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, nn.Module) else model


def _mask_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) logits -> probabilities (softmax over classes; sigmoid for C = 1)."""
    return torch.sigmoid(logits) if logits.shape[1] == 1 else F.softmax(logits, dim=1)


def _mask_one_hot(mask: torch.Tensor, channels: int) -> torch.Tensor:
    """(B, H, W) labels -> (B, C, H, W) float one-hot (C = 1: the forged indicator)."""
    if channels == 1:
        return (mask != 0).float().unsqueeze(1)
    return F.one_hot(mask.long(), channels).permute(0, 3, 1, 2).float()


class Trainer:
    """Train a registered copy-move model (``CopyMoveOutput``) with the DOA-GAN recipe.

    Args:
        config: the resolved training config.
        run_dir: the run folder: ``config.yaml``, ``checkpoints/``, ``scalars.jsonl``,
            ``tensorboard/``, ``summary.json``.
        device: ``"cpu"``, ``"cuda"``, ...; None: ``config.train.device``, else cuda when
            available. Under ``torchrun`` each process uses ``cuda:LOCAL_RANK``.
        resume: continue from the newest checkpoint of ``run_dir`` (model, discriminator,
            optimizers, schedulers, counters and RNG states), exactly where it stopped.
        train_set: training reader; None opens ``config.data.train_roots``.
        val_set: validation reader; None opens ``config.data.val_roots`` (or holds out
            ``config.data.val_fraction`` of the training set).

    Raises:
        TrainingError: no training data, a fresh run in a folder that has checkpoints, a
            resume without checkpoints or from another model's checkpoint, fewer samples than
            the batch size, model and data class counts that differ.
        ConfigError: unknown discriminator, adversarial loss, monitored quantity or loss term.
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
        train_set: ForgeryDataset | None = None,
        val_set: ForgeryDataset | None = None,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        cfg_m, cfg_l, cfg_t = config.model, config.loss, config.train
        if cfg_l.adversarial not in ADVERSARIAL_KINDS:
            raise ConfigError(
                f"loss.adversarial must be one of {ADVERSARIAL_KINDS}, got {cfg_l.adversarial!r}"
            )
        if cfg_m.discriminator not in DISCRIMINATORS:
            raise ConfigError(
                f"model.discriminator must be one of {DISCRIMINATORS}, got {cfg_m.discriminator!r}"
            )
        self.device = resolve_device(device if device is not None else cfg_t.device or None)
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
            self._setup(resume_from, train_set, val_set)
        except BaseException:
            cleanup_distributed(self.dist)
            raise

    def _setup(
        self,
        resume_from: Path | None,
        train_set: ForgeryDataset | None,
        val_set: ForgeryDataset | None,
    ) -> None:
        config = self.config
        cfg_m, cfg_l, cfg_t = config.model, config.loss, config.train
        seed_everything(cfg_t.seed, deterministic=cfg_t.deterministic)
        self._build_data(train_set, val_set)

        from tamperscope.registry import create_model, model_info

        info = model_info(cfg_m.name)
        if not info.trainable:
            raise TrainingError(
                f"model {cfg_m.name!r} is not trained as a whole: {info.not_trainable_reason}"
            )
        self.model: nn.Module = create_model(cfg_m.name, **cfg_m.kwargs).to(self.device)
        if cfg_m.init_weights and resume_from is None:
            load_init_weights(self.model, cfg_m.name, cfg_m.init_weights)
        if not cfg_m.bn_track_running_stats:
            disable_bn_running_stats(self.model)
        self.num_classes = self._mask_channels()
        known = self.validation_keys()
        if cfg_t.monitor not in known:
            raise ConfigError(
                f"train.monitor={cfg_t.monitor!r} is not a validation quantity of this model "
                f"(known: {', '.join(known)})"
            )
        self.model_config = dict(getattr(self.model, "config", None) or cfg_m.kwargs)

        self.discriminator: nn.Module | None = None
        self.adversarial = cfg_l.adversarial != "none" and cfg_m.discriminator != "none"
        if self.adversarial:
            from tamperscope.models.layers.discriminators import PatchDiscriminator

            self.discriminator = PatchDiscriminator(
                image_channels=3, mask_channels=self.num_classes, **cfg_m.discriminator_kwargs
            ).to(self.device)

        self.opt_g = build_generator_optimizer(self.model, config.optim, cfg_m.backbone_attr)
        self.sched_g = build_plateau_scheduler(self.opt_g, config.optim)
        self.opt_d = self.sched_d = None
        if self.discriminator is not None:
            self.opt_d = build_discriminator_optimizer(self.discriminator, config.optim)
            self.sched_d = build_plateau_scheduler(self.opt_d, config.optim)
        self.loc_loss = self._build_localization_loss()

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
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.model, device_ids=ids)
        self.log = ScalarLogger(self.run_dir, enabled=self.dist.is_main)
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, self.run_dir / "config.yaml")

    # ------------------------------------------------------------------------- set-up

    def _resolve_sets(
        self,
        train_set: Any,
        val_set: Any,
        open_sets: Callable[[str, Sequence[str]], Any],
        subset: Callable[[Any, Sequence[int]], Any],
        synth_command: str,
    ) -> tuple[Any, Any]:
        """The training and validation readers: given ones, else ``data.train_roots`` and
        ``data.val_roots`` opened with ``open_sets``, else a seeded ``data.val_fraction`` of
        the training samples held out with ``subset``.

        Raises:
            TrainingError: no training set given and no ``data.train_roots``.
        """
        cfg_d = self.config.data
        if train_set is None:
            if not cfg_d.train_roots:
                raise TrainingError(
                    "no training data: set data.train_roots (folders written by "
                    f"'tamperscope synth {synth_command}')"
                )
            train_set = open_sets(cfg_d.reader, cfg_d.train_roots)
        if val_set is None and cfg_d.val_roots:
            val_set = open_sets(cfg_d.reader, cfg_d.val_roots)
        elif val_set is None and cfg_d.val_fraction > 0:
            n = len(train_set)
            n_val = int(round(n * cfg_d.val_fraction))
            if 0 < n_val < n:
                order = np.random.default_rng(self.config.train.seed).permutation(n)
                val_set = subset(train_set, sorted(order[:n_val].tolist()))
                train_set = subset(train_set, sorted(order[n_val:].tolist()))
        return train_set, val_set

    def _build_data(self, train_set: ForgeryDataset | None, val_set: ForgeryDataset | None) -> None:
        cfg_d = self.config.data
        train_set, val_set = self._resolve_sets(
            train_set, val_set, _open_sets, _Subset, "copy-move"
        )
        num_classes = int(self.config.model.kwargs.get("num_classes", 3))
        need_sdm = any(t.get("name") == "boundary" for t in self.config.loss.localization)
        common: dict[str, Any] = {
            "size": cfg_d.image_size,
            "resize_mode": cfg_d.resize_mode,
            "num_classes": num_classes,
            "signed_distance": need_sdm,
            "seed": self.config.train.seed,
        }
        self.train_data = TrainingDataset(
            train_set,
            train=True,
            hflip=cfg_d.hflip,
            vflip=cfg_d.vflip,
            attacks=cfg_d.attacks,
            attack_prob=cfg_d.attack_prob,
            **common,
        )
        self.val_data = (
            TrainingDataset(val_set, train=False, **common) if val_set is not None else None
        )
        per_step = cfg_d.batch_size * self.dist.world_size
        if len(self.train_data) < per_step:
            raise TrainingError(
                f"{len(self.train_data)} training samples, fewer than one batch of {per_step} "
                "(data.batch_size x processes); generate more data or lower data.batch_size"
            )

    def _mask_channels(self) -> int:
        channels = getattr(self.model, "num_classes", None)
        if channels is None:
            channels = getattr(self.model, "config", {}).get("num_classes")
        if channels is None:
            size = self.config.data.image_size
            was_training = self.model.training
            self.model.eval()
            with torch.no_grad():
                out = self.model(torch.zeros(1, 3, size, size, device=self.device))
            self.model.train(was_training)
            channels = out.mask_logits.shape[1]
        if int(channels) != self.train_data.num_classes:
            raise TrainingError(
                f"the model has {channels} mask channels but the data pipeline builds "
                f"{self.train_data.num_classes}-class masks; set model.kwargs.num_classes"
            )
        return int(channels)

    def validation_keys(self) -> list[str]:
        """Names of the quantities :meth:`validate` returns (possible ``train.monitor`` values)."""
        keys = ["loss", "f1_union", "auc"]
        if self.num_classes == 3:
            keys += ["f1_pristine", "f1_source", "f1_target"]
        return keys

    def _build_localization_loss(self) -> CompositeLoss:
        try:
            return build_loss(self.config.loss.localization)
        except (KeyError, ValueError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise ConfigError(f"loss.localization: {msg}") from None

    def _sampler(self, dataset: TrainingDataset, shuffle: bool, skip: int) -> Sampler[int]:
        base: Sampler[int] = DistributedSampler(
            dataset,
            num_replicas=self.dist.world_size,
            rank=self.dist.rank,
            shuffle=shuffle,
            seed=self.config.train.seed,
            drop_last=True,
        )
        base.set_epoch(self.epoch)  # type: ignore[attr-defined]
        return _SkipSampler(base, skip) if skip else base

    def _train_loader(self) -> DataLoader:
        bs = self.config.data.batch_size
        self.train_data.set_epoch(self.epoch)
        generator = torch.Generator().manual_seed(self.config.train.seed + self.epoch)
        return DataLoader(
            self.train_data,
            batch_size=bs,
            sampler=self._sampler(self.train_data, True, self.batch_in_epoch * bs),
            drop_last=True,
            num_workers=self.config.data.num_workers,
            worker_init_fn=_seed_worker,
            generator=generator,
            pin_memory=self.device.type == "cuda",
        )

    @property
    def steps_per_epoch(self) -> int:
        """Optimisation steps in one epoch (full batches per process)."""
        per_process = len(self.train_data) // self.dist.world_size
        return per_process // self.config.data.batch_size

    # ------------------------------------------------------------------------- losses

    def generator_losses(
        self, out: CopyMoveOutput, batch: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """The generator's loss terms, without the adversarial one.

        Args:
            out: the model output for ``batch``.
            batch: ``mask`` (B, H, W) int64, ``label`` (B,) float32 in {0, 1}, optional
                ``sdm`` (B, C, H, W) float32.

        Returns:
            ``loc``, ``det`` (forged images), ``det_pristine`` (pristine images), ``total``
            = alpha loc + beta / 2 (det + det_pristine), and ``loc_<term>`` for each
            unweighted localization term; scalar tensors (0 where a part of the batch is
            empty).
        """
        cfg_l = self.config.loss
        label = batch["label"]
        forged = label > 0.5
        zero = out.score_logit.new_zeros(())
        sel = torch.ones_like(forged) if cfg_l.localize_pristine else forged
        parts: dict[str, torch.Tensor] = {}
        if bool(sel.any()):
            sdm = batch.get("sdm")
            loc, parts = self.loc_loss(
                mask_logits=out.mask_logits[sel],
                mask=batch["mask"][sel],
                dist_maps=sdm[sel] if sdm is not None else None,
            )
        else:
            loc = zero
        det = (
            detection_bce_loss(out.score_logit[forged], label[forged])
            if bool(forged.any())
            else zero
        )
        det_p = (
            detection_bce_loss(out.score_logit[~forged], label[~forged])
            if bool((~forged).any())
            else zero
        )
        total = cfg_l.alpha * loc + cfg_l.beta / 2.0 * (det + det_p)
        return {
            "loc": loc,
            "det": det,
            "det_pristine": det_p,
            "total": total,
            **{f"loc_{k}": v for k, v in parts.items()},
        }

    def adversarial_active(self, epoch: int | None = None) -> bool:
        """Whether the discriminator takes part in ``epoch`` (default: the current one)."""
        epoch = self.epoch if epoch is None else epoch
        return self.discriminator is not None and not in_warmup(
            epoch, self.config.train.warmup_epochs
        )

    # ------------------------------------------------------------------------- one step

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()
        }

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One optimisation step of the discriminator (when active) and the generator.

        Args:
            batch: a collated batch of :class:`~tamperscope.data.training.TrainingDataset`:
                ``image`` (B, 3, H, W) float32 in [0, 1], ``mask`` (B, H, W) int64,
                ``label`` (B,) float32, optional ``sdm`` (B, C, H, W) float32.

        Returns:
            Scalars of the step: ``g_total``, ``loc``, ``det``, ``det_pristine``, and when
            the discriminator is active ``g_adv``, ``d_loss``, ``d_updated`` (1.0 or 0.0).
        """
        batch = self._to_device(batch)
        image = batch["image"]
        self.model.train()
        out: CopyMoveOutput = self.model(image)
        stats: dict[str, float] = {}

        adversarial = self.adversarial_active()
        if adversarial:
            assert self.discriminator is not None and self.opt_d is not None
            self.discriminator.train()
            fake = _mask_probabilities(out.mask_logits).detach()
            real = _mask_one_hot(batch["mask"], self.num_classes)
            # Halved as in pix2pix, so that D learns more slowly than G.
            d_loss = 0.5 * gan_discriminator_loss(
                self.discriminator(image, real),
                self.discriminator(image, fake),
                self.config.loss.adversarial,  # type: ignore[arg-type]
            )
            d_value = float(all_reduce_mean(d_loss.detach(), self.dist))
            update = discriminator_may_update(d_value, self.config.train.d_freeze_below)
            if update:
                self.opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                self._average_discriminator_grads()
                self.opt_d.step()
            stats.update(d_loss=d_value, d_updated=float(update))

        losses = self.generator_losses(out, batch)
        total = losses["total"]
        if adversarial:
            assert self.discriminator is not None
            g_adv = gan_generator_loss(
                self.discriminator(image, _mask_probabilities(out.mask_logits)),
                self.config.loss.adversarial,  # type: ignore[arg-type]
            )
            total = total + self.config.loss.adversarial_weight * g_adv
            stats["g_adv"] = float(g_adv.detach())
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        if self.config.optim.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optim.grad_clip)
        self.opt_g.step()
        stats.update({k: float(v.detach()) for k, v in losses.items() if k != "total"})
        stats["g_total"] = float(total.detach())
        return stats

    def _average_discriminator_grads(self) -> None:
        # The discriminator is not wrapped in DDP (its update is skipped on frozen batches,
        # which DDP's reducer does not allow), so its gradients are averaged here.
        if not self.dist.enabled or self.discriminator is None:
            return
        for p in self.discriminator.parameters():
            if p.grad is not None:
                p.grad.copy_(all_reduce_mean(p.grad, self.dist))

    # ------------------------------------------------------------------------- validation

    @torch.no_grad()
    def validate(self) -> dict[str, float | None]:
        """Loss and metrics on the validation set (main process; others get its numbers).

        Returns:
            ``loss`` (alpha L_loc + beta / 2 (L_det + L_det_pristine), mean over batches),
            ``f1_union`` (protocol-B F1 of the forged-vs-pristine mask at 0.5, images without
            forged pixels skipped), ``f1_pristine``, ``f1_source``, ``f1_target`` (protocol-B
            per-class F1, 3-class heads), ``auc`` (image-level ROC AUC; None with one class
            only). Empty dict when there is no validation set.
        """
        if self.val_data is None:
            return {}
        result: dict[str, float | None] = {}
        if self.dist.is_main:
            result = self._validate_main()
        if self.dist.enabled:
            import torch.distributed as dist

            box = [result]
            dist.broadcast_object_list(box, src=0)
            result = box[0]
        return result

    def _validate_main(self) -> dict[str, float | None]:
        from tamperscope.metrics.image import image_level_metrics
        from tamperscope.metrics.modules import ProtocolBF1, ThreeClassF1

        assert self.val_data is not None
        model = _bare(self.model)
        model.eval()
        # Validation runs on the main process only: no cross-process sync of the metrics.
        union = ProtocolBF1(threshold=0.5, empty="skip", sync_on_compute=False).to(self.device)
        per_class = ThreeClassF1(
            protocol="per_image", threshold=0.5, empty="skip", sync_on_compute=False
        ).to(self.device)
        loader = DataLoader(
            self.val_data,
            batch_size=self.config.data.batch_size,
            shuffle=False,
            num_workers=self.config.data.num_workers,
        )
        losses, labels, scores = [], [], []
        for batch in loader:
            batch = self._to_device(batch)
            out = model(batch["image"])
            losses.append(float(self.generator_losses(out, batch)["total"]))
            probs = _mask_probabilities(out.mask_logits)
            forged_prob = probs[:, 0] if self.num_classes == 1 else 1.0 - probs[:, 0]
            union.update(forged_prob.clamp(0, 1), batch["mask"])
            if self.num_classes == 3:
                per_class.update(probs, batch["mask"])
            labels.append(batch["label"].cpu())
            scores.append(torch.sigmoid(out.score_logit).cpu())
        model.train()
        y = torch.cat(labels).numpy().astype(np.int64)
        s = torch.cat(scores).double().numpy()
        result: dict[str, float | None] = {
            "loss": float(np.mean(losses)),
            "f1_union": _finite(float(union.compute())),
            "auc": image_level_metrics(y, s)["auc"],
        }
        if self.num_classes == 3:
            f1 = per_class.compute().tolist()
            for name, value in zip(("pristine", "source", "target"), f1, strict=True):
                result[f"f1_{name}"] = _finite(value)
        return result

    # ------------------------------------------------------------------------- checkpoints

    def _state(self) -> dict[str, Any]:
        model = _bare(self.model)
        mean = getattr(model, "mean", None)
        std = getattr(model, "std", None)
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "best_metric": self.best_metric,
            "best_step": self.best_step,
            "bad_epochs": self.bad_epochs,
            "monitor": self.config.train.monitor,
            "classes": ["forged"] if self.num_classes == 1 else ["pristine", "source", "target"],
            "mean": mean.flatten().tolist() if isinstance(mean, torch.Tensor) else [0.0, 0.0, 0.0],
            "std": std.flatten().tolist() if isinstance(std, torch.Tensor) else [1.0, 1.0, 1.0],
            "rng": capture_rng_state(),
            "schedulers": {
                "generator": self.sched_g.state_dict(),
                **(
                    {"discriminator": self.sched_d.state_dict()} if self.sched_d is not None else {}
                ),
            },
            "history": self.history,
            "config": config_to_dict(self.config),
        }

    def save(self, name: str | None = None) -> Path | None:
        """Write a checkpoint (main process only) and point ``latest.txt`` at it.

        Args:
            name: folder name under ``checkpoints/``; default ``step_<8-digit step>``.

        Returns:
            The checkpoint folder (None on other processes).
        """
        if not self.dist.is_main:
            return None
        name = name or f"step_{self.step:08d}"
        path = save_checkpoint(
            self.ckpt_dir / name,
            model=self.model,
            model_name=self.config.model.name,
            model_config=self.model_config,
            state=self._state(),
            **self._checkpoint_parts(),
        )
        if name != "best":
            with atomic_open(self.ckpt_dir / "latest.txt", "w") as fh:
                fh.write(name + "\n")
            self._prune()
        return path

    def _checkpoint_parts(self) -> dict[str, Any]:
        """What a checkpoint holds beside the model: optimizers, adversary, BatchNorm mode."""
        optimizers = {"generator": self.opt_g}
        if self.opt_d is not None:
            optimizers["discriminator"] = self.opt_d
        return {
            "optimizers": optimizers,
            "discriminator": self.discriminator,
            "discriminator_config": (
                {
                    "kind": self.config.model.discriminator,
                    "config": self.config.model.discriminator_kwargs,
                }
                if self.discriminator is not None
                else None
            ),
            "bn_track_running_stats": self.config.model.bn_track_running_stats,
        }

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
        self._load_networks_and_optimizers(ckpt, path)
        st = ckpt.state
        self.step = int(st["step"])
        self.epoch = int(st["epoch"])
        self.batch_in_epoch = int(st["batch_in_epoch"])
        self.best_metric = st.get("best_metric")
        self.best_step = st.get("best_step")
        self.bad_epochs = int(st.get("bad_epochs", 0))
        self.history = list(st.get("history", []))
        restore_rng_state(st["rng"])
        logger.info("resumed from %s at step %d (epoch %d)", path, self.step, self.epoch)

    def _load_networks_and_optimizers(self, ckpt: Any, path: Path) -> None:
        """Load the model, adversary, optimizers and schedulers of a read checkpoint.

        Raises:
            TrainingError: the config trains a discriminator the checkpoint lacks.
        """
        self.model.load_state_dict(ckpt.model_state)
        if self.discriminator is not None:
            if ckpt.discriminator_state is None:
                raise TrainingError(
                    f"{path}: the config trains a discriminator but the checkpoint has none"
                )
            self.discriminator.load_state_dict(ckpt.discriminator_state)
        self.opt_g.load_state_dict(ckpt.optimizer_states["generator"])
        if self.opt_d is not None and "discriminator" in ckpt.optimizer_states:
            self.opt_d.load_state_dict(ckpt.optimizer_states["discriminator"])
        schedulers = ckpt.state["schedulers"]
        self.sched_g.load_state_dict(schedulers["generator"])
        if self.sched_d is not None and "discriminator" in schedulers:
            self.sched_d.load_state_dict(schedulers["discriminator"])

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
        """Validation, schedule, early stopping; returns (stop, improved)."""
        cfg_t = self.config.train
        val = self.validate()
        plateau_on = val.get("loss", train_means.get("g_total"))
        if plateau_on is not None:
            self.sched_g.step(plateau_on)
            if self.sched_d is not None:
                self.sched_d.step(plateau_on)
        record = {"epoch": self.epoch, "step": self.step, **{f"val/{k}": v for k, v in val.items()}}
        self.history.append(record)
        self.log.log({f"val/{k}": v for k, v in val.items()}, self.step)
        self.log.log({"lr/generator": self.opt_g.param_groups[0]["lr"]}, self.step)
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
            Summary (also written to ``summary.json``): ``step``, ``epoch``, ``best_metric``,
            ``best_step``, ``monitor``, ``stopped_early``, ``last_validation``, ``checkpoint``.
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
        try:
            while self.epoch < cfg_t.epochs and not (limit and self.step >= limit):
                sums: dict[str, float] = {}
                count = 0
                interrupted = False
                for batch in self._train_loader():
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
                        bar.set_postfix(loss=f"{stats['g_total']:.4f}", epoch=self.epoch)
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


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def train(
    config: ExperimentConfig,
    run_dir: str | Path,
    *,
    device: str | torch.device | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    train_set: ForgeryDataset | None = None,
    val_set: ForgeryDataset | None = None,
) -> dict[str, Any]:
    """Build a :class:`Trainer`, run :meth:`Trainer.fit` and leave the process group.

    Args:
        config: resolved config (:func:`tamperscope.engine.config.load_config`).
        run_dir: run folder.
        device: ``"cpu"``/``"cuda"``/...; None: ``train.device`` or cuda when available.
        resume: continue from the newest checkpoint of ``run_dir``.
        max_steps: total step budget overriding ``train.max_steps``.
        train_set, val_set: readers overriding ``data.train_roots`` / ``data.val_roots``.

    Returns:
        The summary of :meth:`Trainer.fit`.

    Raises:
        TrainingError, ConfigError, DatasetError, ValueError: see :class:`Trainer`.
    """
    trainer = Trainer(
        config, run_dir, device=device, resume=resume, train_set=train_set, val_set=val_set
    )
    try:
        return trainer.fit(max_steps=max_steps)
    finally:
        trainer.close()
