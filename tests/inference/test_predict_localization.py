"""Localization inference: maps at the image's size, resizing to the analysis size, tiles
at native resolution that cover the image and stitch back, and the errors a caller hits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tamperscope.inference.localization import predict_localization, tile_origins
from tamperscope.models.outputs import CopyMoveOutput, LocalizationOutput
from tamperscope.registry import create_model


class Brightness(torch.nn.Module):
    """Pixelwise test double: logit of the grey level, image score = the largest one."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> LocalizationOutput:
        self.sizes.append(tuple(x.shape[-2:]))
        p = x.mean(1, keepdim=True).clamp(1e-4, 1 - 1e-4)
        return LocalizationOutput(torch.logit(p), torch.logit(p.amax(dim=(1, 2, 3))))


def _image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_the_map_has_the_image_size_after_resizing(rng):
    model = Brightness()
    image = _image(rng, 90, 200)
    prediction, size = predict_localization(model, image, long_side=100)
    assert size == (45, 100) and model.sizes == [(45, 100)]
    assert prediction.probabilities.shape == (1, 90, 200)
    assert prediction.probabilities.dtype == np.float32
    assert prediction.forgery_map.shape == (90, 200)
    assert 0.0 <= prediction.forgery_map.min() and prediction.forgery_map.max() <= 1.0


def test_full_size_is_the_model_output(rng):
    image = _image(rng, 40, 50)
    prediction, size = predict_localization(Brightness(), image)
    assert size == (40, 50)
    expected = np.clip(image.astype(np.float32).mean(-1) / 255, 1e-4, 1 - 1e-4)
    np.testing.assert_allclose(prediction.forgery_map, expected, atol=1e-5)
    assert prediction.score == pytest.approx(float(expected.max()), abs=1e-5)


@pytest.mark.parametrize(("length", "tile", "overlap"), [(100, 40, 10), (64, 64, 16), (7, 40, 0)])
def test_tiles_cover_the_side_and_overlap(length, tile, overlap):
    starts = tile_origins(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + min(tile, length) == length
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + tile] = True
    assert covered.all()
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:], strict=False))


def test_tiled_maps_of_a_pixelwise_model_equal_the_whole_image(rng):
    image = _image(rng, 150, 230)
    model = Brightness()
    whole, _ = predict_localization(model, image)
    model.sizes.clear()
    tiled, size = predict_localization(model, image, tile=64, overlap=16)
    assert size == (150, 230)
    assert max(max(s) for s in model.sizes) <= 64 and len(model.sizes) > 1
    np.testing.assert_allclose(tiled.probabilities, whole.probabilities, atol=1e-5)
    assert tiled.score == pytest.approx(whole.score, abs=1e-6)


def test_the_noise_baseline_runs_tiled(rng):
    model = create_model("noise-residual").eval()
    prediction, _ = predict_localization(model, _image(rng, 200, 300), tile=128)
    assert prediction.probabilities.shape == (1, 200, 300)
    assert np.isfinite(prediction.probabilities).all() and 0.0 <= prediction.score <= 1.0


def test_bad_calls_say_what_is_wrong(rng):
    image = _image(rng, 64, 64)
    with pytest.raises(ValueError, match="tile must be >= 32 pixels, got 8"):
        predict_localization(Brightness(), image, tile=8)
    with pytest.raises(ValueError, match="0 <= overlap < tile"):
        predict_localization(Brightness(), image, tile=32, overlap=32)
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) uint8 RGB image"):
        predict_localization(Brightness(), image.astype(np.float32))

    class CopyMove(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> CopyMoveOutput:
            return CopyMoveOutput(torch.zeros(1, 3, *x.shape[-2:]), torch.zeros(1))

    with pytest.raises(TypeError, match="must return LocalizationOutput, got CopyMoveOutput"):
        predict_localization(CopyMove(), image)
