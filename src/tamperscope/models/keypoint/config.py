"""Settings of the keypoint copy-move detector and the error its bad input raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tamperscope.errors import TamperscopeError

__all__ = ["KeypointConfig", "KeypointInputError"]

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
