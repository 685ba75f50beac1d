"""The noise-residual localizer: noise-level splices are separated, untouched images score
lower, results are deterministic, degenerate inputs give an empty map, bad settings say why."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from tamperscope.models.noise import (
    NoiseInputError,
    NoiseResidual,
    NoiseResidualConfig,
    cooccurrence_codes,
    detect_noise_inconsistency,
)
from tamperscope.registry import Task, create_model, model_info


def noisy_image(
    rng: np.random.Generator,
    region: np.ndarray,
    sigma: float = 2.0,
    sigma_region: float = 6.0,
) -> np.ndarray:
    """A smooth grey scene plus Gaussian noise of ``sigma`` grey levels, ``sigma_region``
    inside ``region``; (H, W, 3) uint8."""
    h, w = region.shape
    yy, xx = np.mgrid[:h, :w]
    scene = 128 + 40 * np.sin(xx / 37.0) + 30 * np.cos(yy / 23.0)
    noise = rng.normal(0.0, 1.0, (h, w)) * np.where(region, sigma_region, sigma)
    grey = np.clip(scene + noise, 0, 255).round().astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _columns_from(h: int, w: int, x0: int) -> np.ndarray:
    return np.broadcast_to(np.arange(w)[None, :] >= x0, (h, w))


def test_a_half_with_another_noise_level_is_separated(rng):
    half = _columns_from(512, 512, 256)
    result = detect_noise_inconsistency(noisy_image(rng, half))
    auc = roc_auc_score(half.ravel(), result.probability.ravel())
    # With two halves of one size, which is the minority is a coin toss: the map separates.
    assert max(auc, 1.0 - auc) > 0.8
    assert result.probability.shape == (512, 512) and result.probability.dtype == np.float32


def test_a_smaller_region_is_the_manipulated_class(rng):
    region = _columns_from(384, 512, 352)  # the right 160 columns, 31 % of the image
    result = detect_noise_inconsistency(noisy_image(rng, region))
    assert roc_auc_score(region.ravel(), result.probability.ravel()) > 0.8
    assert result.minority_weight < 0.5


def test_an_untouched_image_scores_lower(rng):
    half = _columns_from(256, 384, 192)
    forged = detect_noise_inconsistency(noisy_image(rng, half))
    untouched = detect_noise_inconsistency(noisy_image(rng, half, sigma_region=2.0))
    assert untouched.score < forged.score
    assert untouched.separation < forged.separation
    assert forged.score > 0.5 > untouched.score


def test_same_input_same_output(rng):
    image = noisy_image(rng, _columns_from(128, 160, 100))
    a, b = detect_noise_inconsistency(image), detect_noise_inconsistency(image)
    assert np.array_equal(a.probability, b.probability) and a.score == b.score


@pytest.mark.parametrize("shape", [(5, 5), (40, 40)], ids=["tiny", "few-windows"])
def test_too_small_or_flat_images_give_an_empty_map(shape):
    h, w = shape
    for image in (np.full((h, w, 3), 77, np.uint8), np.zeros((h, w, 3), np.uint8)):
        result = detect_noise_inconsistency(image)
        assert result.score == 0.0 and not result.probability.any()
        assert result.probability.shape == shape
    flat = detect_noise_inconsistency(np.full((128, 128, 3), 77, np.uint8))
    assert flat.score == 0.0 and not flat.probability.any()


def test_cooccurrence_codes_of_a_known_residual():
    # A ramp has zero third-order residual: every code is the centre code (2, 2, 2, 2) in base 5.
    ramp = np.tile(np.arange(10, dtype=np.float32) * 3, (8, 1))
    horizontal, vertical = cooccurrence_codes(ramp)
    centre = ((2 * 5 + 2) * 5 + 2) * 5 + 2
    assert horizontal.shape == (8, 4) and vertical.shape == (2, 10)
    assert (horizontal == centre).all() and (vertical == centre).all()
    # A step of 2 between pixels 4 and 5: residual (0, 0, -2, 4, -2, 0, 0), 4 truncated to 2.
    step = np.zeros((1, 10), np.float32)
    step[0, 5:] = 2.0
    codes, _ = cooccurrence_codes(step)
    residual = [0, 0, -2, 2, -2, 0, 0]
    digits = [[int(c // 5**k) % 5 - 2 for k in (3, 2, 1, 0)] for c in codes[0]]
    assert digits == [residual[k : k + 4] for k in range(4)]


def test_the_model_wraps_the_detector(rng):
    info = model_info("noise-residual")
    assert info.task is Task.LOCALIZATION and not info.trainable
    model = create_model("noise-residual", cell=8)
    assert isinstance(model, NoiseResidual) and model.config["cell"] == 8
    image = noisy_image(rng, _columns_from(96, 128, 90))
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    out = model(x)
    result = detect_noise_inconsistency(image, NoiseResidualConfig(cell=8))
    prob = torch.sigmoid(out.mask_logits)[0, 0].numpy()
    expected = np.clip(result.probability, 1e-4, 1 - 1e-4)
    np.testing.assert_allclose(prob, expected, atol=1e-5)
    assert float(torch.sigmoid(out.score_logit[0])) == pytest.approx(
        min(max(result.score, 1e-4), 1 - 1e-4), abs=1e-6
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cell": 2}, "cell must be >= 4 pixels"),
        ({"truncation": 5}, "truncation must be in 1..3"),
        ({"quantization": 0}, "quantization must be > 0"),
        ({"score_scale": -1.0}, "score_scale must be > 0"),
    ],
)
def test_bad_settings_say_which(kwargs, message):
    with pytest.raises(NoiseInputError, match=f"noise-residual: {message}"):
        create_model("noise-residual", **kwargs)


def test_bad_images_say_what_is_expected():
    with pytest.raises(NoiseInputError, match=r"\(H, W, 3\) uint8 RGB numpy array, got float32"):
        detect_noise_inconsistency(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(NoiseInputError, match=r"must have shape \(H, W, 3\)"):
        detect_noise_inconsistency(np.zeros((8, 8), np.uint8))
