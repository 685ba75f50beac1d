"""torchmetrics classes for training and validation loops.

They compute the same numbers as the functional versions in
:mod:`tamperscope.metrics.pixel` (threshold ``prob >= threshold``, the same empty-mask
rules), on the device of the inputs, and synchronize across processes by summing states.
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric

from tamperscope.metrics.pixel import check_empty_rule


def _check_shapes(preds: torch.Tensor, target: torch.Tensor, channels: int | None) -> None:
    if target.ndim != 3:
        raise ValueError(
            f"target must be (B, H, W) integer labels, got shape {tuple(target.shape)}"
        )
    want = target.shape if channels is None else (target.shape[0], channels, *target.shape[1:])
    if tuple(preds.shape) != tuple(want):
        raise ValueError(
            f"preds must have shape {tuple(want)} to match target {tuple(target.shape)}, "
            f"got {tuple(preds.shape)}"
        )
    if preds.is_floating_point() and preds.numel() and (preds.min() < 0 or preds.max() > 1):
        raise ValueError(
            "preds must be probabilities in [0, 1]; apply sigmoid/softmax to logits first"
        )


def _f1_per_image(pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """F1 of each image (B,) and whether its ground truth is empty (B,) bool."""
    p, g = pred.flatten(1), gt.flatten(1)
    tp = (p & g).sum(1).double()
    fp = (p & ~g).sum(1).double()
    fn = (~p & g).sum(1).double()
    den = 2 * tp + fp + fn
    f1 = torch.where(den > 0, 2 * tp / den.clamp_min(1), torch.zeros_like(den))
    return f1, g.sum(1) == 0


class ProtocolBF1(Metric):
    """Per-image F1 averaged over images (protocol B) of the forged-vs-pristine mask.

    Threshold: a pixel is forged when ``preds >= threshold``; the target is forged where it
    is nonzero (binary masks, or the union of source and target of 3-class masks).
    Empty ground truth (authentic images): ``empty="skip"`` leaves the image out of the mean;
    ``empty="count"`` scores it 1 when nothing is predicted and 0 otherwise. No border
    exclusion. ``compute`` returns NaN when no image was scored.

    Args:
        threshold: decision threshold in [0, 1].
        empty: ``"skip"`` or ``"count"``.

    Raises:
        ValueError: unknown ``empty`` rule; in ``update``, wrong shapes or probabilities out
            of [0, 1].
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    f1_sum: torch.Tensor
    n_images: torch.Tensor

    def __init__(self, threshold: float = 0.5, empty: str = "skip", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_empty_rule(empty)
        self.threshold = float(threshold)
        self.empty = empty
        self.add_state(
            "f1_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state("n_images", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch.

        Args:
            preds: (B, H, W) float in [0, 1], probability of forged.
            target: (B, H, W) int, nonzero = forged (binary or 3-class labels).
        """
        _check_shapes(preds, target, None)
        f1, empty_gt = _f1_per_image(preds >= self.threshold, target != 0)
        if self.empty == "skip":
            keep = ~empty_gt
            self.f1_sum += f1[keep].sum()
            self.n_images += keep.sum()
        else:
            pred_empty = (preds >= self.threshold).flatten(1).sum(1) == 0
            f1 = torch.where(empty_gt, pred_empty.double(), f1)
            self.f1_sum += f1.sum()
            self.n_images += f1.numel()

    def compute(self) -> torch.Tensor:
        """Mean per-image F1, float64 scalar in [0, 1] (NaN when no image was scored)."""
        if self.n_images == 0:
            return torch.tensor(float("nan"), dtype=torch.float64)
        return self.f1_sum / self.n_images


class ThreeClassF1(Metric):
    """F1 of each class (pristine, source, target) of a 3-class copy-move prediction.

    Predictions are (B, 3, H, W) probabilities turned into labels as
    :func:`tamperscope.metrics.pixel.three_class_labels` does (forged where P(source) +
    P(target) >= ``threshold``, then source where P(source) > P(target), else target), or
    (B, H, W) integer labels used as they are. For each class c the decision is "c against the
    rest".

    Protocol: ``"per_image"`` averages each class's F1 over the images whose ground truth
    has that class (protocol B; ``empty="count"`` also counts images without it, scoring 1
    when the class is not predicted and 0 otherwise); ``"pooled"`` sums the confusion counts
    of all pixels (protocol A). No border exclusion.

    Args:
        protocol: ``"per_image"`` or ``"pooled"``.
        threshold: decision threshold on P(forged) in [0, 1].
        empty: ``"skip"`` or ``"count"`` (per-image protocol only).

    Raises:
        ValueError: unknown protocol or empty rule; in ``update``, wrong shapes.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    f1_sum: torch.Tensor
    n_images: torch.Tensor
    tp: torch.Tensor
    fp: torch.Tensor
    fn: torch.Tensor

    def __init__(
        self,
        protocol: str = "per_image",
        threshold: float = 0.5,
        empty: str = "skip",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if protocol not in ("per_image", "pooled"):
            raise ValueError(f"protocol must be 'per_image' or 'pooled', got {protocol!r}")
        check_empty_rule(empty)
        self.protocol = protocol
        self.threshold = float(threshold)
        self.empty = empty
        zeros = torch.zeros(3, dtype=torch.float64)
        self.add_state("f1_sum", default=zeros.clone(), dist_reduce_fx="sum")
        self.add_state("n_images", default=zeros.clone(), dist_reduce_fx="sum")
        self.add_state("tp", default=zeros.clone(), dist_reduce_fx="sum")
        self.add_state("fp", default=zeros.clone(), dist_reduce_fx="sum")
        self.add_state("fn", default=zeros.clone(), dist_reduce_fx="sum")

    def _labels(self, preds: torch.Tensor) -> torch.Tensor:
        if not preds.is_floating_point():
            return preds.long()
        forged = (preds[:, 1] + preds[:, 2]).clamp(0, 1) >= self.threshold
        cls = torch.where(preds[:, 1] > preds[:, 2], 1, 2)
        return torch.where(forged, cls, torch.zeros_like(cls))

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch.

        Args:
            preds: (B, 3, H, W) float in [0, 1], probabilities (pristine, source, target),
                or (B, H, W) int labels in {0, 1, 2}.
            target: (B, H, W) int in {0 pristine, 1 source, 2 target}.
        """
        _check_shapes(preds, target, 3 if preds.ndim == 4 else None)
        labels = self._labels(preds)
        for c in range(3):
            p, g = (labels == c).flatten(1), (target == c).flatten(1)
            tp = (p & g).sum(1).double()
            fp = (p & ~g).sum(1).double()
            fn = (~p & g).sum(1).double()
            self.tp[c] += tp.sum()
            self.fp[c] += fp.sum()
            self.fn[c] += fn.sum()
            den = 2 * tp + fp + fn
            f1 = torch.where(den > 0, 2 * tp / den.clamp_min(1), torch.zeros_like(den))
            empty_gt = g.sum(1) == 0
            if self.empty == "skip":
                self.f1_sum[c] += f1[~empty_gt].sum()
                self.n_images[c] += (~empty_gt).sum()
            else:
                f1 = torch.where(empty_gt, (p.sum(1) == 0).double(), f1)
                self.f1_sum[c] += f1.sum()
                self.n_images[c] += f1.numel()

    def compute(self) -> torch.Tensor:
        """(3,) float64 F1 of (pristine, source, target) in [0, 1]; NaN where not scored."""
        if self.protocol == "pooled":
            den = 2 * self.tp + self.fp + self.fn
            return torch.where(
                den > 0, 2 * self.tp / den.clamp_min(1), torch.full_like(den, float("nan"))
            )
        return torch.where(
            self.n_images > 0,
            self.f1_sum / self.n_images.clamp_min(1),
            torch.full_like(self.f1_sum, float("nan")),
        )
