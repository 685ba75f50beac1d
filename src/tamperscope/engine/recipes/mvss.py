"""MVSS-Net's recipe: manipulation localizers (``LocalizationOutput``) with multi-scale
supervision.

Chen, Dong, Wang, Wang, "Image Manipulation Detection by Multi-View Multi-Scale
Supervision", ICCV 2021 (arXiv:2104.06832), Sec. 3.3. Each step minimises

    L = alpha L_det + beta L_seg + edge_weight L_edge

with L_det the BCE-with-logits of the image logit against the label (manipulated or
pristine), L_seg the soft Dice loss of the manipulated pixels (every image of the batch,
pristine ones with empty masks; pooled over the batch), and, for models with an edge branch
(``edge_logits`` not None), L_edge the Dice (or BCE) loss of the edge logits against the
boundary band of the manipulated regions (:func:`boundary_band`). Weights from the ``mvss``
section (:class:`~tamperscope.engine.config.MvssConfig`; paper 0.04, 0.16, 0.8).

Data: single-image readers (``tamperscope synth copy-move``, ``tamperscope synth
inpainting``, ...) read as binary masks: manipulated versus pristine, the source and target
of 3-class copy-move masks both counting as manipulated.

Optimizer: Adam (backbones of both streams at ``optim.lr_backbone``, the rest at
``optim.lr_generator``) with a ReduceLROnPlateau schedule on the validation loss; after
every optimizer step the constrained (Bayar) convolutions of the model are projected back
onto their constraint (:meth:`~tamperscope.models.layers.bayar.BayarConv2d.constrain`).

Validation: the loss, the protocol-B pixel F1 of the manipulated mask at 0.5 (per image,
averaged; images without manipulated pixels are skipped) and the image-level ROC AUC.

Deviations from the paper: the learning-rate schedule is ReduceLROnPlateau (the paper
decays the rate at fixed epochs); the edge target is a band of ``mvss.edge_width`` pixels
at full resolution (the paper supervises a 1/4-resolution edge map).
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
from tamperscope.engine.errors import TrainingError
from tamperscope.engine.recipes.base import (
    Recipe,
    build_image_data,
    build_trained_model,
    finite_or_none,
    register_recipe,
)
from tamperscope.engine.schedules import build_generator_optimizer, build_plateau_scheduler
from tamperscope.losses import detection_bce_loss, dice_loss
from tamperscope.models.layers.bayar import BayarConv2d
from tamperscope.models.outputs import LocalizationOutput
from tamperscope.registry import Task

__all__ = ["EDGE_LOSSES", "MVSS_VALIDATION_KEYS", "MvssRecipe", "boundary_band"]

#: Values of ``mvss.edge_loss``.
EDGE_LOSSES = ("dice", "bce")
#: Quantities :meth:`MvssRecipe.validate` returns (possible ``train.monitor`` values).
MVSS_VALIDATION_KEYS = ("loss", "f1", "auc")


def boundary_band(mask: torch.Tensor, width: int = 3) -> torch.Tensor:
    """The boundary band of binary regions: dilation minus erosion by a square.

    Args:
        mask: (B, H, W) integer or bool, nonzero = inside a region.
        width: odd side of the square structuring element, in pixels (1: no band).

    Returns:
        (B, H, W) int64 in {0, 1}: 1 on pixels within ``width // 2`` pixels of the region's
        boundary (inside or outside); all 0 for empty or full masks. Image borders do not
        count as boundaries (the mask is extended by replication).

    Raises:
        ValueError: ``width`` even or < 1, or ``mask`` not (B, H, W).
    """
    if width < 1 or width % 2 == 0:
        raise ValueError(f"boundary band width must be odd and >= 1, got {width}")
    if mask.ndim != 3:
        raise ValueError(f"mask must be (B, H, W), got shape {tuple(mask.shape)}")
    region = (mask != 0).float().unsqueeze(1)
    if width == 1:
        return torch.zeros_like(mask, dtype=torch.int64)
    r = width // 2
    padded = F.pad(region, (r, r, r, r), mode="replicate")
    dilated = F.max_pool2d(padded, width, stride=1)
    eroded = -F.max_pool2d(-padded, width, stride=1)
    return (dilated - eroded).squeeze(1).round().long()


@register_recipe
class MvssRecipe(Recipe):
    """Train a registered manipulation localizer (``LocalizationOutput``) the MVSS-Net way.

    Reads ``mvss`` (:class:`~tamperscope.engine.config.MvssConfig`), ``model``, ``data``,
    ``optim`` and ``train``; see the module docstring for the loss. The checkpoint holds the
    model, the optimizer ``generator`` and its plateau scheduler; there is no adversary.

    Attributes (after :meth:`build_networks`):
        opt: the Adam optimizer (``optimizers["generator"]``).
    """

    name = "mvss"
    task = Task.LOCALIZATION
    distributed = True
    sample_noun = "samples"
    synth_command = "copy-move"
    loss_key = "total"

    @classmethod
    def check_config(cls, config: ExperimentConfig) -> None:
        """Refuse settings of ``mvss`` the recipe cannot train with.

        Raises:
            ConfigError: unknown ``mvss.edge_loss``, an even or non-positive
                ``mvss.edge_width``, a negative weight or a non-positive ``mvss.dice_smooth``.
        """
        cfg = config.mvss
        if cfg.edge_loss not in EDGE_LOSSES:
            raise ConfigError(f"mvss.edge_loss must be one of {EDGE_LOSSES}, got {cfg.edge_loss!r}")
        if cfg.edge_width < 1 or cfg.edge_width % 2 == 0:
            raise ConfigError(
                f"mvss.edge_width must be an odd number of pixels >= 1, got {cfg.edge_width}"
            )
        for key in ("alpha", "beta", "edge_weight"):
            if getattr(cfg, key) < 0:
                raise ConfigError(f"mvss.{key} must be >= 0, got {getattr(cfg, key)}")
        if cfg.dice_smooth <= 0:
            raise ConfigError(f"mvss.dice_smooth must be > 0, got {cfg.dice_smooth}")

    # ------------------------------------------------------------------------- building

    def build_data(
        self, train_set: ForgeryDataset | None, val_set: ForgeryDataset | None
    ) -> tuple[TrainingDataset, TrainingDataset | None]:
        """Training and validation tensors of the configured single-image readers, with
        binary (manipulated vs pristine) masks.

        Raises:
            TrainingError: no training data, or a reader of image pairs.
            DatasetError: a folder cannot be read.
        """
        return build_image_data(
            self.config, train_set, val_set, synth_command=self.synth_command, num_classes=1
        )

    def build_networks(self, *, initialise: bool) -> None:
        """The model, its Adam optimizer and plateau scheduler.

        Raises:
            TrainingError: a model with more than one mask channel, or bad
                ``model.init_weights``.
        """
        config = self.config
        self.model, self.model_config = build_trained_model(
            config.model, self.device, initialise=initialise
        )
        channels = self.exported_model().num_classes
        if channels != 1:
            raise TrainingError(
                f"the mvss recipe trains 1-channel (manipulated) masks; model "
                f"{config.model.name!r} has {channels} mask channels"
            )
        self.opt = build_generator_optimizer(self.model, config.optim, config.model.backbone_attr)
        self.optimizers = {"generator": self.opt}
        self.schedulers = {"generator": build_plateau_scheduler(self.opt, config.optim)}
        self.constrain()

    def constrain(self) -> None:
        """Project every constrained (Bayar) convolution of the model onto its constraint."""
        for module in self.exported_model().modules():
            if isinstance(module, BayarConv2d):
                module.constrain()

    def validation_keys(self) -> list[str]:
        """:data:`MVSS_VALIDATION_KEYS`."""
        return list(MVSS_VALIDATION_KEYS)

    def mask_classes(self) -> list[str]:
        """The model's one mask channel (``["manipulated"]``)."""
        return list(self.exported_model().classes)

    def learning_rates(self, epoch: int) -> dict[str, float]:
        """The learning rate of the non-backbone parameters (the first parameter group)."""
        return {"generator": self.opt.param_groups[0]["lr"]}

    # ------------------------------------------------------------------------- losses

    def losses(
        self, out: LocalizationOutput, batch: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """The loss terms of a batch.

        Args:
            out: the model output: ``mask_logits`` (B, 1, H, W) float, ``score_logit`` (B,)
                float, optional ``edge_logits`` (B, 1, H, W) float.
            batch: ``mask`` (B, H, W) int64 in {0, 1}, ``label`` (B,) float32 in {0, 1}.

        Returns:
            ``det`` (image BCE), ``seg`` (mask Dice), ``edge`` (only with edge logits) and
            ``total`` = alpha det + beta seg + edge_weight edge; scalar tensors.
        """
        cfg = self.config.mvss
        mask = (batch["mask"] != 0).long()
        det = detection_bce_loss(out.score_logit, batch["label"])
        seg = dice_loss(out.mask_logits, mask, cfg.dice_smooth, include_background=False)
        terms = {"det": det, "seg": seg}
        total = cfg.alpha * det + cfg.beta * seg
        if out.edge_logits is not None:
            band = boundary_band(mask, cfg.edge_width)
            if cfg.edge_loss == "dice":
                edge = dice_loss(out.edge_logits, band, cfg.dice_smooth, include_background=False)
            else:
                edge = F.binary_cross_entropy_with_logits(
                    out.edge_logits[:, 0], band.to(out.edge_logits.dtype)
                )
            terms["edge"] = edge
            total = total + cfg.edge_weight * edge
        terms["total"] = total
        return terms

    # ------------------------------------------------------------------------- one step

    def train_step(self, batch: dict[str, Any], epoch: int) -> dict[str, float]:
        """One Adam step, then the Bayar constraint.

        Args:
            batch: a collated batch of :class:`~tamperscope.engine.data.TrainingDataset`
                with binary masks: ``image`` (B, 3, H, W) float32 in [0, 1], ``mask``
                (B, H, W) int64 in {0, 1}, ``label`` (B,) float32.
            epoch: the current epoch (unused: one phase).

        Returns:
            Scalars of the step: ``total``, ``det``, ``seg`` and, with an edge branch,
            ``edge``.
        """
        batch = self.to_device(batch)
        self.model.train()
        out: LocalizationOutput = self.model(batch["image"])
        terms = self.losses(out, batch)
        self.opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        if self.config.optim.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optim.grad_clip)
        self.opt.step()
        self.constrain()
        return {k: float(v.detach()) for k, v in terms.items()}

    # ------------------------------------------------------------------------- validation

    @torch.no_grad()
    def validate(self, loader: Iterable[dict[str, Any]]) -> dict[str, float | None]:
        """Loss and metrics on the validation batches.

        Returns:
            ``loss`` (the training loss L, mean over batches), ``f1`` (protocol-B F1 of the
            manipulated mask at 0.5, images without manipulated pixels skipped; None when
            there is none), ``auc`` (image-level ROC AUC of sigmoid(score_logit); None with
            one class only).
        """
        from tamperscope.metrics.image import image_level_metrics
        from tamperscope.metrics.modules import ProtocolBF1

        model = self.exported_model()
        model.eval()
        # Validation runs on the main process only: no cross-process sync of the metric.
        f1 = ProtocolBF1(threshold=0.5, empty="skip", sync_on_compute=False).to(self.device)
        losses, labels, scores = [], [], []
        for batch in loader:
            batch = self.to_device(batch)
            out: LocalizationOutput = model(batch["image"])
            losses.append(float(self.losses(out, batch)["total"]))
            f1.update(torch.sigmoid(out.mask_logits[:, 0]), batch["mask"])
            labels.append(batch["label"].cpu())
            scores.append(torch.sigmoid(out.score_logit).cpu())
        model.train()
        y = torch.cat(labels).numpy().astype(np.int64)
        s = torch.cat(scores).double().numpy()
        return {
            "loss": float(np.mean(losses)),
            "f1": finite_or_none(float(f1.compute())),
            "auc": image_level_metrics(y, s)["auc"],
        }

    # ------------------------------------------------------------------------- checkpoints

    def load_networks(self, ckpt: Checkpoint) -> None:
        """Load the model from a read checkpoint."""
        self.exported_model().load_state_dict(ckpt.model_state)
