"""Steps 1-5 of the keypoint copy-move detector: SIFT, g2NN matching, clustering, affine
recovery and the dense correlation region (see :mod:`tamperscope.models.keypoint.detector` for
the pipeline, its settings and its deviations from the papers).

* I. Amerini, L. Ballan, R. Caldelli, A. Del Bimbo, G. Serra, "A SIFT-based forensic method for
  copy-move attack detection and transformation recovery", IEEE TIFS 6(3), 2011,
  doi:10.1109/TIFS.2011.2129512: g2NN matching, hierarchical clustering, affine recovery.
* X. Pan, S. Lyu, "Region duplication detection using image feature matching", IEEE TIFS 5(4),
  2010, doi:10.1109/TIFS.2010.2078506: the region from the correlation between the image and its
  copy warped by the recovered transform.

All coordinates are (x, y) pixels of the working (grey, float32 or uint8) image.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from sklearn.neighbors import NearestNeighbors, radius_neighbors_graph

from tamperscope.models.keypoint.config import KeypointConfig

__all__ = [
    "cluster_pairs",
    "estimate_transforms",
    "fill_small_holes",
    "g2nn_matches",
    "region_from_correlation",
    "sift_keypoints",
    "zncc",
]


def sift_keypoints(gray: np.ndarray, cfg: KeypointConfig) -> tuple[np.ndarray, np.ndarray]:
    """SIFT keypoints of a grey image (Lowe, IJCV 2004; OpenCV ``cv2.SIFT``).

    Args:
        gray: (H, W) uint8 grey working image.
        cfg: ``max_keypoints`` and ``contrast_threshold`` are read.

    Returns:
        ``(points, descriptors)``: (N, 2) float32 coordinates (x, y) in pixels and (N, 128)
        float32 descriptors; N = 0 when fewer than 2 keypoints are found.
    """
    sift = cv2.SIFT.create(nfeatures=cfg.max_keypoints, contrastThreshold=cfg.contrast_threshold)
    keypoints, descriptors = sift.detectAndCompute(gray, None)
    if descriptors is None or len(keypoints) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    pts = np.array([kp.pt for kp in keypoints], dtype=np.float32)
    return pts, descriptors.astype(np.float32)


def g2nn_matches(pts: np.ndarray, desc: np.ndarray, cfg: KeypointConfig) -> np.ndarray:
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


def cluster_pairs(
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


def estimate_transforms(
    groups: list[tuple[np.ndarray, np.ndarray]], cfg: KeypointConfig
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """RANSAC affine transform per cluster pair (``cv2.estimateAffine2D``).

    Args:
        groups: (src (K, 2), dst (K, 2)) float32 point sets from :func:`cluster_pairs`.
        cfg: ``ransac_threshold``, ``min_inliers`` and ``max_transforms`` are read.

    Returns:
        At most ``max_transforms`` triples ``(affine, src_inliers, dst_inliers)``: the (2, 3)
        float64 transform mapping src to dst and the (M, 2) float32 inliers, M >=
        ``min_inliers``, largest M first. Implausible transforms (|det| outside (0.2, 5),
        strong shear) are dropped.
    """
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


def zncc(a: np.ndarray, b: np.ndarray, window: int) -> np.ndarray:
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


def region_from_correlation(
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
    corr = zncc(gray, warped, cfg.correlation_window)
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
    return fill_small_holes(region, 0.002 * h * w)


def fill_small_holes(mask: np.ndarray, max_hole: float) -> np.ndarray:
    """Fill holes of at most ``max_hole`` pixels; larger ones are real pristine content.

    Args:
        mask: (H, W) uint8 in {0, 1}.
        max_hole: largest hole filled, in pixels.

    Returns:
        (H, W) uint8 in {0, 1}; background touching the image border is never a hole.
    """
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
