"""Training-free keypoint copy-move detector (SIFT + g2NN + clustering + RANSAC + dense ZNCC).

The classic baseline of the copy-move literature, the family the baseline tables of DMAC and
DOA-GAN come from:

* I. Amerini, L. Ballan, R. Caldelli, A. Del Bimbo, G. Serra, "A SIFT-based forensic method for
  copy-move attack detection and transformation recovery", IEEE Transactions on Information
  Forensics and Security 6(3), 2011, doi:10.1109/TIFS.2011.2129512 (g2NN matching, hierarchical
  clustering, affine recovery).
* V. Christlein, C. Riess, J. Jordan, C. Riess, E. Angelopoulou, "An evaluation of popular
  copy-move forgery detection approaches", IEEE TIFS 7(6), 2012, doi:10.1109/TIFS.2012.2218597
  (benchmark protocol, keypoint pipelines with RANSAC).
* X. Pan, S. Lyu, "Region duplication detection using image feature matching", IEEE TIFS 5(4),
  2010, doi:10.1109/TIFS.2010.2078506 (dense mask from the correlation between the image and its
  copy warped by the recovered affine transform).

Pipeline, all at a working resolution whose long side is at most ``max_side`` pixels (steps
1-5 are in :mod:`tamperscope.models.keypoint.matching`, the settings in
:class:`~tamperscope.models.keypoint.config.KeypointConfig`):

1. SIFT keypoints and descriptors (OpenCV ``cv2.SIFT.create``), at most ``max_keypoints``.
2. g2NN matching of every keypoint against the others of the same image: with the sorted
   descriptor distances ``d_1 <= d_2 <= ... <= d_k`` to the other keypoints, the neighbours
   ``1..i`` are accepted while ``d_i / d_{i+1} < ratio_threshold`` (Amerini et al., T = 0.5).
   Pairs closer than ``min_match_distance`` pixels are refused; the ``max_matches`` most
   similar pairs are kept.
3. Agglomerative hierarchical clustering (SciPy) of the coordinates of both ends of every
   match, cut at ``cluster_distance`` (pixels for single, average and complete linkage; a
   merge cost, which grows with cluster size, for Ward); cluster pairs linked by at least
   ``min_cluster_matches`` matches are kept.
4. A RANSAC affine transform per cluster pair (``cv2.estimateAffine2D``), kept with at least
   ``min_inliers`` inliers.
5. Dense mask: the image is compared with its copy warped by the affine transform (and by its
   inverse) through the zero-mean normalized cross-correlation (ZNCC) in a
   ``correlation_window`` x ``correlation_window`` window; the map is thresholded, cleaned by
   morphology, and only the connected components that hold inlier keypoints are kept. Pixels
   that the transform moves by less than ``min_match_distance`` are left out (near its fixed
   point an image trivially matches itself). A transform whose two regions are not both
   confirmed by the correlation is dropped as a chance match.
6. Image score ``s = (1 - exp(-n / 10)) * (0.5 + 0.5 * min(1, a / 0.01))`` with ``n`` the
   largest inlier count of an accepted transform and ``a`` the fraction of the image covered
   by the dense mask: in [0, 1], monotone in both, 0 when no transform is found.

Deviations from the papers:

* Candidates closer than ``min_match_distance`` pixels to a keypoint (itself, and the extra
  keypoints SIFT puts at the same place with another orientation) are removed from its sorted
  neighbour list *before* the g2NN test, not after, so that they cannot hide a true match.
* Amerini et al. cut the tree with a threshold ``Th`` on MATLAB's cutoff criterion and pick
  Ward linkage; here the tree is cut at a distance (``single`` linkage by default, which cuts
  at a distance in pixels regardless of cluster size), and matches whose two ends fall in the
  same cluster form a pair of their own, so that a copy moved by less than the cluster
  distance is still found.
* The dense step of Pan & Lyu is used for the mask, with a variance floor of one grey level
  squared in the ZNCC so that flat, noise-free areas do not correlate by accident.
* Source versus target. Matching is symmetric, so which side was copied is not observable from
  the matches. The rule used here: when the recovered transform implies resampling (rotation
  not a multiple of 90 degrees by more than ``interpolation_min_angle`` degrees, or a scale
  differing from 1 by more than 2 %) and both sides keep a comparable scale (|det| in [0.8,
  1.25]), the side whose high-frequency energy (mean squared Laplacian) is lower by more than
  ``source_target_margin`` (relative) is called the target, since interpolation smooths the
  pasted copy. Otherwise the detector opts out and gives both regions source and target
  probability 0.5 / 0.5.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np
import torch

from tamperscope.models.base import TamperModel, check_tensor
from tamperscope.models.keypoint.config import KeypointConfig, KeypointInputError
from tamperscope.models.keypoint.matching import (
    cluster_pairs,
    estimate_transforms,
    g2nn_matches,
    region_from_correlation,
    sift_keypoints,
)
from tamperscope.models.outputs import COPY_MOVE_CLASSES, CopyMoveOutput
from tamperscope.registry import Task, register_model

logger = logging.getLogger(__name__)

__all__ = [
    "KeypointCMFD",
    "KeypointResult",
    "SourceTargetRule",
    "detect_copy_move",
    "detect_on_batch",
]

#: Probabilities are clamped to [PROB_EPS, 1 - PROB_EPS] before logs and logits.
PROB_EPS = 1e-4


@dataclass
class KeypointResult:
    """What :func:`detect_copy_move` found in one image; coordinates are input pixels (x, y).

    Attributes:
        three_class_prob: (3, H, W) float32 in [0, 1], probabilities of (pristine, source,
            target) summing to 1 at every pixel.
        score: image score in [0, 1]; 0 when no transform was found.
        matches: (N, 4) float32 g2NN matches ``(x1, y1, x2, y2)`` kept after the distance test.
        affines: one (2, 3) float64 matrix per accepted transform, mapping a point ``(x, y, 1)``
            of the first region to its copy in the second region.
        inliers: one (M, 4) float32 array of inlier matches ``(x1, y1, x2, y2)`` per transform,
            oriented like its affine.
        source_probability: per transform, the probability that its first region is the
            source; 0.5 means the detector opted out.
        num_keypoints: SIFT keypoints found.
        scale: working size / input size (1.0 when the image was not shrunk).
    """

    three_class_prob: np.ndarray
    score: float
    matches: np.ndarray
    affines: list[np.ndarray] = field(default_factory=list)
    inliers: list[np.ndarray] = field(default_factory=list)
    source_probability: list[float] = field(default_factory=list)
    num_keypoints: int = 0
    scale: float = 1.0

    def union_mask(self, threshold: float = 0.5) -> np.ndarray:
        """Binary copy-move mask (source or target).

        Args:
            threshold: a pixel is forged when ``1 - p(pristine) >= threshold``, in [0, 1].

        Returns:
            (H, W) uint8 in {0, 1}.
        """
        return (1.0 - self.three_class_prob[0] >= threshold).astype(np.uint8)


def _check_image(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise KeypointInputError(
            f"image must be a numpy array (H, W, 3) uint8 RGB, got {type(image).__name__}"
        )
    if image.ndim != 3 or image.shape[2] != 3:
        raise KeypointInputError(
            f"image must have shape (H, W, 3) (RGB, channels last), got {image.shape}; "
            "convert grey images with np.repeat(img[..., None], 3, axis=2)"
        )
    if image.dtype != np.uint8:
        raise KeypointInputError(
            f"image must be uint8 in [0, 255], got dtype {image.dtype}; "
            "use tamperscope.io.read_image or scale floats with (img * 255).round()"
        )
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise KeypointInputError(f"image must be at least 2x2 pixels, got {image.shape[:2]}")
    return image


def _implies_resampling(affine: np.ndarray, cfg: KeypointConfig) -> bool:
    lin = affine[:, :2]
    sv = np.linalg.svd(lin, compute_uv=False)
    angle = math.degrees(math.atan2(lin[1, 0] - lin[0, 1], lin[0, 0] + lin[1, 1]))
    off_grid = abs((angle + 45.0) % 90.0 - 45.0)
    return off_grid > cfg.interpolation_min_angle or bool(np.any(np.abs(sv - 1.0) > 0.02))


def _source_probability(
    image_gray: np.ndarray,
    region_a: np.ndarray,
    region_b: np.ndarray,
    affine: np.ndarray,
    cfg: KeypointConfig,
) -> float:
    """Probability that ``region_a`` (mapped onto ``region_b`` by ``affine``) is the source.

    Rule: interpolation smooths the pasted copy, so when the transform implies resampling the
    side with clearly less high-frequency energy is the target; otherwise 0.5 (opted out).
    """
    det = abs(float(np.linalg.det(affine[:, :2])))
    if not (0.8 <= det <= 1.25) or not _implies_resampling(affine, cfg):
        return 0.5
    if region_a.sum() < 16 or region_b.sum() < 16:
        return 0.5
    lap = cv2.Laplacian(image_gray, cv2.CV_32F, ksize=1)
    energy = lap * lap
    # Compare only the interiors: region borders mix in the surrounding content.
    kernel = np.ones((3, 3), np.uint8)
    inner_a = cv2.erode(region_a, kernel) > 0
    inner_b = cv2.erode(region_b, kernel) > 0
    if inner_a.sum() < 16 or inner_b.sum() < 16:
        return 0.5
    ea = float(energy[inner_a].mean())
    eb = float(energy[inner_b].mean())
    if max(ea, eb) <= 0:
        return 0.5
    rel = (ea - eb) / max(ea, eb)
    if abs(rel) <= cfg.source_target_margin:
        return 0.5
    return 1.0 if rel > 0 else 0.0


def _image_score(inliers: int, area_fraction: float) -> float:
    if inliers <= 0:
        return 0.0
    s_kp = 1.0 - math.exp(-inliers / 10.0)
    s_area = min(1.0, area_fraction / 0.01)
    return float(s_kp * (0.5 + 0.5 * s_area))


#: A source/target rule: ``(region_a, region_b) -> P(region_a is the source)``, the regions
#: (h, w) uint8 in {0, 1} on the detector's working grid, ``region_b`` the copy of
#: ``region_a`` under the recovered transform or the other way round.
SourceTargetRule = Callable[[np.ndarray, np.ndarray], float]


def detect_copy_move(
    image: np.ndarray,
    config: KeypointConfig | None = None,
    *,
    source_target_rule: SourceTargetRule | None = None,
) -> KeypointResult:
    """Find copy-moved regions in one image with the keypoint pipeline of the module docstring.

    Args:
        image: (H, W, 3) uint8 RGB in [0, 255].
        config: settings; defaults to ``KeypointConfig()``.
        source_target_rule: tells which region of each matched pair is the source; default
            the high-frequency energy rule of the module docstring. Its result is clipped to
            [0, 1].

    Returns:
        A :class:`KeypointResult`; ``three_class_prob`` has the input size (H, W).

    Raises:
        KeypointInputError: ``image`` is not an (H, W, 3) uint8 array of at least 2x2 pixels.
    """
    cfg = config or KeypointConfig()
    image = _check_image(image)
    h, w = image.shape[:2]
    scale = min(1.0, cfg.max_side / max(h, w))
    gray_full = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        gray = cv2.resize(gray_full, size, interpolation=cv2.INTER_AREA)
    else:
        gray = gray_full
    hw, ww = gray.shape
    # Exact scale factors of the working grid, so coordinates map back without drift.
    sx, sy = ww / w, hw / h

    empty = KeypointResult(
        three_class_prob=_probabilities(np.zeros((3, h, w), np.float32)),
        score=0.0,
        matches=np.zeros((0, 4), np.float32),
        scale=scale,
    )
    pts, desc = sift_keypoints(gray, cfg)
    empty.num_keypoints = len(pts)
    pairs = g2nn_matches(pts, desc, cfg)
    to_input = np.array([1.0 / sx, 1.0 / sy], np.float32)
    if len(pairs):
        empty.matches = np.concatenate(
            [pts[pairs[:, 0]] * to_input, pts[pairs[:, 1]] * to_input], axis=1
        )
    if len(pairs) < cfg.min_cluster_matches:
        return empty
    groups = cluster_pairs(pts[pairs[:, 0]], pts[pairs[:, 1]], cfg)
    transforms = estimate_transforms(groups, cfg)
    logger.debug(
        "%d keypoints, %d g2NN matches, %d cluster pairs, %d affine transforms",
        len(pts),
        len(pairs),
        len(groups),
        len(transforms),
    )
    if not transforms:
        return empty

    gray_f = gray.astype(np.float32)
    to_work = np.diag([sx, sy, 1.0])
    to_in = np.diag([1.0 / sx, 1.0 / sy, 1.0])
    regions: list[tuple[np.ndarray, np.ndarray, float]] = []
    affines, inliers, src_probs = [], [], []
    best_inliers = 0
    for affine, src_in, dst_in in transforms:
        inverse = cv2.invertAffineTransform(affine)
        region_a = region_from_correlation(gray_f, affine, src_in, cfg)
        region_b = region_from_correlation(gray_f, inverse, dst_in, cfg)
        if not (region_a.any() and region_b.any()):
            # The pixels do not confirm the keypoints: a chance match, not a copy.
            continue
        if source_target_rule is None:
            p_src = _source_probability(gray_f, region_a, region_b, affine, cfg)
        else:
            p_src = min(1.0, max(0.0, float(source_target_rule(region_a, region_b))))
        full = np.vstack([affine, [0.0, 0.0, 1.0]])
        affine_in = (to_in @ full @ to_work)[:2]
        affines.append(affine_in)
        inliers.append(np.concatenate([src_in * to_input, dst_in * to_input], axis=1))
        src_probs.append(p_src)
        regions.append((region_a, region_b, p_src))
        best_inliers = max(best_inliers, len(src_in))

    if not regions:
        return empty
    src_map = np.zeros((hw, ww), np.float32)
    tgt_map = np.zeros((hw, ww), np.float32)
    forged = np.zeros((hw, ww), np.float32)
    for region_a, region_b, p_src in regions:
        a, b = region_a.astype(np.float32), region_b.astype(np.float32)
        src_map = np.maximum(src_map, np.maximum(a * p_src, b * (1.0 - p_src)))
        tgt_map = np.maximum(tgt_map, np.maximum(a * (1.0 - p_src), b * p_src))
        forged = np.maximum(forged, np.maximum(a, b))
    area_fraction = float(forged.mean())
    if (hw, ww) != (h, w):
        forged = cv2.resize(forged, (w, h), interpolation=cv2.INTER_LINEAR)
        src_map = cv2.resize(src_map, (w, h), interpolation=cv2.INTER_LINEAR)
        tgt_map = cv2.resize(tgt_map, (w, h), interpolation=cv2.INTER_LINEAR)
    total = src_map + tgt_map
    share = np.divide(src_map, total, out=np.full_like(total, 0.5), where=total > 0)
    prob = np.stack([1.0 - forged, forged * share, forged * (1.0 - share)])
    return KeypointResult(
        three_class_prob=_probabilities(prob),
        score=_image_score(best_inliers, area_fraction),
        matches=empty.matches,
        affines=affines,
        inliers=inliers,
        source_probability=src_probs,
        num_keypoints=len(pts),
        scale=scale,
    )


def _probabilities(prob: np.ndarray) -> np.ndarray:
    """Clean a (3, H, W) map into float32 probabilities summing to 1 (pristine where empty)."""
    prob = np.clip(prob.astype(np.float32), 0.0, 1.0)
    total = prob.sum(axis=0, keepdims=True)
    empty = total[0] <= 0
    prob[0][empty] = 1.0
    total = prob.sum(axis=0, keepdims=True)
    return (prob / total).astype(np.float32)


def detect_on_batch(
    image: torch.Tensor, detect: Callable[[np.ndarray, torch.Tensor], KeypointResult]
) -> CopyMoveOutput:
    """Run a per-image keypoint detection on a batch and stack the results as logits.

    Args:
        image: (B, 3, H, W) float32 in [0, 1], RGB (values outside are clipped).
        detect: called once per image as ``detect(array, tensor)`` with the image as an
            (H, W, 3) uint8 RGB array and as a (3, H, W) float32 tensor in [0, 1] (clipped);
            returns its :class:`KeypointResult`.

    Returns:
        ``CopyMoveOutput`` with ``mask_logits`` (B, 3, H, W) float32, the log-probabilities of
        (pristine, source, target) with probabilities clamped to [1e-4, 1 - 1e-4], and
        ``score_logit`` (B,) float32, the logit of the clamped image score, on the input's
        device.

    Raises:
        KeypointInputError: ``image`` is not a floating (B, 3, H, W) tensor (the message says
            the fix), or is smaller than 2x2 pixels.
    """
    check_tensor(image, ("B", 3, "H", "W"), name="image", error=KeypointInputError)
    clipped = image.detach().float().clamp(0, 1)
    arrays = (clipped * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    log_probs, logits = [], []
    for arr, one in zip(arrays, clipped, strict=True):
        result = detect(np.ascontiguousarray(arr), one)
        prob = np.clip(result.three_class_prob, PROB_EPS, 1.0 - PROB_EPS)
        log_probs.append(torch.from_numpy(np.log(prob)))
        s = min(max(result.score, PROB_EPS), 1.0 - PROB_EPS)
        logits.append(math.log(s / (1.0 - s)))
    return CopyMoveOutput(
        mask_logits=torch.stack(log_probs).to(device=image.device, dtype=torch.float32),
        score_logit=torch.tensor(logits, dtype=torch.float32, device=image.device),
    )


@register_model(
    "keypoint-cmfd",
    task=Task.COPY_MOVE,
    trainable=False,
    not_trainable_reason=(
        "keypoint-cmfd is training-free (SIFT matching); train a learned copy-move model such as "
        "doagan-effnet-lite0"
    ),
)
class KeypointCMFD(TamperModel):
    """Training-free SIFT copy-move detector as a model (Amerini et al., IEEE TIFS 2011).

    The module has no parameters and nothing to train; it runs :func:`detect_copy_move` on each
    image of the batch on the CPU with OpenCV and returns log-probabilities, so that it plugs
    into the same inference and evaluation code as the neural copy-move models. Gradients do
    not flow through it. ``model.config`` holds the constructor kwargs (all of
    :class:`KeypointConfig`'s fields).

    Args:
        **kwargs: fields of :class:`KeypointConfig`.

    Attributes:
        settings: the :class:`KeypointConfig`.
        classes: ``("pristine", "source", "target")``.
        analysis_long_side: ``None``: ``analyze`` feeds the full image, since
            :func:`detect_copy_move` resizes to ``max_side`` itself and keypoints need the
            detail.

    Raises:
        KeypointInputError: a setting is out of range.
        TypeError: an unknown setting name.
    """

    analysis_long_side = None
    classes = COPY_MOVE_CLASSES

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.settings = KeypointConfig(**kwargs)
        self.config: dict[str, Any] = asdict(self.settings)

    def forward(self, image: torch.Tensor) -> CopyMoveOutput:
        """Detect copy-moves in a batch.

        Args:
            image: (B, 3, H, W) float32 in [0, 1], RGB (values outside are clipped).

        Returns:
            ``CopyMoveOutput`` with ``mask_logits`` (B, 3, H, W) float32, the log-probabilities
            of (pristine, source, target) with probabilities clamped to [1e-4, 1 - 1e-4], and
            ``score_logit`` (B,) float32, the logit of the clamped image score. Both are on the
            input's device.

        Raises:
            KeypointInputError: ``image`` is not a floating (B, 3, H, W) tensor (the message
                says the fix), or is smaller than 2x2 pixels.
        """
        return detect_on_batch(image, lambda array, _: detect_copy_move(array, self.settings))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())
