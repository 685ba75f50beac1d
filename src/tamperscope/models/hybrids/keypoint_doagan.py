"""Keypoint copy-move regions with DOA-GAN's source/target decision.

The keypoint detector (:mod:`tamperscope.models.keypoint`; Amerini et al., IEEE TIFS 2011, with
Pan & Lyu's dense correlation step) finds copy-moved regions in pairs, at full resolution, but
matching is symmetric: it cannot tell which region of a pair was copied. DOA-GAN (Islam et al.,
"DOA-GAN: Dual-Order Attentive Generative Adversarial Network for Image Copy-move Forgery
Detection and Localization", CVPR 2020) gives pristine / source / target probabilities per
pixel. This model keeps the keypoint detector's regions and image score, and for each matched
pair (A, B) lets DOA-GAN decide:

    d = mean_B(log p_target - log p_source) - mean_A(log p_target - log p_source)
    P(A is the source) = sigmoid(d)

with the DOA-GAN probabilities computed at ``doagan_long_side`` pixels (its training size) and
resized to the keypoint detector's working grid. The union mask (source or target) and the
image score are exactly those of ``keypoint-cmfd``; only the split of the union into source
and target changes. This fusion is tamperscope's own: neither paper describes it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict
from typing import Any

import cv2
import numpy as np
import torch

from tamperscope.models.base import TamperModel
from tamperscope.models.keypoint.config import KeypointConfig, KeypointInputError
from tamperscope.models.keypoint.detector import KeypointResult, detect_copy_move, detect_on_batch
from tamperscope.models.outputs import COPY_MOVE_CLASSES, CopyMoveOutput
from tamperscope.registry import Task, WeightPart, create_model, register_model

__all__ = ["KeypointDOAGAN", "source_probability_from_map"]


def source_probability_from_map(
    log_ratio: np.ndarray, region_a: np.ndarray, region_b: np.ndarray
) -> float:
    """P(``region_a`` is the source) from a per-pixel target-versus-source log ratio.

    Args:
        log_ratio: (h, w) float32, log p_target - log p_source per pixel.
        region_a: (h, w) uint8 or bool, one region of a matched pair.
        region_b: (h, w) uint8 or bool, the other region.

    Returns:
        sigmoid(mean over B - mean over A) in (0, 1); 0.5 when a region is empty.

    Raises:
        ValueError: the three arrays do not share one shape.
    """
    if not (log_ratio.shape == region_a.shape == region_b.shape):
        raise ValueError(
            f"log_ratio {log_ratio.shape}, region_a {region_a.shape} and region_b "
            f"{region_b.shape} must share one (h, w) shape"
        )
    a, b = region_a > 0, region_b > 0
    if not (a.any() and b.any()):
        return 0.5
    d = float(log_ratio[b].mean() - log_ratio[a].mean())
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, d))))


#: Why the trainer refuses this model (its output carries no gradient).
_NOT_TRAINABLE = (
    "train its DOA-GAN part (e.g. model.name: doagan-effnet-lite0), then load that file "
    "into this model with load_model('keypoint-doagan', weights=FILE) or "
    "'tamperscope analyze --model keypoint-doagan --weights FILE'"
)

#: A weights file of a 3-class copy-move model (a DOA-GAN) fills the ``doagan`` part.
DOAGAN_PART = WeightPart(
    attribute="doagan",
    model_kwarg="doagan_model",
    kwargs_kwarg="doagan",
    long_side_kwarg="doagan_long_side",
    task=Task.COPY_MOVE,
)


@register_model(
    "keypoint-doagan",
    task=Task.COPY_MOVE,
    trainable=False,
    not_trainable_reason=_NOT_TRAINABLE,
    parts=(DOAGAN_PART,),
)
class KeypointDOAGAN(TamperModel):
    """``keypoint-cmfd`` regions and image score, split into source and target by DOA-GAN.

    See the module docstring for the rule (tamperscope's own fusion of Amerini et al., IEEE
    TIFS 2011, and Islam et al., CVPR 2020). The DOA-GAN part is a registered 3-class
    copy-move model held as ``self.doagan`` (its tensors are this module's parameters,
    prefixed ``doagan.``); the keypoint part runs on the CPU with OpenCV and has no
    parameters. Gradients do not flow through the output.

    Args:
        doagan_model: registry name of the DOA-GAN model (``doagan-effnet-lite0`` or
            ``doagan-vgg19``; any learned 3-class copy-move model works).
        doagan: constructor kwargs of that model; ``num_classes`` must be 3.
        doagan_long_side: long side (pixels) at which DOA-GAN runs, >= 32.
        **keypoint: fields of :class:`~tamperscope.models.keypoint.KeypointConfig`.

    Attributes:
        doagan: the DOA-GAN part, a :class:`~tamperscope.models.base.TamperModel`.
        settings: the keypoint part's :class:`~tamperscope.models.keypoint.KeypointConfig`.
        classes: ``("pristine", "source", "target")``.
        analysis_long_side: ``None``: ``analyze`` feeds the full image; the keypoint detector
            resizes to ``max_side`` itself and DOA-GAN runs at ``doagan_long_side``.

    Raises:
        KeypointInputError: a setting is out of range, ``doagan_model`` names a keypoint model,
            or the DOA-GAN model has no source and target classes.
        KeyError: unknown ``doagan_model``.
        TypeError: an unknown setting name.
    """

    analysis_long_side = None
    classes = COPY_MOVE_CLASSES

    def __init__(
        self,
        doagan_model: str = "doagan-effnet-lite0",
        doagan: dict[str, Any] | None = None,
        doagan_long_side: int = 256,
        **keypoint: Any,
    ) -> None:
        super().__init__()
        if doagan_model.startswith("keypoint"):
            raise KeypointInputError(
                "doagan_model must name a learned 3-class copy-move model such as "
                f"doagan-effnet-lite0, got {doagan_model!r}"
            )
        if doagan_long_side < 32:
            raise KeypointInputError(f"doagan_long_side must be >= 32, got {doagan_long_side}")
        doagan = dict(doagan or {})
        self.settings = KeypointConfig(**keypoint)
        self.doagan = create_model(doagan_model, **doagan)
        part = self.doagan
        if not isinstance(part, TamperModel) or tuple(part.classes) != COPY_MOVE_CLASSES:
            found = (
                f"has classes {part.classes}"
                if isinstance(part, TamperModel)
                else f"is a {type(part).__name__}, not a TamperModel"
            )
            raise KeypointInputError(
                f"the DOA-GAN part must be a copy-move model with 3 classes (pristine, source, "
                f"target) to tell source from target; {doagan_model!r} {found}"
            )
        self.doagan_long_side = int(doagan_long_side)
        self.config: dict[str, Any] = {
            **asdict(self.settings),
            "doagan_model": doagan_model,
            "doagan": doagan,
            "doagan_long_side": self.doagan_long_side,
        }

    @torch.no_grad()
    def _log_ratio(self, image: torch.Tensor) -> np.ndarray:
        """(3, H, W) float in [0, 1] -> (h, w) float32 log p_target - log p_source of DOA-GAN."""
        height, width = image.shape[-2:]
        x = image[None]
        scale = self.doagan_long_side / max(height, width)
        if scale < 1.0:
            size = (max(1, round(height * scale)), max(1, round(width * scale)))
            x = torch.nn.functional.interpolate(x, size=size, mode="area")
        logp = torch.log_softmax(self.doagan(x).mask_logits[0].float(), dim=0)
        return (logp[2] - logp[1]).cpu().numpy()

    def forward(self, image: torch.Tensor) -> CopyMoveOutput:
        """Detect copy-moves in a batch and tell source from target.

        Args:
            image: (B, 3, H, W) float32 in [0, 1], RGB (values outside are clipped).

        Returns:
            ``CopyMoveOutput`` with ``mask_logits`` (B, 3, H, W) float32, the log-probabilities
            of (pristine, source, target) with probabilities clamped to [1e-4, 1 - 1e-4], and
            ``score_logit`` (B,) float32, the logit of the keypoint detector's clamped image
            score. Both are on the input's device.

        Raises:
            KeypointInputError: ``image`` is not a floating (B, 3, H, W) tensor (the message
                says the fix), or is smaller than 2x2 pixels.
        """

        def detect(array: np.ndarray, one: torch.Tensor) -> KeypointResult:
            @functools.cache
            def log_ratio(height: int, width: int) -> np.ndarray:
                # DOA-GAN runs at most once per image, when the first pair needs it.
                lr = self._log_ratio(one)
                return cv2.resize(lr, (width, height), interpolation=cv2.INTER_LINEAR)

            def rule(region_a: np.ndarray, region_b: np.ndarray) -> float:
                ratio = log_ratio(*region_a.shape)
                return source_probability_from_map(ratio, region_a, region_b)

            return detect_copy_move(array, self.settings, source_target_rule=rule)

        return detect_on_batch(image, detect)

    def extra_repr(self) -> str:
        return (
            f"doagan_model={self.config['doagan_model']!r}, "
            f"doagan_long_side={self.doagan_long_side}"
        )
