"""Segmentation and detection losses for forgery localization heads.

Conventions shared by every loss here:

* ``logits``: (B, C, H, W) float mask logits (never probabilities). C = 3 for
  (pristine, source, target) heads, with a softmax over the classes; C = 1 for forged vs
  pristine heads, with a sigmoid, treated as two classes (pristine = 1 - p, forged = p) so
  that class indices and class weights mean the same for both heads.
* ``target``: (B, H, W) integer tensor of class indices, in {0 pristine, 1 source, 2 target}
  for C = 3 and in {0 pristine, 1 forged} for C = 1.
* ``K`` below is the number of classes: C for C > 1, 2 for C = 1.

All losses return a scalar tensor averaged over the batch as each docstring states.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import distance_transform_edt

ClassWeights = Sequence[float] | torch.Tensor | None


def num_loss_classes(logits: torch.Tensor) -> int:
    """Number of classes K the losses use for ``logits`` (C, or 2 for a 1-channel head)."""
    return 2 if logits.shape[1] == 1 else int(logits.shape[1])


def check_segmentation_inputs(logits: torch.Tensor, target: torch.Tensor) -> int:
    """Validate a (logits, target) pair and return the number of classes K.

    Raises:
        ValueError: wrong ranks, mismatched sizes, a non-integer target or target values
            outside [0, K - 1]; the message says the fix.
    """
    if logits.ndim != 4:
        raise ValueError(f"mask logits must be (B, C, H, W), got shape {tuple(logits.shape)}")
    if target.ndim != 3 or target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(
            f"target must be (B, H, W) = {(logits.shape[0], *logits.shape[2:])} to match logits "
            f"{tuple(logits.shape)}, got {tuple(target.shape)}; squeeze a channel axis with "
            "target[:, 0] or resize the mask to the logits' size with nearest neighbour"
        )
    if target.is_floating_point() or target.dtype == torch.bool:
        raise ValueError(
            f"target must hold integer class indices, got dtype {target.dtype}; "
            "convert with target.long()"
        )
    k = num_loss_classes(logits)
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= k):
        raise ValueError(
            f"target values must be in [0, {k - 1}] for {logits.shape[1]}-channel logits, got "
            f"[{int(target.min())}, {int(target.max())}]; binarize 3-class masks (target > 0) "
            "for 1-channel heads"
        )
    return k


def _log_probabilities(logits: torch.Tensor) -> torch.Tensor:
    # (B, K, H, W): log-softmax, or log-sigmoid of both classes for a 1-channel head.
    if logits.shape[1] == 1:
        return torch.cat([F.logsigmoid(-logits), F.logsigmoid(logits)], dim=1)
    return F.log_softmax(logits, dim=1)


def _probabilities(logits: torch.Tensor) -> torch.Tensor:
    if logits.shape[1] == 1:
        p = torch.sigmoid(logits)
        return torch.cat([1 - p, p], dim=1)
    return F.softmax(logits, dim=1)


def _one_hot(target: torch.Tensor, k: int, dtype: torch.dtype) -> torch.Tensor:
    return F.one_hot(target.long(), k).permute(0, 3, 1, 2).to(dtype)


def _class_weights(
    weights: ClassWeights, k: int, device: torch.device, dtype: torch.dtype
) -> torch.Tensor | None:
    if weights is None:
        return None
    w = torch.as_tensor(weights, device=device, dtype=dtype).flatten()
    if w.numel() != k:
        raise ValueError(
            f"class_weights must have one weight per class ({k}), got {w.numel()}: {w.tolist()}"
        )
    if bool((w < 0).any()):
        raise ValueError(f"class_weights must be non-negative, got {w.tolist()}")
    return w


def cross_entropy_loss(
    logits: torch.Tensor, target: torch.Tensor, class_weights: ClassWeights = None
) -> torch.Tensor:
    """Pixel-wise cross entropy, optionally class-weighted.

    Weighted mean over all pixels of the batch: sum_q w[t_q] (-log p_q[t_q]) / sum_q w[t_q]
    (``torch.nn.functional.nll_loss`` semantics). Weighted CE with source and target weighted
    x10 is the usual remedy for the rarity of forged pixels.

    Args:
        logits: (B, C, H, W) float logits, C in {1, 3} (see the module docstring).
        target: (B, H, W) int64 class indices in [0, K - 1].
        class_weights: K non-negative weights, or ``None`` for uniform.

    Returns:
        scalar float tensor >= 0.

    Raises:
        ValueError: bad shapes, dtype, target values or number of class weights.
    """
    k = check_segmentation_inputs(logits, target)
    w = _class_weights(class_weights, k, logits.device, logits.dtype)
    return F.nll_loss(_log_probabilities(logits), target.long(), weight=w)


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    class_weights: ClassWeights = None,
) -> torch.Tensor:
    """Multi-class focal loss.

    Lin, Goyal, Girshick, He, Dollar, "Focal Loss for Dense Object Detection", ICCV 2017,
    arXiv:1708.02002: FL(p_t) = -w_t (1 - p_t)^gamma log p_t, with ``class_weights`` playing
    the role of alpha_t. Deviation: normalised by the total weight sum_q w[t_q] (the paper
    normalises by the number of positive anchors), so that gamma = 0 gives exactly
    :func:`cross_entropy_loss` with the same weights.

    Args:
        logits: (B, C, H, W) float logits, C in {1, 3}.
        target: (B, H, W) int64 class indices in [0, K - 1].
        gamma: focusing parameter >= 0 (paper: 2).
        class_weights: K non-negative weights, or ``None`` for uniform.

    Returns:
        scalar float tensor >= 0.

    Raises:
        ValueError: bad inputs (see :func:`cross_entropy_loss`) or ``gamma`` < 0.
    """
    if gamma < 0:
        raise ValueError(f"focal loss gamma must be >= 0, got {gamma}")
    k = check_segmentation_inputs(logits, target)
    w = _class_weights(class_weights, k, logits.device, logits.dtype)
    index = target.long().unsqueeze(1)
    log_pt = _log_probabilities(logits).gather(1, index).squeeze(1)  # (B, H, W)
    loss = -((1 - log_pt.exp()) ** gamma) * log_pt
    if w is None:
        return loss.mean()
    wt = w[target.long()]
    return (wt * loss).sum() / wt.sum().clamp_min(torch.finfo(loss.dtype).tiny)


def dice_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    smooth: float = 1.0,
    include_background: bool = True,
) -> torch.Tensor:
    """Soft multi-class Dice loss.

    Milletari, Navab, Ahmadi, "V-Net", 3DV 2016, arXiv:1606.04797. Per class c, pooled over
    all pixels of the batch: D_c = (2 sum p_c r_c + s) / (sum p_c + sum r_c + s); loss =
    1 - mean_c D_c. A class absent from both prediction and target scores D_c = 1.

    Args:
        logits: (B, C, H, W) float logits, C in {1, 3}.
        target: (B, H, W) int64 class indices in [0, K - 1].
        smooth: additive smoothing ``s`` > 0 on numerator and denominator.
        include_background: average over all K classes (True) or classes 1..K-1 only.

    Returns:
        scalar float tensor in [0, 1].

    Raises:
        ValueError: bad inputs (see :func:`cross_entropy_loss`) or ``smooth`` <= 0.
    """
    if not smooth > 0:
        raise ValueError(f"dice smooth must be > 0, got {smooth}")
    k = check_segmentation_inputs(logits, target)
    probs = _probabilities(logits)
    onehot = _one_hot(target, k, probs.dtype)
    if not include_background:
        probs, onehot = probs[:, 1:], onehot[:, 1:]
    dims = (0, 2, 3)
    intersection = (probs * onehot).sum(dims)
    denominator = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * intersection + smooth) / (denominator + smooth)
    return 1 - dice.mean()


def generalized_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Generalised Dice loss with inverse squared volume class weights.

    Sudre, Li, Vercauteren, Ourselin, Cardoso, "Generalised Dice overlap as a deep learning
    loss function for highly unbalanced segmentations", DLMIA 2017, arXiv:1707.03237:
    GDL = 1 - 2 sum_c w_c sum_q r_cq p_cq / sum_c w_c sum_q (r_cq + p_cq),
    w_c = 1 / (sum_q r_cq)^2, pooled over the batch. A class absent from the target would get
    an infinite weight; as in MONAI it gets the largest finite weight of the other classes.

    Args:
        logits: (B, C, H, W) float logits, C in {1, 3}.
        target: (B, H, W) int64 class indices in [0, K - 1].
        eps: added to numerator and denominator against division by zero.

    Returns:
        scalar float tensor in [0, 1].

    Raises:
        ValueError: bad inputs (see :func:`cross_entropy_loss`).
    """
    k = check_segmentation_inputs(logits, target)
    probs = _probabilities(logits)
    onehot = _one_hot(target, k, probs.dtype)
    dims = (0, 2, 3)
    volume = onehot.sum(dims)
    weights = 1.0 / volume.clamp_min(1.0) ** 2
    present = volume > 0
    weights = torch.where(present, weights, weights[present].max())
    intersection = (weights * (probs * onehot).sum(dims)).sum()
    denominator = (weights * (probs.sum(dims) + volume)).sum()
    return 1 - (2 * intersection + eps) / (denominator + eps)


def signed_distance_map(mask: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Signed Euclidean distance to each class boundary, for :func:`boundary_loss`.

    For each class c with region R_c: phi_c(q) = distance from q to R_c for q outside R_c
    (positive), and -(distance from q to the complement of R_c - 1) inside (<= 0; the pixels
    on the inner border are 0), as in Kervadec et al.'s reference ``one_hot2dist``, computed
    with ``scipy.ndimage.distance_transform_edt``. A class that is empty or covers the whole
    image has no boundary and gets all zeros. Run it in the data pipeline (CPU, per image).

    Args:
        mask: (H, W) integer or bool array. Without ``num_classes`` it must be binary
            {0, 1} and gives one map (the foreground's). With ``num_classes`` it is a label
            map with values in [0, num_classes - 1] and gives one map per class. Or a
            (C, H, W) one-hot array in {0, 1}, one map per channel.
        num_classes: number of classes of an (H, W) label map; ``None`` for binary masks.

    Returns:
        (C, H, W) float32 signed distances in pixels (C = 1 for a binary mask).

    Raises:
        ValueError: wrong rank, values outside the allowed set, or ``num_classes`` given
            for a one-hot array.
    """
    mask = np.asarray(mask)
    if mask.ndim == 2:
        if num_classes is None:
            if not np.isin(mask, (0, 1)).all():
                raise ValueError(
                    "signed_distance_map: an (H, W) mask without num_classes must be binary "
                    f"{{0, 1}}, got values {np.unique(mask)[:10].tolist()}; pass num_classes for "
                    "a label map"
                )
            onehot = mask.astype(bool)[None]
        else:
            if num_classes < 1 or mask.min() < 0 or mask.max() >= num_classes:
                raise ValueError(
                    f"signed_distance_map: label values must be in [0, {num_classes - 1}], got "
                    f"[{mask.min()}, {mask.max()}]"
                )
            onehot = mask[None] == np.arange(num_classes).reshape(-1, 1, 1)
    elif mask.ndim == 3:
        if num_classes is not None:
            raise ValueError(
                "signed_distance_map: num_classes is only for (H, W) label maps; a (C, H, W) "
                "array is read as one-hot"
            )
        if not np.isin(mask, (0, 1)).all():
            raise ValueError("signed_distance_map: a (C, H, W) one-hot mask must be in {0, 1}")
        onehot = mask.astype(bool)
    else:
        raise ValueError(
            f"signed_distance_map expects an (H, W) or (C, H, W) mask, got shape {mask.shape}"
        )
    out = np.zeros(onehot.shape, dtype=np.float32)
    for c, region in enumerate(onehot):
        if region.any() and not region.all():
            outside = distance_transform_edt(~region)
            inside = distance_transform_edt(region) - 1.0
            out[c] = np.where(region, -inside, outside)
    return out


def boundary_loss(
    logits: torch.Tensor, dist_maps: torch.Tensor, include_background: bool = False
) -> torch.Tensor:
    """Boundary loss: mean of predicted probabilities times signed distance maps.

    Kervadec, Bouchtiba, Desrosiers, Granger, Dolz, Ben Ayed, "Boundary loss for highly
    unbalanced segmentation", MIDL 2019, arXiv:1812.07032: L_B = mean_q phi_G(q) s(q), with
    phi_G the signed distance to the ground-truth boundary (:func:`signed_distance_map`,
    negative inside) and s the softmax (sigmoid) probability. It is negative, and minimal,
    when the predicted regions equal the ground truth; use it beside a regional loss (dice,
    CE), as in the paper.

    Args:
        logits: (B, C, H, W) float logits, C in {1, 3}.
        dist_maps: (B, C, H, W) float signed distances in pixels, one map per class
            (C = 1: the forged region's map).
        include_background: for C > 1, also use class 0 (pristine); off by default as in the
            paper.

    Returns:
        scalar float tensor (any sign; < 0 for a good prediction).

    Raises:
        ValueError: the shapes differ.
    """
    if logits.ndim != 4 or dist_maps.shape != logits.shape:
        raise ValueError(
            f"boundary_loss: dist_maps {tuple(dist_maps.shape)} must have the logits' shape "
            f"{tuple(logits.shape)}; compute them with signed_distance_map(mask, num_classes=C) "
            "(C = 1: signed_distance_map(binary_mask))"
        )
    if logits.shape[1] == 1:
        probs = torch.sigmoid(logits)
    else:
        probs = F.softmax(logits, dim=1)
        if not include_background:
            probs, dist_maps = probs[:, 1:], dist_maps[:, 1:]
    return (probs * dist_maps.to(probs.dtype)).mean()


def detection_bce_loss(
    score_logit: torch.Tensor, label: torch.Tensor, pos_weight: float | None = None
) -> torch.Tensor:
    """Image-level binary cross entropy on the detection logit (mean over the batch).

    Args:
        score_logit: (B,) float logits (forged vs pristine).
        label: (B,) labels in {0 authentic, 1 forged} (any numeric dtype).
        pos_weight: weight of forged images (``torch.nn.functional.
            binary_cross_entropy_with_logits``), ``None`` for 1.

    Returns:
        scalar float tensor >= 0.

    Raises:
        ValueError: shapes differ or labels outside {0, 1}.
    """
    if score_logit.ndim != 1 or label.shape != score_logit.shape:
        raise ValueError(
            f"detection_bce_loss: score_logit {tuple(score_logit.shape)} and label "
            f"{tuple(label.shape)} must both be (B,)"
        )
    label = label.to(score_logit.dtype)
    if not bool(((label == 0) | (label == 1)).all()):
        raise ValueError(f"detection labels must be 0 or 1, got {label.tolist()}")
    pw = (
        None
        if pos_weight is None
        else torch.as_tensor(pos_weight, dtype=score_logit.dtype, device=score_logit.device)
    )
    return F.binary_cross_entropy_with_logits(score_logit, label, pos_weight=pw)
