"""The training loop of probe/donor pair models (DMAC) with DMAC's adversarial recipe.

Liu, Liu, Cheng, "Adversarial Learning for Constrained Image Splicing Detection and
Localization based on Atrous Convolution", IEEE TIFS 2019 (arXiv:1901.06595), Sec. III-C
and IV-A. Two phases, each batch being one step:

1. pretraining (``pairs.pretrain_epochs`` epochs): the localization network (DMAC) learns
   with the cross entropy L_ce of both masks alone, with Adadelta;
2. adversarial optimization: the batches alternate between ``pairs.k`` updates of the
   detection network Det and the discriminative network Dis (each on a fresh minibatch, with
   DMAC's predictions detached; Adam at ``pairs.lr_adversaries``, paper 2e-4) and one update
   of DMAC with L = L_ce + lambda_det L_det + lambda_dis L_dis (Adam at ``pairs.lr_model``,
   paper 1e-5; lambdas 0.01), the losses of :mod:`tamperscope.losses.pairs`.

The alternation counts adversarial-phase batches across epochs, so it is not reset when an
epoch ends with an odd number of batches, and a resumed run picks it up where it stopped.

Validation runs once per epoch on the held-out pairs: the cross entropy (``loss``), IoU, MCC
and NMM of the shared-region masks at 0.5 (per pair, averaged over its two masks, then over
the correlated pairs; negative pairs have empty masks and are left out) and the detection
F1 and AUC of DMAC's pair score (the mean over both masks of the average probability of the
pixels above 0.5), all through
:func:`~tamperscope.metrics.evaluation.evaluate_pair_predictions`.

Everything else is the copy-move trainer's (:class:`~tamperscope.engine.trainer.Trainer`):
the epoch loop, the seeded per-epoch sampler, mid-epoch resume, checkpoints in safetensors
with exact resume (DMAC in ``model.safetensors``, Det and Dis together in
``discriminator.safetensors`` under ``detector.`` and ``discriminator.``, the four optimizer
states), the ``best`` checkpoint, early stopping, scalar logs and the progress bar.

Deviations: no learning-rate schedule (the paper gives fixed rates); one process only
(``torchrun`` with several processes is refused).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Adadelta, Adam, Optimizer
from torch.utils.data import DataLoader

from tamperscope.data.base import PairDataset
from tamperscope.data.training_pairs import ConcatPairDataset, PairSubset, PairTrainingDataset
from tamperscope.engine.config import ConfigError, ExperimentConfig, save_config
from tamperscope.engine.scalars import ScalarLogger
from tamperscope.engine.trainer import (
    Trainer,
    TrainingError,
    _bare,
    _finite,
    load_init_weights,
    seed_everything,
)
from tamperscope.losses.pairs import (
    DIS_MODES,
    dmac_adversary_losses,
    dmac_generator_loss,
    pair_cross_entropy_loss,
)
from tamperscope.models.outputs import PairOutput

__all__ = [
    "PAIR_VALIDATION_KEYS",
    "TASKS",
    "PairTrainer",
    "is_pair_model",
    "resolve_task",
    "train_pairs",
]

logger = logging.getLogger(__name__)

#: Values of the config's ``task`` key.
TASKS = ("auto", "copy_move", "pairs")

#: Quantities :meth:`PairTrainer.validate` returns (possible ``train.monitor`` values).
PAIR_VALIDATION_KEYS = ("loss", "iou", "mcc", "nmm", "auc", "f1")

#: The names under which the checkpoint keeps Det and Dis.
ADVERSARIES_KIND = "dmac-adversaries"


def is_pair_model(name: str) -> bool:
    """Whether the registered model ``name`` is a probe/donor model (its registered task).

    Raises:
        KeyError: unknown model name (the message lists close matches).
    """
    from tamperscope.registry import Task, model_task

    return model_task(name) == Task.PAIR


def resolve_task(config: ExperimentConfig) -> str:
    """``"pairs"`` or ``"copy_move"``: the trainer a config needs.

    ``task: auto`` looks at the registered model (:func:`is_pair_model`).

    Raises:
        ConfigError: ``task`` is not one of :data:`TASKS`.
        KeyError: ``task: auto`` with an unknown model name.
    """
    if config.task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {config.task!r}")
    if config.task != "auto":
        return config.task
    return "pairs" if is_pair_model(config.model.name) else "copy_move"


def _open_pair_sets(reader: str, roots: Sequence[str]) -> PairDataset:
    from tamperscope.data.base import open_dataset

    parts = []
    for root in roots:
        ds = open_dataset(reader, root)
        if not isinstance(ds, PairDataset):
            raise TrainingError(
                f"{root}: reader {reader!r} gives single images; pair training needs probe/donor "
                "pairs (sets written by 'tamperscope synth splice-pairs')"
            )
        parts.append(ds)
    return parts[0] if len(parts) == 1 else ConcatPairDataset(parts)


class _FixedRates:
    """Stands in for the copy-move trainer's plateau scheduler: DMAC's rates are fixed."""

    def step(self, *args: Any) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


class PairTrainer(Trainer):
    """Train a registered probe/donor model (``PairOutput``) with DMAC's recipe.

    See the module docstring for the phases and the validation; the run folder, the
    checkpoints and :meth:`fit` are those of :class:`~tamperscope.engine.trainer.Trainer`.

    Args:
        config: the resolved training config (``pairs`` section, see
            :class:`~tamperscope.engine.config.PairConfig`).
        run_dir: the run folder: ``config.yaml``, ``checkpoints/``, ``scalars.jsonl``,
            ``tensorboard/``, ``summary.json``.
        device: ``"cpu"``, ``"cuda"``, ...; None: ``config.train.device``, else cuda when
            available.
        resume: continue from the newest checkpoint of ``run_dir`` exactly where it stopped.
        train_set: training pair reader; None opens ``config.data.train_roots`` with
            ``config.data.reader``.
        val_set: validation pair reader; None opens ``config.data.val_roots`` (or holds out
            ``config.data.val_fraction`` of the training pairs).

    Raises:
        TrainingError: no training data, a reader giving single images, a fresh run in a
            folder that has checkpoints, a resume without checkpoints or from another
            model's checkpoint, fewer pairs than the batch size, several processes, or a
            model whose output is not a ``PairOutput``.
        ConfigError: unknown ``pairs.dis_loss``, ``pairs.k`` < 1, negative
            ``pairs.pretrain_epochs``, ``data.resize_mode`` other than ``resize``,
            ``data.attacks`` set, or a ``train.monitor`` that validation does not return.
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
        train_set: PairDataset | None = None,
        val_set: PairDataset | None = None,
    ) -> None:
        _check_pair_config(config)
        super().__init__(
            config,
            run_dir,
            device=device,
            resume=resume,
            train_set=train_set,  # type: ignore[arg-type]
            val_set=val_set,  # type: ignore[arg-type]
        )

    # ------------------------------------------------------------------------- set-up

    def _setup(  # type: ignore[override]
        self,
        resume_from: Path | None,
        train_set: PairDataset | None,
        val_set: PairDataset | None,
    ) -> None:
        if self.dist.enabled:
            raise TrainingError(
                "the pair trainer runs in one process; launch 'tamperscope train' without "
                "torchrun (or with --nproc_per_node=1)"
            )
        config = self.config
        cfg_m, cfg_p, cfg_o, cfg_t = config.model, config.pairs, config.optim, config.train
        seed_everything(cfg_t.seed, deterministic=cfg_t.deterministic)
        self._build_pair_data(train_set, val_set)

        from tamperscope.models.dmac import MaskDiscriminator, PairDetectionNet
        from tamperscope.registry import create_model

        self.model: nn.Module = create_model(cfg_m.name, **cfg_m.kwargs).to(self.device)
        if cfg_m.init_weights and resume_from is None:
            load_init_weights(self.model, cfg_m.name, cfg_m.init_weights)
        self.model_config = dict(getattr(self.model, "config", None) or cfg_m.kwargs)
        self.num_classes = 2
        self.detector = PairDetectionNet(**cfg_p.detector_kwargs).to(self.device)
        self.mask_discriminator = MaskDiscriminator(**cfg_p.discriminator_kwargs).to(self.device)
        # One module so that the checkpoint's discriminator slot holds both adversaries.
        self.adversaries = nn.ModuleDict(
            {"detector": self.detector, "discriminator": self.mask_discriminator}
        )
        self.discriminator = self.adversaries
        betas = tuple(cfg_o.betas)
        if cfg_p.freeze_backbone:
            self._frozen_backbone().requires_grad_(False)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt_pretrain = Adadelta(params, lr=cfg_p.pretrain_lr, weight_decay=cfg_o.weight_decay)
        self.opt_model = Adam(
            params,
            lr=cfg_p.lr_model,
            betas=betas,  # type: ignore[arg-type]
            weight_decay=cfg_o.weight_decay,
        )
        self.opt_det = Adam(
            self.detector.parameters(),
            lr=cfg_p.lr_adversaries,
            betas=betas,  # type: ignore[arg-type]
            weight_decay=cfg_o.weight_decay,
        )
        self.opt_dis = Adam(
            self.mask_discriminator.parameters(),
            lr=cfg_p.lr_adversaries,
            betas=betas,  # type: ignore[arg-type]
            weight_decay=cfg_o.weight_decay,
        )
        self.sched_g = _FixedRates()  # type: ignore[assignment]
        self.sched_d = None
        self.opt_d = None

        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.adv_step = 0
        self.best_metric: float | None = None
        self.best_step: int | None = None
        self.bad_epochs = 0
        self.history: list[dict[str, Any]] = []
        self._output_checked = False
        if resume_from is not None:
            self._restore(resume_from)
        self.log = ScalarLogger(self.run_dir, enabled=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, self.run_dir / "config.yaml")

    def _frozen_backbone(self) -> nn.Module:
        backbone = getattr(self.model, "backbone", None)
        if not isinstance(backbone, nn.Module):
            raise TrainingError(
                f"pairs.freeze_backbone: model {self.config.model.name!r} has no 'backbone' "
                "module to freeze"
            )
        return backbone

    def _train_mode(self) -> None:
        self.model.train()
        if self.config.pairs.freeze_backbone:
            self._frozen_backbone().eval()  # BatchNorm statistics stay those of the weights
        self.adversaries.train()

    @property
    def opt_g(self) -> Optimizer:  # type: ignore[override]
        """The localization network's optimizer of the current phase (Adadelta, then Adam)."""
        return self.opt_pretrain if self.pretraining() else self.opt_model

    def _build_pair_data(self, train_set: PairDataset | None, val_set: PairDataset | None) -> None:
        cfg_d = self.config.data
        train_set, val_set = self._resolve_sets(
            train_set, val_set, _open_pair_sets, PairSubset, "splice-pairs"
        )
        seed = self.config.train.seed
        self.train_data = PairTrainingDataset(  # type: ignore[assignment]
            train_set, cfg_d.image_size, train=True, hflip=cfg_d.hflip, vflip=cfg_d.vflip, seed=seed
        )
        self.val_data = (
            PairTrainingDataset(val_set, cfg_d.image_size, train=False, seed=seed)  # type: ignore[assignment]
            if val_set is not None
            else None
        )
        if len(self.train_data) < cfg_d.batch_size:
            raise TrainingError(
                f"{len(self.train_data)} training pairs, fewer than one batch of "
                f"{cfg_d.batch_size} (data.batch_size); generate more pairs or lower "
                "data.batch_size"
            )

    def validation_keys(self) -> list[str]:
        """Names of the quantities :meth:`validate` returns (possible ``train.monitor`` values)."""
        return list(PAIR_VALIDATION_KEYS)

    def pretraining(self, epoch: int | None = None) -> bool:
        """Whether ``epoch`` (default: the current one) is a cross-entropy pretraining epoch."""
        epoch = self.epoch if epoch is None else epoch
        return epoch < self.config.pairs.pretrain_epochs

    # ------------------------------------------------------------------------- one step

    def _forward(self, batch: dict[str, Any]) -> PairOutput:
        if self._output_checked:
            return self.model(batch["probe"], batch["donor"])
        try:
            out = self.model(batch["probe"], batch["donor"])
        except TypeError as exc:
            raise TrainingError(
                f"model {self.config.model.name!r} cannot take a probe and a donor ({exc}); "
                "train single-image models with task: copy_move"
            ) from None
        if not self._output_checked:
            if not isinstance(out, PairOutput):
                raise TrainingError(
                    f"model {self.config.model.name!r} returns {type(out).__name__}, not "
                    "PairOutput; train single-image models with task: copy_move"
                )
            self._output_checked = True
        return out

    def _dmac_loss(
        self, out: PairOutput, batch: dict[str, Any], adversarial: bool
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg_p = self.config.pairs
        return dmac_generator_loss(
            out,
            batch["probe"],
            batch["donor"],
            batch["probe_mask"],
            batch["donor_mask"],
            batch["label"],
            self.detector if adversarial else None,
            self.mask_discriminator if adversarial else None,
            lambda_det=cfg_p.lambda_det,
            lambda_dis=cfg_p.lambda_dis,
            mode=cfg_p.dis_loss,  # type: ignore[arg-type]
        )

    def _update_model(self, optimizer: Optimizer, total: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.config.optim.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optim.grad_clip)
        optimizer.step()

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One step: a pretraining update, a Det/Dis update or a DMAC update (module docs).

        Args:
            batch: a collated batch of :class:`~tamperscope.data.training_pairs.
                PairTrainingDataset`: ``probe``, ``donor`` (B, 3, S, S) float32 in [0, 1],
                ``probe_mask``, ``donor_mask`` (B, S, S) int64 in {0, 1}, ``label`` (B,)
                float32 in {0, 1}.

        Returns:
            Scalars of the step: ``g_total`` (DMAC's loss L on the batch: L_ce while
            pretraining, L_ce + lambda_det L_det + lambda_dis L_dis afterwards, measured
            before the update on Det/Dis steps), ``ce``, ``det``, ``dis`` (unweighted terms,
            adversarial phase), ``update_model`` (1.0 when DMAC was updated), and on Det/Dis
            steps ``det_loss`` and ``dis_loss`` (the adversaries' own losses).
        """
        batch = self._to_device(batch)
        self._train_mode()
        if self.pretraining():
            out = self._forward(batch)
            total, parts = self._dmac_loss(out, batch, adversarial=False)
            self._update_model(self.opt_pretrain, total)
            return {
                "g_total": float(total.detach()),
                "ce": float(parts["ce"].detach()),
                "update_model": 1.0,
            }

        k = self.config.pairs.k
        adversary_turn = self.adv_step % (k + 1) < k
        self.adv_step += 1
        if adversary_turn:
            with torch.no_grad():
                out = self._forward(batch)
                # Measured in eval mode: no BatchNorm statistics or spectral-norm power
                # iteration of Det/Dis move for a number that is only logged.
                self.adversaries.eval()
                total, parts = self._dmac_loss(out, batch, adversarial=True)
                self.adversaries.train()
            losses = dmac_adversary_losses(
                out,
                batch["probe"],
                batch["donor"],
                batch["probe_mask"],
                batch["donor_mask"],
                batch["label"],
                self.detector,
                self.mask_discriminator,
                mode=self.config.pairs.dis_loss,  # type: ignore[arg-type]
            )
            self.opt_det.zero_grad(set_to_none=True)
            self.opt_dis.zero_grad(set_to_none=True)
            # The two losses have disjoint graphs: one backward fills each network's grads.
            (losses["det"] + losses["dis"]).backward()
            self.opt_det.step()
            self.opt_dis.step()
            stats = {
                "det_loss": float(losses["det"].detach()),
                "dis_loss": float(losses["dis"].detach()),
                "update_model": 0.0,
            }
        else:
            out = self._forward(batch)
            total, parts = self._dmac_loss(out, batch, adversarial=True)
            self._update_model(self.opt_model, total)
            stats = {"update_model": 1.0}
        stats.update({k_: float(v.detach()) for k_, v in parts.items()})
        stats["g_total"] = float(total.detach())
        return stats

    # ------------------------------------------------------------------------- validation

    @torch.no_grad()
    def validate(self) -> dict[str, float | None]:
        """Loss and pair metrics on the validation pairs (empty dict without a validation set).

        Returns:
            ``loss`` (L_ce, mean over batches), ``iou``, ``mcc``, ``nmm`` (pair localization
            at 0.5 on the S x S masks, correlated pairs only; None when there is none),
            ``auc`` and ``f1`` (detection by DMAC's pair score at 0.5; AUC None with one
            class only).
        """
        from tamperscope.evaluate import evaluate_pair_predictions

        if self.val_data is None:
            return {}
        model = _bare(self.model)
        model.eval()
        losses: list[float] = []
        loader = DataLoader(
            self.val_data,
            batch_size=self.config.data.batch_size,
            shuffle=False,
            num_workers=self.config.data.num_workers,
        )

        def predictions() -> Iterator[tuple[dict[str, Any], np.ndarray, np.ndarray]]:
            for batch in loader:
                batch = self._to_device(batch)
                out = self._forward(batch)
                losses.append(
                    float(pair_cross_entropy_loss(out, batch["probe_mask"], batch["donor_mask"]))
                )
                size = tuple(batch["probe"].shape[-2:])
                maps = [
                    F.interpolate(
                        torch.softmax(logits.float(), dim=1)[:, 1:2],
                        size=size,
                        mode="bilinear",
                        align_corners=False,
                    )[:, 0]
                    .clamp(0.0, 1.0)
                    .cpu()
                    .numpy()
                    for logits in (out.probe_logits, out.donor_logits)
                ]
                for i, name in enumerate(batch["name"]):
                    sample = {
                        "name": name,
                        "label": int(batch["label"][i]),
                        "probe_mask": batch["probe_mask"][i].cpu().numpy(),
                        "donor_mask": batch["donor_mask"][i].cpu().numpy(),
                    }
                    yield sample, maps[0][i], maps[1][i]

        result = evaluate_pair_predictions(predictions(), threshold=0.5)
        model.train()
        loc, det = result["localization"], result["detection"] or {}
        return {
            "loss": float(np.mean(losses)),
            "iou": _finite(loc["iou"]),
            "mcc": _finite(loc["mcc"]),
            "nmm": _finite(loc["nmm"]),
            "auc": _finite(det.get("auc")),
            "f1": _finite(det.get("f1")),
        }

    # ------------------------------------------------------------------------- checkpoints

    def _state(self) -> dict[str, Any]:
        return {
            "task": "pairs",
            **super()._state(),
            "adv_step": self.adv_step,
            "classes": ["not_shared", "shared"],
            "schedulers": {},
        }

    def _optimizers(self) -> dict[str, Optimizer]:
        return {
            "pretrain": self.opt_pretrain,
            "model": self.opt_model,
            "detector": self.opt_det,
            "discriminator": self.opt_dis,
        }

    def _checkpoint_parts(self) -> dict[str, Any]:
        cfg_p = self.config.pairs
        return {
            "optimizers": self._optimizers(),
            "discriminator": self.adversaries,
            "discriminator_config": {
                "kind": ADVERSARIES_KIND,
                "config": {
                    "detector": cfg_p.detector_kwargs,
                    "discriminator": cfg_p.discriminator_kwargs,
                },
            },
            "bn_track_running_stats": True,
        }

    def _load_networks_and_optimizers(self, ckpt: Any, path: Path) -> None:
        kind = (ckpt.discriminator_config or {}).get("kind")
        if ckpt.discriminator_state is None or kind != ADVERSARIES_KIND:
            raise TrainingError(
                f"{path}: not a pair-training checkpoint (no DMAC detection and discriminative "
                "networks in it)"
            )
        self.model.load_state_dict(ckpt.model_state)
        self.adversaries.load_state_dict(ckpt.discriminator_state)
        for key, optimizer in self._optimizers().items():
            optimizer.load_state_dict(ckpt.optimizer_states[key])
        self.adv_step = int(ckpt.state.get("adv_step", 0))


def _check_pair_config(config: ExperimentConfig) -> None:
    cfg_p, cfg_d, cfg_t = config.pairs, config.data, config.train
    if cfg_p.dis_loss not in DIS_MODES:
        raise ConfigError(f"pairs.dis_loss must be one of {DIS_MODES}, got {cfg_p.dis_loss!r}")
    if cfg_p.k < 1:
        raise ConfigError(f"pairs.k must be >= 1 (Det/Dis updates per DMAC update), got {cfg_p.k}")
    if cfg_p.pretrain_epochs < 0:
        raise ConfigError(f"pairs.pretrain_epochs must be >= 0, got {cfg_p.pretrain_epochs}")
    if cfg_d.resize_mode != "resize":
        raise ConfigError(
            f"data.resize_mode={cfg_d.resize_mode!r}: pair training resizes both images to "
            "data.image_size (resize_mode: resize)"
        )
    if cfg_d.attacks:
        raise ConfigError(
            "data.attacks is not supported for pairs; generate attacked probes with "
            "'tamperscope synth splice-pairs --attacks ...' or --random-attacks"
        )
    if cfg_t.monitor not in PAIR_VALIDATION_KEYS:
        raise ConfigError(
            f"train.monitor={cfg_t.monitor!r} is not a validation quantity of pair training "
            f"(known: {', '.join(PAIR_VALIDATION_KEYS)})"
        )


def train_pairs(
    config: ExperimentConfig,
    run_dir: str | Path,
    *,
    device: str | torch.device | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    train_set: PairDataset | None = None,
    val_set: PairDataset | None = None,
) -> dict[str, Any]:
    """Build a :class:`PairTrainer`, run :meth:`~tamperscope.engine.trainer.Trainer.fit`.

    Args:
        config: resolved config (:func:`tamperscope.engine.config.load_config`).
        run_dir: run folder.
        device: ``"cpu"``/``"cuda"``/...; None: ``train.device`` or cuda when available.
        resume: continue from the newest checkpoint of ``run_dir``.
        max_steps: total step budget overriding ``train.max_steps``.
        train_set, val_set: pair readers overriding ``data.train_roots`` / ``data.val_roots``.

    Returns:
        The summary of ``fit``: ``step``, ``epoch``, ``monitor``, ``best_metric``,
        ``best_step``, ``stopped_early``, ``last_validation``, ``checkpoint``.

    Raises:
        TrainingError, ConfigError, DatasetError, ValueError, KeyError: see
        :class:`PairTrainer`.
    """
    trainer = PairTrainer(
        config, run_dir, device=device, resume=resume, train_set=train_set, val_set=val_set
    )
    try:
        return trainer.fit(max_steps=max_steps)
    finally:
        trainer.close()
