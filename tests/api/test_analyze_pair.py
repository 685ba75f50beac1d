"""analyze_pair(): pair inference, sliding windows, reports, files, CLI and error paths."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from typer.testing import CliRunner

import tamperscope
from tamperscope import registry
from tamperscope.api import Detector, load_model
from tamperscope.cli import app
from tamperscope.errors import ImageReadError, TamperscopeError
from tamperscope.inference.pairs import pair_score, predict_pair, probe_windows, uses_sliding
from tamperscope.io import read_image, write_image
from tamperscope.models.base import TamperModel
from tamperscope.models.outputs import PAIR_CLASSES, PairOutput
from tamperscope.report.writers import shared_region, write_pair_outputs

JSON_KEYS = {
    "probe_file",
    "donor_file",
    "verdict",
    "detection",
    "probe_region",
    "donor_region",
    "model",
    "weights_sha256",
    "tamperscope_version",
    "probe_size",
    "donor_size",
    "analysed_size",
    "windows",
    "seconds",
    "outputs",
}


class BrightPairModel(TamperModel):
    """Test double: the shared region is where an 8x8 cell is mostly bright (> 0.8)."""

    classes = PAIR_CLASSES
    output_stride = 8

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def forward(self, probe: torch.Tensor, donor: torch.Tensor) -> PairOutput:
        assert probe.shape == donor.shape
        self.batches.append(probe.shape[0])

        def logits(x: torch.Tensor) -> torch.Tensor:
            bright = F.avg_pool2d((x.mean(1, keepdim=True) > 0.8).float(), 8)
            return torch.cat([torch.zeros_like(bright), (bright - 0.5) * 20], dim=1)

        return PairOutput(probe_logits=logits(probe), donor_logits=logits(donor))


def _detector(model: torch.nn.Module | None = None) -> Detector:
    return Detector(
        model=model or BrightPairModel(),
        name="bright-pair",
        weights_sha256=None,
        device=torch.device("cpu"),
    )


def _probe(h: int = 120, w: int = 160) -> np.ndarray:
    img = np.full((h, w, 3), 60, np.uint8)
    img[30:90, 40:120] = 250
    return img


def _donor(h: int = 90, w: int = 100) -> np.ndarray:
    img = np.full((h, w, 3), 40, np.uint8)
    img[0:45, 50:100] = 240
    return img


def test_predict_pair_maps_at_each_image_size():
    probe, donor = _probe(), _donor()
    model = BrightPairModel()
    prob_p, prob_d, score = predict_pair(model, probe, donor, size=64)
    assert prob_p.shape == (120, 160) and prob_d.shape == (90, 100)
    assert prob_p.dtype == np.float32 and prob_d.dtype == np.float32
    assert prob_p[60, 80] > 0.9 and prob_p[5, 5] < 0.1
    assert prob_d[20, 75] > 0.9 and prob_d[80, 10] < 0.1
    assert score == pytest.approx(pair_score(prob_p, prob_d))
    assert score > 0.9
    assert model.batches == [1]  # small probe: one whole-image pass


def test_sliding_windows_find_a_small_region_the_whole_pass_misses():
    probe = np.full((300, 500, 3), 50, np.uint8)
    probe[200:240, 400:440] = 255  # 40 x 40: under half an 8x8 cell at 64 x 64
    donor = _donor()
    whole, _, _ = predict_pair(BrightPairModel(), probe, donor, size=64, sliding=False)
    assert whole[200:240, 400:440].max() < 0.5
    model = BrightPairModel()
    slid, _, _ = predict_pair(model, probe, donor, size=64, sliding_threshold=128, batch_size=5)
    assert slid[210:230, 410:430].min() > 0.5
    assert slid[50, 50] < 0.1
    (rh, rw), corners = probe_windows(300, 500, 64)
    assert (rh, rw) == (128, 213)
    assert model.batches == [1] + [5] * (len(corners) // 5) + [len(corners) % 5] * bool(
        len(corners) % 5
    )


def test_probe_window_layout():
    (rh, rw), corners = probe_windows(768, 1024, 256)
    assert (rh, rw) == (512, 683)
    ys, xs = sorted({y for y, _ in corners}), sorted({x for _, x in corners})
    assert ys == [0, 128, 256] and xs == [0, 128, 256, 384, 427]
    assert len(corners) == 15
    (rh, rw), corners = probe_windows(100, 300, 256)  # short side below size: upscaled
    assert rh == 256 and rw == 768 and len(corners) == 5
    assert uses_sliding((600, 400, 3), 256, None, 512) and not uses_sliding(
        (500, 400), 256, None, 512
    )
    assert not uses_sliding((4000, 3000), 256, False, 512) and uses_sliding(
        (10, 10), 256, True, 512
    )


class ForwardOnly(torch.nn.Module):
    """Hides encode/decode so that every window runs the plain forward."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, probe: torch.Tensor, donor: torch.Tensor) -> PairOutput:
        return self.inner(probe, donor)


def test_cached_donor_features_match_plain_forward(rng):
    torch.manual_seed(0)
    model = load_model("dmac-vgg16", weights=None, device="cpu").model
    probe = rng.integers(0, 256, (64, 100, 3), dtype=np.uint8)
    donor = rng.integers(0, 256, (70, 60, 3), dtype=np.uint8)
    assert len(probe_windows(64, 100, 64)[1]) == 3
    fast = predict_pair(model, probe, donor, size=64, sliding=True, batch_size=2)
    slow = predict_pair(ForwardOnly(model), probe, donor, size=64, sliding=True, batch_size=1)
    np.testing.assert_allclose(fast[0], slow[0], atol=1e-4)
    np.testing.assert_allclose(fast[1], slow[1], atol=1e-4)
    assert fast[2] == pytest.approx(slow[2], abs=1e-4)


def test_analyze_pair_report_and_files(tmp_path):
    write_image(tmp_path / "probe.png", _probe())
    write_image(tmp_path / "donor.jpg", _donor())
    report = tamperscope.analyze_pair(
        tmp_path / "probe.png", tmp_path / "donor.jpg", model=_detector(), out_dir=tmp_path / "o"
    )
    assert report.correlated and report.score > 0.9 and report.windows == 0
    assert report.probe_size == (160, 120) and report.donor_size == (100, 90)
    assert report.probe_region["bbox"][0] <= 42 and report.probe_region["bbox"][2] >= 118
    assert abs(report.probe_region["area_px"] - 60 * 80) < 800
    assert report.donor_region["area_fraction"] == pytest.approx(45 * 50 / 9000, abs=0.05)

    stem = tmp_path / "o" / "probe_donor"
    data = json.loads(stem.with_suffix(".json").read_text())
    assert set(data) == JSON_KEYS
    assert data["verdict"] == "correlated" and data["detection"]["threshold"] == 0.5
    assert data["model"] == "bright-pair" and data["weights_sha256"] is None
    assert data["probe_size"] == {"width": 160, "height": 120}
    assert data["analysed_size"] == {"width": 256, "height": 256}
    probe_mask = read_image(tmp_path / "o" / "probe_donor_probe_mask.png")
    donor_mask = read_image(tmp_path / "o" / "probe_donor_donor_mask.png")
    assert probe_mask.shape == (120, 160, 3) and donor_mask.shape == (90, 100, 3)
    assert set(np.unique(probe_mask)) == {0, 255}
    assert tuple(probe_mask[60, 80]) == (255, 255, 255) and tuple(probe_mask[5, 5]) == (0, 0, 0)
    assert tuple(donor_mask[20, 75]) == (255, 255, 255)
    overlay = read_image(tmp_path / "o" / "probe_donor_probe_overlay.png")
    assert overlay.shape == (120, 160, 3) and not np.array_equal(overlay, _probe())
    assert set(report.outputs) == {
        "report",
        "probe_mask",
        "donor_mask",
        "probe_overlay",
        "donor_overlay",
    }


def test_not_correlated_pair_has_empty_regions_and_black_masks(tmp_path):
    dark = np.full((50, 70, 3), 30, np.uint8)
    report = tamperscope.analyze_pair(dark, dark, model=_detector(), out_dir=tmp_path, size=64)
    assert not report.correlated and report.score == 0.0
    assert report.probe_region == {} and report.donor_region == {}
    assert report.to_dict()["verdict"] == "not correlated"
    mask = read_image(tmp_path / "probe_donor_probe_mask.png")
    assert mask.max() == 0


def test_threshold_decides(tmp_path):
    report = tamperscope.analyze_pair(_probe(), _donor(), model=_detector(), threshold=1.0)
    assert not report.correlated and report.probe_region == {}
    assert report.probe_probability is not None and report.probe_probability.max() > 0.9


def test_untrained_dmac_end_to_end(tmp_path, rng):
    torch.manual_seed(0)
    detector = load_model("dmac-vgg16", weights=None, device="cpu")
    probe = rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)
    donor = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    report = tamperscope.analyze_pair(
        probe, donor, model=detector, out_dir=tmp_path, size=64, name="pair"
    )
    assert 0.0 <= report.score <= 1.0 and report.model == "dmac-vgg16"
    assert report.probe_probability.shape == (80, 120)
    assert report.donor_probability.shape == (64, 64)
    data = json.loads((tmp_path / "pair.json").read_text())
    assert set(data) == JSON_KEYS and data["analysed_size"]["width"] == 64
    assert (tmp_path / "pair_donor_mask.png").exists()


def test_weights_file_rebuilds_dmac(tmp_path, rng):
    torch.manual_seed(1)
    model = registry.create_model("dmac-vgg16", top_t=4, aspp_channels=8).eval()
    path = tmp_path / "dmac.safetensors"
    meta = {"model": "dmac-vgg16", "model_kwargs": json.dumps(model.config)}
    save_file(model.state_dict(), str(path), metadata=meta)
    detector = load_model(weights=path, device="cpu")
    assert detector.model.config == model.config and detector.weights_sha256
    probe = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    expected = predict_pair(model, probe, probe[::-1].copy(), size=64)
    got = predict_pair(detector.model, probe, probe[::-1].copy(), size=64)
    np.testing.assert_allclose(got[0], expected[0], atol=1e-5)


def test_error_paths(tmp_path):
    (tmp_path / "bad.png").write_text("not an image")
    write_image(tmp_path / "good.png", _probe())
    with pytest.raises(ImageReadError, match="bad.png"):
        tamperscope.analyze_pair(
            tmp_path / "good.png", tmp_path / "bad.png", model=_detector(), out_dir=tmp_path / "o"
        )
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match=r"donor must be an \(H, W, 3\) uint8 RGB array"):
        tamperscope.analyze_pair(_probe(), _donor().astype(np.float32), model=_detector())
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\], got 1.5"):
        tamperscope.analyze_pair(_probe(), _donor(), model=_detector(), threshold=1.5)
    with pytest.raises(ValueError, match="multiple of 8 pixels"):
        tamperscope.analyze_pair(_probe(), _donor(), model=_detector(), size=100)
    with pytest.raises(TamperscopeError, match="'dmac-vgg16' ships no trained weights"):
        tamperscope.analyze_pair(_probe(), _donor(), model="dmac-vgg16")
    with pytest.raises(KeyError, match="unknown model 'dmac'"):
        tamperscope.analyze_pair(_probe(), _donor(), model="dmac")


def test_model_with_wrong_output_is_reported():
    class ThreeClass(torch.nn.Module):
        def forward(self, probe, donor):
            z = torch.zeros(probe.shape[0], 3, 8, 8)
            return PairOutput(probe_logits=z, donor_logits=z)

    with pytest.raises(ValueError, match=r"must return \(B, 2, h, w\) logits"):
        predict_pair(ThreeClass(), _probe(), _donor(), size=64)


@pytest.fixture
def registered_pair():
    registry.register_model("test-bright-pair", task="pair", trainable=False)(
        lambda **kw: BrightPairModel()
    )
    yield "test-bright-pair"
    registry.unregister_model("test-bright-pair")


def _invoke(*args: str):
    return CliRunner().invoke(app, ["analyze-pair", *args])


def test_cli_writes_outputs(tmp_path, registered_pair):
    write_image(tmp_path / "p.png", _probe())
    write_image(tmp_path / "d.png", _donor())
    out = tmp_path / "o"
    result = _invoke(
        str(tmp_path / "p.png"),
        str(tmp_path / "d.png"),
        "--model",
        registered_pair,
        "--weights",
        "none",
        "--out",
        str(out),
        "--threshold",
        "0.4",
    )
    assert result.exit_code == 0, result.output
    assert "correlated (pair score" in result.output and "probe: shared region" in result.output
    assert json.loads((out / "p_d.json").read_text())["detection"]["threshold"] == 0.4
    assert (out / "p_d_probe_mask.png").exists() and (out / "p_d_donor_overlay.png").exists()


def test_cli_default_weights_error(tmp_path):
    write_image(tmp_path / "p.png", _probe())
    result = _invoke(
        str(tmp_path / "p.png"),
        str(tmp_path / "p.png"),
        "--out",
        str(tmp_path / "o"),
        "--model",
        "dmac-vgg16",
    )
    assert result.exit_code == 2
    assert "error: model 'dmac-vgg16' ships no trained weights" in result.output
    assert not (tmp_path / "o").exists()


def test_cli_unreadable_file(tmp_path, registered_pair):
    write_image(tmp_path / "p.png", _probe())
    (tmp_path / "d.jpg").write_bytes(b"")
    out = tmp_path / "o"
    result = _invoke(
        str(tmp_path / "p.png"),
        str(tmp_path / "d.jpg"),
        "--model",
        registered_pair,
        "--weights",
        "none",
        "--out",
        str(out),
    )
    assert result.exit_code == 1
    assert "error: " in result.output and "d.jpg: file is empty" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_cli_bad_options(tmp_path, registered_pair):
    result = _invoke("a.png", "b.png", "--model", registered_pair, "--sliding", "maybe")
    assert result.exit_code == 2 and "--sliding must be auto, on or off" in result.output
    result = _invoke("a.png", "b.png", "--model", "no-such", "--weights", "none")
    assert result.exit_code == 2 and "unknown model 'no-such'" in result.output


def test_pair_writer_needs_the_maps(tmp_path):
    report = tamperscope.analyze_pair(_probe(), _donor(), model=_detector(), size=64)
    with pytest.raises(ValueError, match="no donor probability map to draw"):
        write_pair_outputs(
            dataclasses.replace(report, donor_probability=None), _probe(), _donor(), tmp_path, "x"
        )
    mask, region = shared_region(report.probe_probability, correlated=False)
    assert not mask.any() and region == {}


def test_the_api_holds_no_scoring_loop():
    import tamperscope.api as api

    assert not hasattr(api, "model_predictions") and not hasattr(api, "model_pair_predictions")
