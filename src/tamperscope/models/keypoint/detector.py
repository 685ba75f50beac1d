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

Pipeline, all at a working resolution whose long side is at most ``max_side`` pixels:

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
from typing import Any, Literal

import cv2
import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from sklearn.neighbors import NearestNeighbors, radius_neighbors_graph
from torch import nn

from tamperscope.errors import TamperscopeError
from tamperscope.models.outputs import CopyMoveOutput
from tamperscope.registry import Task, register_model

logger = logging.getLogger(__name__)

__all__ = [
    "KeypointCMFD",
    "KeypointConfig",
    "KeypointInputError",
    "KeypointResult",
    "SourceTargetRule",
    "detect_copy_move",
    "detect_on_batch",
]

#: Probabilities are clamped to [PROB_EPS, 1 - PROB_EPS] before logs and logits.
PROB_EPS = 1e-4

_LINKAGES = ("single", "average", "complete", "ward")


class KeypointInputError(TamperscopeError, ValueError):
    """Bad input or configuration for the keypoint copy-move detector."""


@dataclass(frozen=True)
class KeypointConfig:
    """Settings of the keypoint copy-move detector; sizes are pixels at the working resolution.

    Attributes:
        max_side: long side of the working image in pixels; larger images are shrunk (area
            interpolation) and results are mapped back to the input size. >= 32.
        max_keypoints: most SIFT keypoints kept (the strongest by response). >= 2.
        contrast_threshold: SIFT contrast threshold (OpenCV default 0.04; lower finds more
            keypoints in low-contrast regions). > 0.
        ratio_threshold: g2NN ratio T in (0, 1) (Amerini et al.: 0.5).
        num_neighbors: neighbours examined per keypoint by g2NN (k). >= 2.
        min_match_distance: matches whose ends are closer than this (pixels) are refused. >= 0.
        max_matches: most g2NN matches kept (the most similar descriptors); bounds the memory
            of the clustering. >= 3.
        linkage: SciPy linkage method: ``"single"``, ``"average"``, ``"complete"`` or
            ``"ward"``.
        cluster_distance: distance (pixels, or Ward merge cost for ``"ward"``) where the
            clustering tree is cut. > 0.
        min_cluster_matches: matches needed between two clusters to try a transform. >= 3.
        ransac_threshold: RANSAC reprojection threshold in pixels. > 0.
        min_inliers: RANSAC inliers needed to accept a transform. >= 3.
        max_transforms: most transforms kept per image (largest inlier counts first). >= 1.
        correlation_window: side (pixels, odd, >= 3) of the ZNCC window.
        correlation_threshold: ZNCC (after a 3x3 Gaussian smoothing) above which a pixel is a
            candidate duplicate, in (-1, 1).
        min_region_area: smallest connected region kept, as a fraction of the working image
            area, in [0, 1).
        interpolation_min_angle: rotation (degrees, away from multiples of 90) above which a
            transform is taken to imply resampling, for the source/target rule. >= 0.
        source_target_margin: relative difference of high-frequency energy needed to name the
            target; below it the detector opts out (0.5 / 0.5). >= 0.
    """

    max_side: int = 1024
    max_keypoints: int = 20000
    contrast_threshold: float = 0.01
    ratio_threshold: float = 0.5
    num_neighbors: int = 10
    min_match_distance: float = 10.0
    max_matches: int = 3000
    linkage: Literal["single", "average", "complete", "ward"] = "single"
    cluster_distance: float = 40.0
    min_cluster_matches: int = 4
    ransac_threshold: float = 3.0
    min_inliers: int = 6
    max_transforms: int = 4
    correlation_window: int = 7
    correlation_threshold: float = 0.6
    min_region_area: float = 0.0005
    interpolation_min_angle: float = 2.0
    source_target_margin: float = 0.1

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (self.max_side >= 32, f"max_side must be >= 32 pixels, got {self.max_side}"),
            (self.max_keypoints >= 2, f"max_keypoints must be >= 2, got {self.max_keypoints}"),
            (
                self.contrast_threshold > 0,
                f"contrast_threshold must be > 0, got {self.contrast_threshold}",
            ),
            (
                0 < self.ratio_threshold < 1,
                f"ratio_threshold must be in (0, 1), got {self.ratio_threshold}",
            ),
            (self.num_neighbors >= 2, f"num_neighbors must be >= 2, got {self.num_neighbors}"),
            (
                self.min_match_distance >= 0,
                f"min_match_distance must be >= 0 pixels, got {self.min_match_distance}",
            ),
            (self.max_matches >= 3, f"max_matches must be >= 3, got {self.max_matches}"),
            (
                self.linkage in _LINKAGES,
                f"linkage must be one of {', '.join(_LINKAGES)}, got {self.linkage!r}",
            ),
            (
                self.cluster_distance > 0,
                f"cluster_distance must be > 0, got {self.cluster_distance}",
            ),
            (
                self.min_cluster_matches >= 3,
                f"min_cluster_matches must be >= 3 (an affine needs 3 points), "
                f"got {self.min_cluster_matches}",
            ),
            (
                self.ransac_threshold > 0,
                f"ransac_threshold must be > 0 pixels, got {self.ransac_threshold}",
            ),
            (
                self.min_inliers >= 3,
                f"min_inliers must be >= 3 (an affine needs 3 points), got {self.min_inliers}",
            ),
            (self.max_transforms >= 1, f"max_transforms must be >= 1, got {self.max_transforms}"),
            (
                self.correlation_window >= 3 and self.correlation_window % 2 == 1,
                f"correlation_window must be an odd number >= 3, got {self.correlation_window}",
            ),
            (
                -1 < self.correlation_threshold < 1,
                f"correlation_threshold must be in (-1, 1), got {self.correlation_threshold}",
            ),
            (
                0 <= self.min_region_area < 1,
                f"min_region_area must be in [0, 1), got {self.min_region_area}",
            ),
            (
                self.interpolation_min_angle >= 0,
                f"interpolation_min_angle must be >= 0 degrees, got {self.interpolation_min_angle}",
            ),
            (
                self.source_target_margin >= 0,
                f"source_target_margin must be >= 0, got {self.source_target_margin}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise KeypointInputError(message)


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


def _sift(gray: np.ndarray, cfg: KeypointConfig) -> tuple[np.ndarray, np.ndarray]:
    """SIFT keypoint coordinates (N, 2) float32 (x, y) and descriptors (N, 128) float32."""
    sift = cv2.SIFT.create(nfeatures=cfg.max_keypoints, contrastThreshold=cfg.contrast_threshold)
    keypoints, descriptors = sift.detectAndCompute(gray, None)
    if descriptors is None or len(keypoints) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    pts = np.array([kp.pt for kp in keypoints], dtype=np.float32)
    return pts, descriptors.astype(np.float32)


def _g2nn_matches(pts: np.ndarray, desc: np.ndarray, cfg: KeypointConfig) -> np.ndarray:
    """g2NN matches within one image (Amerini et al. 2011, Sec. III-A).

    Args:
        pts: (N, 2) float32 keypoint coordinates (x, y) in pixels.
        desc: (N, 128) float32 SIFT descriptors.

    Returns:
        (M, 2) int64 unique index pairs ``(i, j)`` with ``i < j``; at most ``max_matches``,
        the most similar descriptors first.
    """
    n = len(pts)
    if n < 3:
        return np.zeros((0, 2), np.int64)
    k = min(n, cfg.num_neighbors + 8)  # extra room for the spatially close candidates removed
    nn_index = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(desc)
    dist, idx = nn_index.kneighbors(desc)
    spatial = np.linalg.norm(pts[idx] - pts[:, None, :], axis=2)
    # Self and same-place keypoints cannot be copies: drop them before the ratio test.
    dist = np.where(spatial < max(cfg.min_match_distance, 1e-6), np.inf, dist)
    order = np.argsort(dist, axis=1, kind="stable")[:, : cfg.num_neighbors]
    dist = np.take_along_axis(dist, order, axis=1)
    idx = np.take_along_axis(idx, order, axis=1)
    num, den = dist[:, :-1], dist[:, 1:]
    # 0/0 (several identical neighbours) is ambiguous, and with no next candidate (inf) there
    # is nothing to compare with: both are refused.
    usable = np.isfinite(den) & (den > 0)
    ratio = np.divide(num, den, out=np.full_like(num, np.inf), where=usable)
    accept = np.cumprod(ratio < cfg.ratio_threshold, axis=1).astype(bool)
    rows, cols = np.nonzero(accept)
    if len(rows) == 0:
        return np.zeros((0, 2), np.int64)
    pairs = np.sort(np.stack([rows, idx[rows, cols]], axis=1).astype(np.int64), axis=1)
    pair_dist = dist[rows, cols]
    by_similarity = np.argsort(pair_dist, kind="stable")
    pairs = pairs[by_similarity]
    _, first = np.unique(pairs, axis=0, return_index=True)
    return pairs[np.sort(first)[: cfg.max_matches]]


def _cluster_labels(points: np.ndarray, cfg: KeypointConfig) -> np.ndarray:
    """Flat clusters of (P, 2) points: the hierarchical tree cut at ``cluster_distance``."""
    if cfg.linkage == "single":
        # Single linkage cut at t is the connected components of the graph of pairs closer
        # than t; the graph is sparse, the full tree would need P^2 memory.
        graph = radius_neighbors_graph(points, cfg.cluster_distance, mode="connectivity")
        return connected_components(graph, directed=False)[1]
    tree = linkage(points, method=cfg.linkage)
    return fcluster(tree, t=cfg.cluster_distance, criterion="distance")


def _cluster_pairs(
    p1: np.ndarray, p2: np.ndarray, cfg: KeypointConfig
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group matches by the clusters of their two ends; orient each group consistently.

    Args:
        p1, p2: (M, 2) float32 coordinates of the two ends of each match, M >= 2.

    Returns:
        List of (src (K, 2), dst (K, 2)) float32 point sets with K >= ``min_cluster_matches``,
        largest first.
    """
    m = len(p1)
    labels = _cluster_labels(np.concatenate([p1, p2]).astype(np.float64), cfg)
    a, b = labels[:m], labels[m:]
    # Matches within one cluster: orient by the sign of the displacement, so that a copy
    # moved by less than the cluster distance yields one consistent transform.
    disp = p2 - p1
    flip_same = (a == b) & ((disp[:, 0] < 0) | ((disp[:, 0] == 0) & (disp[:, 1] < 0)))
    flip = np.where(a == b, flip_same, a > b)
    src = np.where(flip[:, None], p2, p1)
    dst = np.where(flip[:, None], p1, p2)
    key = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)
    groups: list[tuple[np.ndarray, np.ndarray]] = []
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    for g in np.argsort(-counts, kind="stable"):
        if counts[g] < cfg.min_cluster_matches:
            break
        sel = inverse == g
        groups.append((src[sel].astype(np.float32), dst[sel].astype(np.float32)))
    return groups


def _affine_ok(affine: np.ndarray) -> bool:
    """A plausible copy: finite, area ratio |det| in (0.2, 5), anisotropy below 3."""
    lin = affine[:, :2]
    det = float(np.linalg.det(lin))
    if not np.all(np.isfinite(affine)) or not 0.2 < abs(det) < 5.0:
        return False
    sv = np.linalg.svd(lin, compute_uv=False)
    return bool(sv[0] / max(sv[1], 1e-9) < 3.0)  # refuse strong shears: not a copy


def _estimate_transforms(
    groups: list[tuple[np.ndarray, np.ndarray]], cfg: KeypointConfig
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """RANSAC affine per cluster pair; returns (affine (2, 3), src inliers, dst inliers)."""
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for src, dst in groups:
        if len(src) < 3:
            continue
        affine, inl = cv2.estimateAffine2D(
            src,
            dst,
            method=cv2.RANSAC,
            ransacReprojThreshold=cfg.ransac_threshold,
            maxIters=2000,
            confidence=0.995,
        )
        if affine is None or inl is None:
            continue
        keep = inl.reshape(-1).astype(bool)
        if keep.sum() < cfg.min_inliers or not _affine_ok(affine):
            continue
        found.append((affine.astype(np.float64), src[keep], dst[keep]))
    found.sort(key=lambda t: -len(t[1]))
    return found[: cfg.max_transforms]


def _zncc(a: np.ndarray, b: np.ndarray, window: int) -> np.ndarray:
    """Zero-mean normalized cross-correlation of two float32 images in a square window.

    Returns:
        (H, W) float32 in [-1, 1]; 0 where either window is flat.
    """
    ksize = (window, window)
    box = lambda x: cv2.boxFilter(x, cv2.CV_32F, ksize, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    ma, mb = box(a), box(b)
    cov = box(a * b) - ma * mb
    va = np.maximum(box(a * a) - ma * ma, 0.0)
    vb = np.maximum(box(b * b) - mb * mb, 0.0)
    # A variance floor of 1 grey level squared keeps flat areas (noise-free sky) out of the map.
    denom = np.sqrt(np.maximum(va, 1.0) * np.maximum(vb, 1.0))
    return np.clip(cov / denom, -1.0, 1.0).astype(np.float32)


def _region_from_correlation(
    gray: np.ndarray,
    affine: np.ndarray,
    seeds: np.ndarray,
    cfg: KeypointConfig,
) -> np.ndarray:
    """Pixels x whose neighbourhood reappears at ``affine @ x`` (Pan & Lyu 2010).

    Args:
        gray: (H, W) float32 working image.
        affine: (2, 3) transform from the region sought to its copy.
        seeds: (K, 2) float32 inlier keypoints (x, y) lying in the region sought.

    Returns:
        (H, W) uint8 in {0, 1}.
    """
    h, w = gray.shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(gray, affine, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT)
    valid = cv2.warpAffine(
        np.ones((h, w), np.uint8), affine, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    corr = _zncc(gray, warped, cfg.correlation_window)
    corr = cv2.GaussianBlur(corr, (3, 3), 0)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx = affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2] - xs
    dy = affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2] - ys
    # Near the fixed point of the transform the image trivially matches itself.
    moved = np.hypot(dx, dy) >= max(cfg.min_match_distance, 1.0)
    cand = ((corr > cfg.correlation_threshold) & (valid > 0) & moved).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    cand = cv2.morphologyEx(cand, cv2.MORPH_OPEN, kernel)
    cand = cv2.morphologyEx(cand, cv2.MORPH_CLOSE, kernel)
    n_labels, labels, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
    if n_labels <= 1:
        return np.zeros((h, w), np.uint8)
    # A seed may fall a pixel or two outside the opened component: look within 2 pixels.
    seed_mask = np.zeros((h, w), np.uint8)
    for x, y in np.rint(seeds).astype(int):
        cv2.circle(seed_mask, (int(x), int(y)), 2, 1, -1)
    seeded = set(np.unique(labels[seed_mask > 0]).tolist())
    seeded.discard(0)
    min_area = cfg.min_region_area * h * w
    keep = [lab for lab in seeded if stats[lab, cv2.CC_STAT_AREA] >= min_area]
    region = np.isin(labels, keep).astype(np.uint8)
    # Holes left by flat patches inside a copy; a large hole is pristine content.
    return _fill_small_holes(region, 0.002 * h * w)


def _fill_small_holes(mask: np.ndarray, max_hole: float) -> np.ndarray:
    """Fill holes of at most ``max_hole`` pixels; larger ones are real pristine content."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        (mask == 0).astype(np.uint8), connectivity=4
    )
    h, w = mask.shape
    x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    x1 = x0 + stats[:, cv2.CC_STAT_WIDTH]
    y1 = y0 + stats[:, cv2.CC_STAT_HEIGHT]
    inner = (x0 > 0) & (y0 > 0) & (x1 < w) & (y1 < h)  # background touches the border
    small = inner & (stats[:, cv2.CC_STAT_AREA] <= max_hole)
    small[0] = False
    out = mask.copy()
    out[small[labels] & (mask == 0)] = 1
    return out


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
    pts, desc = _sift(gray, cfg)
    empty.num_keypoints = len(pts)
    pairs = _g2nn_matches(pts, desc, cfg)
    to_input = np.array([1.0 / sx, 1.0 / sy], np.float32)
    if len(pairs):
        empty.matches = np.concatenate(
            [pts[pairs[:, 0]] * to_input, pts[pairs[:, 1]] * to_input], axis=1
        )
    if len(pairs) < cfg.min_cluster_matches:
        return empty
    groups = _cluster_pairs(pts[pairs[:, 0]], pts[pairs[:, 1]], cfg)
    transforms = _estimate_transforms(groups, cfg)
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
        region_a = _region_from_correlation(gray_f, affine, src_in, cfg)
        region_b = _region_from_correlation(gray_f, inverse, dst_in, cfg)
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
        KeypointInputError: ``image`` is not a floating (B, 3, H, W) tensor.
    """
    if not isinstance(image, torch.Tensor):
        raise KeypointInputError(
            f"image must be a torch.Tensor (B, 3, H, W), got {type(image).__name__}"
        )
    if image.ndim != 4 or image.shape[1] != 3:
        raise KeypointInputError(
            f"image must have shape (B, 3, H, W) with 3 RGB channels, got "
            f"{tuple(image.shape)}; add a batch axis with image[None] or convert grey to RGB"
        )
    if not image.is_floating_point():
        raise KeypointInputError(
            f"image must be a float tensor in [0, 1], got dtype {image.dtype}; "
            "divide uint8 images by 255"
        )
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
class KeypointCMFD(nn.Module):
    """Training-free SIFT copy-move detector as a ``torch.nn.Module`` (Amerini et al., TIFS 2011).

    The module has no parameters and nothing to train; it runs :func:`detect_copy_move` on each
    image of the batch on the CPU with OpenCV and returns log-probabilities, so that it plugs
    into the same inference and evaluation code as the neural copy-move models. Gradients do
    not flow through it. ``model.config`` holds the constructor kwargs (all of
    :class:`KeypointConfig`'s fields).

    Args:
        **kwargs: fields of :class:`KeypointConfig`.

    Raises:
        KeypointInputError: a setting is out of range.
        TypeError: an unknown setting name.
    """

    #: Long side (pixels) at which ``analyze`` feeds images: ``None``, the full image, since
    #: :func:`detect_copy_move` resizes to ``max_side`` itself and keypoints need the detail.
    analysis_long_side: int | None = None

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
            KeypointInputError: ``image`` is not a floating (B, 3, H, W) tensor.
        """
        return detect_on_batch(image, lambda array, _: detect_copy_move(array, self.settings))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())
