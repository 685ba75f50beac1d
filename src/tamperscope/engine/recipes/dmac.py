"""DMAC's recipe: probe/donor pair models with DMAC's adversarial training.

Liu, Zhu, Zhao, Cao, "Adversarial Learning for Constrained Image Splicing Detection and
Localization based on Atrous Convolution", IEEE TIFS 2019 (DOI 10.1109/TIFS.2019.2902826),
Sec. III-C and IV-A. Two phases, each batch being one step:

1. pretraining (``pairs.pretrain_epochs`` epochs): the localization network (DMAC) learns
   with the cross entropy L_ce of both masks alone, with Adadelta;
2. adversarial optimization: the batches alternate between ``pairs.k`` updates of the
   detection network Det and the discriminative network Dis (each on a fresh minibatch, with
   DMAC's predictions detached; Adam at ``pairs.lr_adversaries``, paper 2e-4) and one update
   of DMAC with L = L_ce + lambda_det L_det + lambda_dis L_dis (Adam at ``pairs.lr_model``,
   paper 1e-5; lambdas 0.01), the losses of :mod:`tamperscope.losses.pairs`.

The alternation counts adversarial-phase batches across epochs, so it is not reset when an
epoch ends with an odd number of batches, and a resumed run picks it up where it stopped
(``adv_step`` in ``state.json``).

Validation: the cross entropy (``loss``), IoU, MCC and NMM of the shared-region masks at 0.5
(per pair, averaged over its two masks, then over the correlated pairs; negative pairs have
empty masks and are left out) and the detection F1 and AUC of DMAC's pair score (the mean
over both masks of the average probability of the pixels above 0.5), all through
:func:`~tamperscope.evaluate.evaluate_pair_predictions`.

Checkpoints hold DMAC in ``model.safetensors``, Det and Dis together in
``discriminator.safetensors`` under ``detector.`` and ``discriminator.`` (kind
``dmac-adversaries``) and the four optimizer states.

Deviations: no learning-rate schedule (the paper gives fixed rates); one process only
(``torchrun`` with several processes is refused).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Adadelta, Adam, Optimizer

from tamperscope.data.base import PairDataset
from tamperscope.engine.checkpoints import Checkpoint
from tamperscope.engine.config import ConfigError, ExperimentConfig
from tamperscope.engine.data import resolve_sets
from tamperscope.engine.errors import TrainingError
from tamperscope.engine.pair_data import PairSubset, PairTrainingDataset, open_pair_sets
from tamperscope.engine.recipes.base import (
    Adversary,
    Recipe,
    build_trained_model,
    finite_or_none,
    register_recipe,
)
from tamperscope.losses.pairs import (
    DIS_MODES,
    dmac_adversary_losses,
    dmac_generator_loss,
    pair_cross_entropy_loss,
)
from tamperscope.models.outputs import PairOutput
from tamperscope.registry import Task

__all__ = ["ADVERSARIES_KIND", "PAIR_VALIDATION_KEYS", "DmacRecipe"]

#: Quantities :meth:`DmacRecipe.validate` returns (possible ``train.monitor`` values).
PAIR_VALIDATION_KEYS = ("loss", "iou", "mcc", "nmm", "auc", "f1")

#: The kind under which the checkpoint keeps Det and Dis.
ADVERSARIES_KIND = "dmac-adversaries"


@register_recipe
class DmacRecipe(Recipe):
    """Train a registered probe/donor model (``PairOutput``) the DMAC way.

    Reads ``pairs`` (:class:`~tamperscope.engine.config.PairConfig`), ``model``, ``data``,
    ``optim.betas``/``weight_decay``/``grad_clip``; see the module docstring for the phases.

    Attributes (after :meth:`build_networks`):
        detector: Det, :class:`~tamperscope.models.dmac.PairDetectionNet`.
        mask_discriminator: Dis, :class:`~tamperscope.models.dmac.MaskDiscriminator`.
        adversaries: both in one ``ModuleDict`` (``detector``, ``discriminator``).
        opt_pretrain, opt_model: DMAC's Adadelta (pretraining) and Adam (adversarial phase).
        opt_det, opt_dis: Adam of Det and Dis.
        adv_step: adversarial-phase batches so far (drives the alternation).
    """

    name = "dmac"
    task = Task.PAIR
    distributed = False
    sample_noun = "pairs"
    synth_command = "splice-pairs"

    @classmethod
    def check_config(cls, config: ExperimentConfig) -> None:
        """Refuse settings DMAC's recipe cannot train with.

        Raises:
            ConfigError: unknown ``pairs.dis_loss``, ``pairs.k`` < 1, negative
                ``pairs.pretrain_epochs``, ``data.resize_mode`` other than ``resize``, or
                ``data.attacks`` set.
        """
        cfg_p, cfg_d = config.pairs, config.data
        if cfg_p.dis_loss not in DIS_MODES:
            raise ConfigError(f"pairs.dis_loss must be one of {DIS_MODES}, got {cfg_p.dis_loss!r}")
        if cfg_p.k < 1:
            raise ConfigError(
                f"pairs.k must be >= 1 (Det/Dis updates per DMAC update), got {cfg_p.k}"
            )
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

    # ------------------------------------------------------------------------- building

    def build_data(
        self, train_set: PairDataset | None, val_set: PairDataset | None
    ) -> tuple[PairTrainingDataset, PairTrainingDataset | None]:
        """Training and validation tensors
        (:class:`~tamperscope.engine.pair_data.PairTrainingDataset`) of the configured pair
        readers.

        Raises:
            TrainingError: no training data, or a reader of single images.
            DatasetError: a folder cannot be read.
        """
        cfg_d = self.config.data
        seed = self.config.train.seed
        train_set, val_set = resolve_sets(
            cfg_d,
            seed,
            train_set,
            val_set,
            open_sets=open_pair_sets,
            subset=PairSubset,
            synth_command=self.synth_command,
        )
        train_data = PairTrainingDataset(
            train_set, cfg_d.image_size, train=True, hflip=cfg_d.hflip, vflip=cfg_d.vflip, seed=seed
        )
        val_data = (
            PairTrainingDataset(val_set, cfg_d.image_size, train=False, seed=seed)
            if val_set is not None
            else None
        )
        return train_data, val_data

    def build_networks(self, *, initialise: bool) -> None:
        """DMAC, Det, Dis, the four optimizers (no schedulers: fixed rates).

        Raises:
            TrainingError: ``pairs.freeze_backbone`` with a model without ``backbone``, or
                bad ``model.init_weights``.
        """
        from tamperscope.models.dmac import MaskDiscriminator, PairDetectionNet

        cfg_p, cfg_o = self.config.pairs, self.config.optim
        self.model, self.model_config = build_trained_model(
            self.config.model, self.device, initialise=initialise
        )
        self.detector = PairDetectionNet(**cfg_p.detector_kwargs).to(self.device)
        self.mask_discriminator = MaskDiscriminator(**cfg_p.discriminator_kwargs).to(self.device)
        # One module so that the checkpoint's discriminator slot holds both adversaries.
        self.adversaries = nn.ModuleDict(
            {"detector": self.detector, "discriminator": self.mask_discriminator}
        )
        if cfg_p.freeze_backbone:
            self._frozen_backbone().requires_grad_(False)
        params = [p for p in self.model.parameters() if p.requires_grad]
        betas = tuple(cfg_o.betas)
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
        self.optimizers = {
            "pretrain": self.opt_pretrain,
            "model": self.opt_model,
            "detector": self.opt_det,
            "discriminator": self.opt_dis,
        }
        self.adv_step = 0

    def _frozen_backbone(self) -> nn.Module:
        backbone = self.exported_model().get_backbone()
        if backbone is None:
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

    def validation_keys(self) -> list[str]:
        """:data:`PAIR_VALIDATION_KEYS`."""
        return list(PAIR_VALIDATION_KEYS)

    def mask_classes(self) -> list[str]:
        """``["not_shared", "shared"]``."""
        return ["not_shared", "shared"]

    def pretraining(self, epoch: int) -> bool:
        """Whether ``epoch`` (0-based) is a cross-entropy pretraining epoch."""
        return epoch < self.config.pairs.pretrain_epochs

    def model_optimizer(self, epoch: int) -> Optimizer:
        """DMAC's optimizer in ``epoch``: Adadelta while pretraining, then Adam."""
        return self.opt_pretrain if self.pretraining(epoch) else self.opt_model

    def learning_rates(self, epoch: int) -> dict[str, float]:
        """DMAC's learning rate in ``epoch`` (logged as ``generator``)."""
        return {"generator": self.model_optimizer(epoch).param_groups[0]["lr"]}

    # ------------------------------------------------------------------------- one step

    def _forward(self, batch: dict[str, Any]) -> PairOutput:
        return self.model(batch["probe"], batch["donor"])

    @staticmethod
    def _loss_inputs(
        batch: dict[str, Any],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The batch tensors the DMAC losses take after the output, in their order."""
        return (
            batch["probe"],
            batch["donor"],
            batch["probe_mask"],
            batch["donor_mask"],
            batch["label"],
        )

    def _dmac_loss(
        self, out: PairOutput, batch: dict[str, Any], adversarial: bool
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg_p = self.config.pairs
        return dmac_generator_loss(
            out,
            *self._loss_inputs(batch),
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

    def train_step(self, batch: dict[str, Any], epoch: int) -> dict[str, float]:
        """One step: a pretraining update, a Det/Dis update or a DMAC update (module docs).

        Args:
            batch: a collated batch of
                :class:`~tamperscope.engine.pair_data.PairTrainingDataset`: ``probe``,
                ``donor`` (B, 3, S, S) float32 in [0, 1], ``probe_mask``, ``donor_mask``
                (B, S, S) int64 in {0, 1}, ``label`` (B,) float32 in {0, 1}.
            epoch: the current epoch (selects the phase).

        Returns:
            Scalars of the step: ``g_total`` (DMAC's loss L on the batch: L_ce while
            pretraining, L_ce + lambda_det L_det + lambda_dis L_dis afterwards, measured
            before the update on Det/Dis steps), ``ce``, ``det``, ``dis`` (unweighted terms,
            adversarial phase), ``update_model`` (1.0 when DMAC was updated), and on Det/Dis
            steps ``det_loss`` and ``dis_loss`` (the adversaries' own losses).
        """
        batch = self.to_device(batch)
        self._train_mode()
        if self.pretraining(epoch):
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
                *self._loss_inputs(batch),
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
        stats.update({name: float(v.detach()) for name, v in parts.items()})
        stats["g_total"] = float(total.detach())
        return stats

    # ------------------------------------------------------------------------- validation

    @torch.no_grad()
    def validate(self, loader: Iterable[dict[str, Any]]) -> dict[str, float | None]:
        """Loss and pair metrics on the validation batches.

        Returns:
            ``loss`` (L_ce, mean over batches), ``iou``, ``mcc``, ``nmm`` (pair localization
            at 0.5 on the S x S masks, correlated pairs only; None when there is none),
            ``auc`` and ``f1`` (detection by DMAC's pair score at 0.5; AUC None with one
            class only).
        """
        from tamperscope.evaluate import evaluate_pair_predictions

        model = self.exported_model()
        model.eval()
        losses: list[float] = []

        def predictions() -> Iterator[tuple[dict[str, Any], np.ndarray, np.ndarray]]:
            for batch in loader:
                batch = self.to_device(batch)
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
            "iou": finite_or_none(loc["iou"]),
            "mcc": finite_or_none(loc["mcc"]),
            "nmm": finite_or_none(loc["nmm"]),
            "auc": finite_or_none(det.get("auc")),
            "f1": finite_or_none(det.get("f1")),
        }

    # ------------------------------------------------------------------------- checkpoints

    def adversary(self) -> Adversary:
        """Det and Dis with their constructor kwargs, kind :data:`ADVERSARIES_KIND`."""
        cfg_p = self.config.pairs
        return Adversary(
            self.adversaries,
            {
                "kind": ADVERSARIES_KIND,
                "config": {
                    "detector": cfg_p.detector_kwargs,
                    "discriminator": cfg_p.discriminator_kwargs,
                },
            },
        )

    def extra_state(self) -> dict[str, Any]:
        """``adv_step``: the adversarial-phase batches so far."""
        return {"adv_step": self.adv_step}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore ``adv_step``."""
        self.adv_step = int(state.get("adv_step", 0))

    def load_networks(self, ckpt: Checkpoint) -> None:
        """Load DMAC, Det and Dis.

        Raises:
            TrainingError: the checkpoint holds no Det and Dis (not a DMAC run's).
        """
        kind = (ckpt.discriminator_config or {}).get("kind")
        if ckpt.discriminator_state is None or kind != ADVERSARIES_KIND:
            raise TrainingError(
                f"{ckpt.path}: not a pair-training checkpoint (no DMAC detection and "
                "discriminative networks in it)"
            )
        self.exported_model().load_state_dict(ckpt.model_state)
        self.adversaries.load_state_dict(ckpt.discriminator_state)
