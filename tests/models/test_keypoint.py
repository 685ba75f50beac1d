"""The training-free keypoint copy-move detector (``keypoint-cmfd``; Amerini et al., IEEE TIFS
2011): what it finds and why; the generic checks are in ``test_models.py``."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage.data import astronaut

from tamperscope.errors import TamperscopeError
from tamperscope.models.keypoint.config import KeypointConfig, KeypointInputError
from tamperscope.models.keypoint.detector import (
    KeypointCMFD,
    KeypointResult,
    _image_score,
    detect_copy_move,
)
from tamperscope.models.keypoint.matching import g2nn_matches
from tamperscope.models.outputs import CopyMoveOutput
from tamperscope.registry import create_model

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"


def textured_image(seed: int, h: int = 256, w: int = 320) -> np.ndarray:
    """(h, w, 3) uint8: smoothed colour noise plus random discs and boxes (SIFT needs texture)."""
    rng = np.random.default_rng(seed)
    noise = rng.random((h, w, 3)).astype(np.float32)
    img = cv2.GaussianBlur(noise, (0, 0), 2.0)
    img = ((img - img.min()) / (img.max() - img.min()) * 255).astype(np.uint8)
    for _ in range(25):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), int(rng.integers(4, 20)), colour, -1)
        else:
            size = (x + int(rng.integers(5, 30)), y + int(rng.integers(5, 30)))
            cv2.rectangle(img, (x, y), size, colour, -1)
    return img


def shifted_copy(
    img: np.ndarray, box=(40, 50, 70, 60), shift=(150, 110)
) -> tuple[np.ndarray, np.ndarray]:
    """Copy the box (x, y, w, h) by an integer shift; returns the forgery and its 3-class mask."""
    x, y, bw, bh = box
    tx, ty = x + shift[0], y + shift[1]
    out = img.copy()
    out[ty : ty + bh, tx : tx + bw] = img[y : y + bh, x : x + bw]
    gt = np.zeros(img.shape[:2], np.uint8)
    gt[y : y + bh, x : x + bw] = 1
    gt[ty : ty + bh, tx : tx + bw] = 2
    return out, gt


def rotated_copy(
    img: np.ndarray, center=(80, 80), radius=40, angle=15.0, dst=(220, 170)
) -> tuple[np.ndarray, np.ndarray]:
    """Copy a disc rotated by ``angle`` degrees (bilinear) to ``dst``; forgery and 3-class mask."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D(center, angle, 1.0)
    m[:, 2] += np.array(dst, np.float64) - np.array(center, np.float64)
    warped = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR)
    src = np.zeros((h, w), np.uint8)
    cv2.circle(src, center, radius, 1, -1)
    tgt = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_NEAREST)
    out = img.copy()
    out[tgt > 0] = warped[tgt > 0]
    gt = np.zeros((h, w), np.uint8)
    gt[src > 0] = 1
    gt[tgt > 0] = 2
    return out, gt


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    pred, gt = pred.astype(bool), gt.astype(bool)
    return float((pred & gt).sum() / max((pred | gt).sum(), 1))


def to_tensor(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0


@pytest.fixture(scope="module")
def shifted() -> tuple[np.ndarray, np.ndarray, KeypointResult]:
    img, gt = shifted_copy(textured_image(1))
    return img, gt, detect_copy_move(img)


@pytest.fixture(scope="module")
def rotated() -> tuple[np.ndarray, np.ndarray, KeypointResult]:
    img, gt = rotated_copy(textured_image(0))
    return img, gt, detect_copy_move(img)


def test_shifted_copy_found_with_its_translation(shifted) -> None:
    _, gt, result = shifted
    assert result.score > 0.8
    # Measured IoU 0.81 with the default settings.
    assert iou(result.union_mask(), gt > 0) > 0.6
    assert len(result.affines) >= 1
    affine = result.affines[0]
    # Matching is symmetric: the transform may point either way.
    assert np.allclose(affine[:, :2], np.eye(2), atol=0.02)
    assert np.allclose(np.abs(affine[:, 2]), [150, 110], atol=1.5)
    assert len(result.inliers[0]) >= 6
    assert result.inliers[0].shape[1] == 4 and result.matches.shape[1] == 4


def test_integer_shift_gives_no_source_target_decision(shifted) -> None:
    _, gt, result = shifted
    # A pure integer shift involves no resampling: the detector opts out (0.5 / 0.5).
    assert result.source_probability[0] == 0.5
    prob = result.three_class_prob
    forged = gt > 0
    np.testing.assert_allclose(prob[1][forged], prob[2][forged], atol=1e-6)


def test_rotated_copy_found_with_its_angle(rotated) -> None:
    _, gt, result = rotated
    assert result.score > 0.8
    # Measured IoU 0.77 with the default settings.
    assert iou(result.union_mask(), gt > 0) > 0.6
    lin = result.affines[0][:, :2]
    angle = math.degrees(math.atan2(lin[1, 0], lin[0, 0]))
    assert abs(abs(angle) - 15.0) < 2.0
    assert abs(np.linalg.det(lin) - 1.0) < 0.05


def test_rotated_copy_target_is_the_interpolated_side(rotated) -> None:
    _, gt, result = rotated
    # Bilinear rotation smooths the pasted disc: the rule names it the target.
    assert result.source_probability[0] in (0.0, 1.0)
    label = result.three_class_prob.argmax(axis=0)
    assert iou(label == 1, gt == 1) > 0.6
    assert iou(label == 2, gt == 2) > 0.6


def test_untouched_image_scores_low_with_empty_mask() -> None:
    result = detect_copy_move(textured_image(1))
    assert result.score < 0.2
    assert result.union_mask().mean() < 0.01
    assert result.affines == []


def test_photo_copy_found_and_original_clean() -> None:
    photo = astronaut()
    forged, gt = shifted_copy(photo, box=(60, 300, 90, 80), shift=(250, -40))
    found = detect_copy_move(forged)
    clean = detect_copy_move(photo)
    # Measured: score 0.98, IoU 0.90 on the copy; score 0 on the original.
    assert found.score > 0.8 > 0.2 > clean.score
    assert iou(found.union_mask(), gt > 0) > 0.7


def test_probabilities_are_valid(rotated) -> None:
    img, _, result = rotated
    prob = result.three_class_prob
    assert prob.shape == (3, *img.shape[:2]) and prob.dtype == np.float32
    assert prob.min() >= 0.0 and prob.max() <= 1.0
    np.testing.assert_allclose(prob.sum(axis=0), 1.0, atol=1e-5)
    assert 0.0 <= result.score <= 1.0


def test_downscaled_working_image_maps_back_to_input_pixels() -> None:
    img, gt = shifted_copy(textured_image(2))
    result = detect_copy_move(img, KeypointConfig(max_side=240))
    assert result.scale == pytest.approx(240 / 320)
    assert result.three_class_prob.shape == (3, 256, 320)
    assert result.score > 0.5
    assert np.allclose(np.abs(result.affines[0][:, 2]), [150, 110], atol=3.0)
    assert iou(result.union_mask(), gt > 0) > 0.5


@pytest.mark.parametrize(
    "image",
    [
        np.full((64, 80, 3), 128, np.uint8),  # flat: no keypoints at all
        np.zeros((2, 2, 3), np.uint8),  # smallest image accepted
        np.repeat(textured_image(3, 61, 47)[..., :1], 3, axis=2),  # grey-looking, odd size
    ],
    ids=["flat", "2x2", "grey-odd"],
)
def test_images_without_copies_are_handled(image: np.ndarray) -> None:
    result = detect_copy_move(image)
    assert result.score == 0.0
    assert result.three_class_prob.shape == (3, *image.shape[:2])
    np.testing.assert_allclose(result.three_class_prob[0], 1.0)
    assert result.matches.shape[1] == 4


def test_forward_shapes_dtypes_and_values() -> None:
    forged, _ = shifted_copy(textured_image(1))
    model = KeypointCMFD().eval()
    out = model(to_tensor(forged, textured_image(1)))
    assert isinstance(out, CopyMoveOutput)
    assert out.mask_logits.shape == (2, 3, 256, 320) and out.mask_logits.dtype == torch.float32
    assert out.score_logit.shape == (2,) and out.score_logit.dtype == torch.float32
    prob = out.mask_logits.exp()
    assert torch.isfinite(out.mask_logits).all()
    assert out.mask_logits.min() >= math.log(1e-4) - 1e-5
    assert out.mask_logits.max() <= math.log(1 - 1e-4) + 1e-5
    assert torch.allclose(prob.sum(1), torch.ones(2, 256, 320), atol=1e-3, rtol=0)
    assert out.score_logit[0] > 1.0 and out.score_logit[1] < -5.0
    np.testing.assert_allclose(
        prob[0].numpy(), detect_copy_move(forged).three_class_prob, atol=2e-4, rtol=0
    )


def test_registered_without_parameters_and_with_its_config() -> None:
    model = create_model("keypoint-cmfd", ratio_threshold=0.4, max_side=512)
    assert isinstance(model, KeypointCMFD)
    assert list(model.parameters()) == [] and model.state_dict() == {}
    assert model.config == {
        **vars(KeypointConfig()),
        "ratio_threshold": 0.4,
        "max_side": 512,
    }
    assert model.settings == KeypointConfig(ratio_threshold=0.4, max_side=512)


def test_g2nn_keeps_copies_and_refuses_same_place_duplicates() -> None:
    rng = np.random.default_rng(0)
    desc = rng.random((12, 128), dtype=np.float32) * 100
    pts = rng.uniform(0, 500, (12, 2)).astype(np.float32)
    pts[:3] = [[10, 10], [200, 150], [14, 13]]  # 2 is 5 px from 0
    desc[1] = desc[0] + 0.01  # a copy far away
    desc[2] = desc[0] + 0.02  # same-place duplicate (SIFT orientation twin)
    pairs = g2nn_matches(pts, desc, KeypointConfig(min_match_distance=10.0))
    assert sorted(pairs.tolist()) == [[0, 1], [1, 2]]
    # Most similar first (here the two distances tie up to float rounding), and capped by
    # max_matches.
    distances = np.linalg.norm(desc[pairs[:, 0]] - desc[pairs[:, 1]], axis=1)
    assert np.all(np.diff(distances) >= 0)
    capped = g2nn_matches(pts, desc, KeypointConfig(max_matches=3))
    assert len(capped) == 2
    # Without the distance rule, the twin makes keypoint 0 ambiguous (d1 / d2 ~ 1).
    loose = g2nn_matches(pts, desc, KeypointConfig(min_match_distance=0.0))
    assert [0, 1] not in loose.tolist()


def test_g2nn_refuses_a_lone_candidate() -> None:
    # With one candidate left after the distance rule there is no ratio to test.
    pts = np.array([[0, 0], [100, 0], [3, 0]], np.float32)
    desc = np.array([[0.0] * 128, [1.0] * 128, [0.0] * 128], np.float32)
    pairs = g2nn_matches(pts, desc, KeypointConfig(min_match_distance=10.0))
    assert pairs.shape == (0, 2)


def test_match_cap_limits_what_is_clustered(shifted) -> None:
    img, _, full = shifted
    capped = detect_copy_move(img, KeypointConfig(max_matches=10))
    assert len(capped.matches) == 10 < len(full.matches)
    assert capped.score > 0.5


@pytest.mark.parametrize(
    ("method", "cut"),
    # Ward merge costs grow with cluster size: its tree is cut higher.
    [("ward", 150.0), ("average", 40.0), ("complete", 40.0)],
)
def test_other_linkages_find_the_copy(shifted, method: str, cut: float) -> None:
    img, gt, _ = shifted
    result = detect_copy_move(img, KeypointConfig(linkage=method, cluster_distance=cut))
    assert result.score > 0.8
    assert iou(result.union_mask(), gt > 0) > 0.6


def test_image_score_is_monotone_and_bounded() -> None:
    assert _image_score(0, 0.5) == 0.0
    scores = [_image_score(n, a) for n in (3, 6, 20, 100) for a in (0.0, 0.005, 0.5)]
    assert all(0.0 < s <= 1.0 for s in scores)
    assert _image_score(6, 0.0) < _image_score(20, 0.0) < _image_score(100, 0.0)
    assert _image_score(6, 0.0) < _image_score(6, 0.005) < _image_score(6, 0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ratio_threshold": 1.5}, "ratio_threshold must be in (0, 1), got 1.5"),
        ({"max_side": 16}, "max_side must be >= 32 pixels, got 16"),
        ({"max_matches": 2}, "max_matches must be >= 3, got 2"),
        ({"linkage": "median"}, "linkage must be one of single, average, complete, ward"),
        ({"correlation_window": 6}, "correlation_window must be an odd number >= 3, got 6"),
        ({"min_inliers": 2}, "min_inliers must be >= 3 (an affine needs 3 points), got 2"),
        ({"min_cluster_matches": 2}, "min_cluster_matches must be >= 3"),
        ({"cluster_distance": 0}, "cluster_distance must be > 0, got 0"),
        ({"num_neighbors": 1}, "num_neighbors must be >= 2, got 1"),
        ({"max_keypoints": 1}, "max_keypoints must be >= 2, got 1"),
        ({"contrast_threshold": 0}, "contrast_threshold must be > 0, got 0"),
        ({"min_match_distance": -1}, "min_match_distance must be >= 0 pixels, got -1"),
        ({"ransac_threshold": 0}, "ransac_threshold must be > 0 pixels, got 0"),
        ({"max_transforms": 0}, "max_transforms must be >= 1, got 0"),
        ({"correlation_threshold": 1.0}, "correlation_threshold must be in (-1, 1), got 1.0"),
        ({"min_region_area": 1.0}, "min_region_area must be in [0, 1), got 1.0"),
        ({"interpolation_min_angle": -1}, "interpolation_min_angle must be >= 0 degrees"),
        ({"source_target_margin": -0.1}, "source_target_margin must be >= 0, got -0.1"),
    ],
)
def test_bad_settings_raise_with_message(kwargs: dict, message: str) -> None:
    with pytest.raises(KeypointInputError, match=None) as info:
        create_model("keypoint-cmfd", **kwargs)
    assert message in str(info.value)
    assert isinstance(info.value, TamperscopeError) and isinstance(info.value, ValueError)


def test_unknown_setting_raises_type_error() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'ratio'"):
        KeypointCMFD(ratio=0.5)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ([[0, 1]], "image must be a numpy array (H, W, 3) uint8 RGB, got list"),
        (np.zeros((8, 8), np.uint8), "image must have shape (H, W, 3) (RGB, channels last)"),
        (np.zeros((8, 8, 3), np.float32), "image must be uint8 in [0, 255], got dtype float32"),
        (np.zeros((1, 8, 3), np.uint8), "image must be at least 2x2 pixels, got (1, 8)"),
    ],
)
def test_bad_numpy_image_raises_with_message(image, message: str) -> None:
    with pytest.raises(KeypointInputError) as info:
        detect_copy_move(image)
    assert message in str(info.value)


def test_bad_tensor_raises_the_detector_error() -> None:
    # The messages are checked for every model in test_models.py; here the type.
    with pytest.raises(KeypointInputError, match=r"image\.unsqueeze\(0\)"):
        KeypointCMFD()(torch.zeros(3, 8, 8))


@pytest.mark.realdata
def test_real_copy_move_union_f1() -> None:
    folder = DATA / "real-dev" / "cm-disambiguation"
    if not (folder / "test01.tif").is_file():
        pytest.skip(f"real data not found at {folder.resolve()}")
    from tamperscope.io import read_image, read_mask

    result = detect_copy_move(read_image(folder / "test01.tif"))
    gt = read_mask(folder / "test01_gt.png")
    forged = (gt[..., 0] > 128) | (gt[..., 1] > 128)  # red target or green source
    pred = result.union_mask().astype(bool)
    f1 = 2 * (pred & forged).sum() / (pred.sum() + forged.sum())
    # Measured F1 0.91 and score 1.0.
    assert f1 > 0.7
    assert result.score > 0.8
