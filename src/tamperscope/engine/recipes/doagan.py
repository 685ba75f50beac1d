"""DOA-GAN's recipe: copy-move detectors with optional adversarial training.

Islam, Long, Basharat, Hoogs, "DOA-GAN: Dual-Order Attentive Generative Adversarial Network
for Image Copy-move Forgery Detection and Localization", CVPR 2020. Each step:

1. the generator (the trained model) predicts mask logits (B, C, H, W) and image logits (B,);
2. after ``doagan.warmup_epochs``, the PatchGAN discriminator scores (image, ground-truth
   one-hot) as real and (image, predicted probabilities) as fake; its loss
   0.5 (L_real + L_fake) is back-propagated only while it is at least
   ``doagan.d_freeze_below`` (0.3);
3. the generator minimises L = w_adv L_adv + alpha L_loc + beta / 2 (L_det + L_det_pristine):
   L_adv makes the discriminator take the prediction for real, L_loc is the configured
   localization loss (on forged images), L_det and L_det_pristine the detection
   BCE-with-logits on the forged and on the pristine images of the batch.

Deviation from the paper: forged and pristine images share batches (the paper alternates
forged and pristine batches); the two detection terms are the means over each part of the
batch, so the weighting of the paper's formula is kept.

Optimizers: Adam for the generator (backbone at ``optim.lr_backbone``) and the
discriminator, each with a ReduceLROnPlateau schedule on the validation loss
(:mod:`tamperscope.engine.schedules`). Validation: the loss without the adversarial term,
protocol-B F1 of the forged-vs-pristine union mask, per-class F1 (3-class heads) and
image-level AUC. Under ``torchrun`` the generator is wrapped in DDP and the discriminator's
gradients are averaged over the processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tamperscope.data.base import ForgeryDataset
from tamperscope.engine.checkpoints import Checkpoint
from tamperscope.engine.config import ConfigError, ExperimentConfig
from tamperscope.engine.data import TrainingDataset
from tamperscope.engine.distributed import all_reduce_mean
from tamperscope.engine.errors import TrainingError
from tamperscope.engine.recipes.base import (
    Adversary,
    Recipe,
    build_image_data,
    build_trained_model,
    finite_or_none,
    register_recipe,
)
from tamperscope.engine.schedules import (
    build_discriminator_optimizer,
    build_generator_optimizer,
    build_plateau_scheduler,
    discriminator_may_update,
    in_warmup,
)
from tamperscope.losses import (
    CompositeLoss,
    build_loss,
    detection_bce_loss,
    gan_discriminator_loss,
    gan_generator_loss,
)
from tamperscope.models.outputs import CopyMoveOutput
from tamperscope.registry import Task

__all__ = ["ADVERSARIAL_KINDS", "DISCRIMINATORS", "DoaganRecipe"]

#: Values of ``loss.adversarial``.
ADVERSARIAL_KINDS = ("vanilla", "lsgan", "none")
#: Values of ``doagan.discriminator``.
DISCRIMINATORS = ("patchgan", "none")


def _mask_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) logits -> probabilities (softmax over classes; sigmoid for C = 1)."""
    return torch.sigmoid(logits) if logits.shape[1] == 1 else F.softmax(logits, dim=1)


def _mask_one_hot(mask: torch.Tensor, channels: int) -> torch.Tensor:
    """(B, H, W) labels -> (B, C, H, W) float one-hot (C = 1: the forged indicator)."""
    if channels == 1:
        return (mask != 0).float().unsqueeze(1)
    return F.one_hot(mask.long(), channels).permute(0, 3, 1, 2).float()


@register_recipe
class DoaganRecipe(Recipe):
    """Train a registered copy-move model (``CopyMoveOutput``) the DOA-GAN way.

    Reads ``model``, ``data``, ``loss``, ``optim``, ``doagan`` (see the module docstring).
    The checkpoint holds the generator, the discriminator (kind ``patchgan``), the optimizers
    ``generator`` and ``discriminator`` and their plateau schedulers.

    Attributes (after :meth:`build_networks`):
        discriminator: the PatchGAN discriminator, or None without adversarial training.
        num_classes: mask channels of the model (3: pristine/source/target, 1: forged).
    """

    name = "doagan"
    task = Task.COPY_MOVE
    distributed = True
    sample_noun = "samples"
    synth_command = "copy-move"

    discriminator: nn.Module | None

    @classmethod
    def check_config(cls, config: ExperimentConfig) -> None:
        """Refuse an unknown ``loss.adversarial`` or ``doagan.discriminator``.

        Raises:
            ConfigError: naming the key and its values.
        """
        if config.loss.adversarial not in ADVERSARIAL_KINDS:
            raise ConfigError(
                f"loss.adversarial must be one of {ADVERSARIAL_KINDS}, got "
                f"{config.loss.adversarial!r}"
            )
        if config.doagan.discriminator not in DISCRIMINATORS:
            raise ConfigError(
                f"doagan.discriminator must be one of {DISCRIMINATORS}, got "
                f"{config.doagan.discriminator!r}"
            )

    # ------------------------------------------------------------------------- building

    def build_data(
        self, train_set: ForgeryDataset | None, val_set: ForgeryDataset | None
    ) -> tuple[TrainingDataset, TrainingDataset | None]:
        """Training and validation tensors (:class:`~tamperscope.engine.data.TrainingDataset`)
        of the configured single-image readers; signed distance maps when the boundary loss
        is configured.

        Raises:
            TrainingError: no training data, or a reader of image pairs.
            DatasetError: a folder cannot be read, or binary masks for a 3-class model.
        """
        num_classes = int(self.config.model.kwargs.get("num_classes", 3))
        need_sdm = any(t.get("name") == "boundary" for t in self.config.loss.localization)
        self.train_data, val_data = build_image_data(
            self.config,
            train_set,
            val_set,
            synth_command=self.synth_command,
            num_classes=num_classes,
            signed_distance=need_sdm,
        )
        return self.train_data, val_data

    def build_networks(self, *, initialise: bool) -> None:
        """The generator, the discriminator (when adversarial), Adam optimizers, plateau
        schedulers and the localization loss.

        Raises:
            TrainingError: model and data class counts differ, or bad ``model.init_weights``.
            ConfigError: an unknown ``loss.localization`` term.
        """
        config = self.config
        cfg_m, cfg_a = config.model, config.doagan
        self.model, self.model_config = build_trained_model(
            cfg_m, self.device, initialise=initialise
        )
        self.num_classes = self._mask_channels()
        self.discriminator = None
        if config.loss.adversarial != "none" and cfg_a.discriminator != "none":
            from tamperscope.models.layers.discriminators import PatchDiscriminator

            self.discriminator = PatchDiscriminator(
                image_channels=3, mask_channels=self.num_classes, **cfg_a.discriminator_kwargs
            ).to(self.device)
        self.opt_g = build_generator_optimizer(self.model, config.optim, cfg_m.backbone_attr)
        self.optimizers = {"generator": self.opt_g}
        self.schedulers = {"generator": build_plateau_scheduler(self.opt_g, config.optim)}
        self.opt_d = None
        if self.discriminator is not None:
            self.opt_d = build_discriminator_optimizer(self.discriminator, config.optim)
            self.optimizers["discriminator"] = self.opt_d
            self.schedulers["discriminator"] = build_plateau_scheduler(self.opt_d, config.optim)
        try:
            self.loc_loss: CompositeLoss = build_loss(config.loss.localization)
        except (KeyError, ValueError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise ConfigError(f"loss.localization: {msg}") from None

    def _mask_channels(self) -> int:
        channels = self.exported_model().num_classes
        if int(channels) != self.train_data.num_classes:
            raise TrainingError(
                f"the model has {channels} mask channels but the data pipeline builds "
                f"{self.train_data.num_classes}-class masks; set model.kwargs.num_classes"
            )
        return int(channels)

    def validation_keys(self) -> list[str]:
        """``loss``, ``f1_union``, ``auc``, and for 3-class heads ``f1_pristine``,
        ``f1_source``, ``f1_target``."""
        keys = ["loss", "f1_union", "auc"]
        if self.num_classes == 3:
            keys += ["f1_pristine", "f1_source", "f1_target"]
        return keys

    def mask_classes(self) -> list[str]:
        """``["forged"]`` for 1-channel heads, else ``["pristine", "source", "target"]``."""
        return ["forged"] if self.num_classes == 1 else ["pristine", "source", "target"]

    def learning_rates(self, epoch: int) -> dict[str, float]:
        """The generator's learning rate (its first parameter group)."""
        return {"generator": self.opt_g.param_groups[0]["lr"]}

    # ------------------------------------------------------------------------- losses

    def generator_losses(
        self, out: CopyMoveOutput, batch: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """The generator's loss terms, without the adversarial one.

        Args:
            out: the model output for ``batch``: ``mask_logits`` (B, C, H, W) float,
                ``score_logit`` (B,) float.
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

    def adversarial_active(self, epoch: int) -> bool:
        """Whether the discriminator takes part in ``epoch`` (0-based; after the warm-up)."""
        return self.discriminator is not None and not in_warmup(
            epoch, self.config.doagan.warmup_epochs
        )

    # ------------------------------------------------------------------------- one step

    def train_step(self, batch: dict[str, Any], epoch: int) -> dict[str, float]:
        """One optimisation step of the discriminator (when active) and the generator.

        Args:
            batch: a collated batch of :class:`~tamperscope.engine.data.TrainingDataset`:
                ``image`` (B, 3, H, W) float32 in [0, 1], ``mask`` (B, H, W) int64,
                ``label`` (B,) float32, optional ``sdm`` (B, C, H, W) float32.
            epoch: the current epoch (the warm-up epochs train the generator alone).

        Returns:
            Scalars of the step: ``g_total``, ``loc``, ``det``, ``det_pristine``, and when
            the discriminator is active ``g_adv``, ``d_loss``, ``d_updated`` (1.0 or 0.0).
        """
        batch = self.to_device(batch)
        image = batch["image"]
        cfg_l = self.config.loss
        self.model.train()
        out: CopyMoveOutput = self.model(image)
        stats: dict[str, float] = {}

        adversarial = self.adversarial_active(epoch)
        if adversarial:
            assert self.discriminator is not None and self.opt_d is not None
            self.discriminator.train()
            fake = _mask_probabilities(out.mask_logits).detach()
            real = _mask_one_hot(batch["mask"], self.num_classes)
            # Halved as in pix2pix, so that D learns more slowly than G.
            d_loss = 0.5 * gan_discriminator_loss(
                self.discriminator(image, real),
                self.discriminator(image, fake),
                cfg_l.adversarial,  # type: ignore[arg-type]
            )
            d_value = float(all_reduce_mean(d_loss.detach(), self.dist))
            update = discriminator_may_update(d_value, self.config.doagan.d_freeze_below)
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
                cfg_l.adversarial,  # type: ignore[arg-type]
            )
            total = total + cfg_l.adversarial_weight * g_adv
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
    def validate(self, loader: Iterable[dict[str, Any]]) -> dict[str, float | None]:
        """Loss and metrics on the validation batches.

        Returns:
            ``loss`` (alpha L_loc + beta / 2 (L_det + L_det_pristine), mean over batches),
            ``f1_union`` (protocol-B F1 of the forged-vs-pristine mask at 0.5, images without
            forged pixels skipped), ``f1_pristine``, ``f1_source``, ``f1_target`` (protocol-B
            per-class F1, 3-class heads), ``auc`` (image-level ROC AUC; None with one class
            only).
        """
        from tamperscope.metrics.image import image_level_metrics
        from tamperscope.metrics.modules import ProtocolBF1, ThreeClassF1

        model = self.exported_model()
        model.eval()
        # Validation runs on the main process only: no cross-process sync of the metrics.
        union = ProtocolBF1(threshold=0.5, empty="skip", sync_on_compute=False).to(self.device)
        per_class = ThreeClassF1(
            protocol="per_image", threshold=0.5, empty="skip", sync_on_compute=False
        ).to(self.device)
        losses, labels, scores = [], [], []
        for batch in loader:
            batch = self.to_device(batch)
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
            "f1_union": finite_or_none(float(union.compute())),
            "auc": image_level_metrics(y, s)["auc"],
        }
        if self.num_classes == 3:
            f1 = per_class.compute().tolist()
            for name, value in zip(("pristine", "source", "target"), f1, strict=True):
                result[f"f1_{name}"] = finite_or_none(value)
        return result

    # ------------------------------------------------------------------------- checkpoints

    def adversary(self) -> Adversary | None:
        """The discriminator with ``{"kind": doagan.discriminator, "config": kwargs}``."""
        if self.discriminator is None:
            return None
        cfg_a = self.config.doagan
        return Adversary(
            self.discriminator,
            {"kind": cfg_a.discriminator, "config": cfg_a.discriminator_kwargs},
        )

    def load_networks(self, ckpt: Checkpoint) -> None:
        """Load the generator and, when the config trains one, the discriminator.

        Raises:
            TrainingError: the config trains a discriminator the checkpoint lacks.
        """
        self.exported_model().load_state_dict(ckpt.model_state)
        if self.discriminator is not None:
            if ckpt.discriminator_state is None:
                raise TrainingError(
                    f"{ckpt.path}: the config trains a discriminator but the checkpoint has none"
                )
            self.discriminator.load_state_dict(ckpt.discriminator_state)
