"""analyze(): decode, bounded-resolution inference, reports, masks and batch error handling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import tamperscope
from tamperscope import registry
from tamperscope.api import Detector, expand_inputs, load_model
from tamperscope.cli import app
from tamperscope.errors import ImageReadError, TamperscopeError
from tamperscope.inference.copy_move import analysed_size, predict_copy_move
from tamperscope.io import read_image, write_image
from tamperscope.models.base import TamperModel
from tamperscope.models.outputs import COPY_MOVE_CLASSES, CopyMoveOutput


class BrightRegionModel(TamperModel):
    """Test double: bright pixels (> 0.8) are the copy, the left half of them the source."""

    classes = COPY_MOVE_CLASSES

    def __init__(self) -> None:
        super().__init__()
        self.seen_sizes: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> CopyMoveOutput:
        self.seen_sizes.append(tuple(x.shape[-2:]))
        bright = (x.mean(1) > 0.8).float()
        left = torch.zeros_like(bright)
        left[..., : x.shape[-1] // 2] = 1
        logits = torch.stack([1 - bright, bright * left, bright * (1 - left)], 1) * 10
        score = bright.flatten(1).mean(1) * 200 - 1  # forged when > 0.5% bright
        return CopyMoveOutput(mask_logits=logits, score_logit=score)


@pytest.fixture
def detector() -> Detector:
    return Detector(
        model=BrightRegionModel(),
        name="bright",
        weights_sha256=None,
        device=torch.device("cpu"),
        long_side=64,
    )


def _forged(h: int = 120, w: int = 160) -> np.ndarray:
    img = np.full((h, w, 3), 60, np.uint8)
    img[20:50, 10:40] = 250  # "source", left half
    img[60:90, 110:140] = 250  # "target", right half
    return img


def test_analysed_size_caps_long_side():
    assert analysed_size(3000, 4000, 512) == (384, 512)
    assert analysed_size(100, 80, 512) == (100, 80)
    assert analysed_size(100, 80, None) == (100, 80)


def test_predict_runs_at_bounded_size_and_upsamples(detector):
    pred, size = predict_copy_move(detector.model, _forged(), long_side=64)
    assert size == (48, 64) and detector.model.seen_sizes[-1] == (48, 64)
    assert pred.probabilities.shape == (3, 120, 160)
    np.testing.assert_allclose(pred.probabilities.sum(0), 1, atol=1e-5)
    cmap = pred.class_map()
    assert (cmap[30, 20], cmap[75, 125], cmap[5, 5]) == (1, 2, 0)


def test_analyze_array_report(detector):
    report = tamperscope.analyze(_forged(), model=detector)
    assert report.forged and report.score > 0.5
    assert report.image_size == (160, 120) and report.analysed_size == (64, 48)
    src, tgt = report.regions["source"], report.regions["target"]
    assert src["bbox"][0] <= 12 and src["bbox"][2] >= 38
    assert tgt["bbox"][1] <= 62 and tgt["bbox"][3] >= 88
    assert abs(tgt["area_px"] - 900) < 250


def test_authentic_image_has_empty_regions(detector):
    report = tamperscope.analyze(np.full((50, 50, 3), 30, np.uint8), model=detector)
    assert not report.forged and report.regions == {}
    assert report.to_dict()["verdict"] == "authentic"


def test_outputs_written(tmp_path, detector):
    write_image(tmp_path / "in.png", _forged())
    report = tamperscope.analyze(tmp_path / "in.png", model=detector, out_dir=tmp_path / "out")
    data = json.loads((tmp_path / "out" / "in.json").read_text())
    assert data["verdict"] == "forged" and data["detection"]["threshold"] == 0.5
    assert data["model"] == "bright" and data["image_size"] == {"width": 160, "height": 120}
    mask = read_image(tmp_path / "out" / "in_mask.png")
    assert tuple(mask[75, 125]) == (255, 0, 0) and tuple(mask[30, 20]) == (0, 255, 0)
    assert report.outputs["overlay"].endswith("in_overlay.png")


def test_batch_goes_on_after_bad_file(tmp_path, detector):
    write_image(tmp_path / "a.png", _forged())
    (tmp_path / "b.png").write_text("not an image")
    write_image(tmp_path / "c.png", np.zeros((40, 40, 3), np.uint8))
    results = list(tamperscope.analyze_batch([tmp_path], model=detector, out_dir=tmp_path / "o"))
    assert [p.name for p, _ in results] == ["a.png", "b.png", "c.png"]
    assert isinstance(results[1][1], ImageReadError) and "b.png" in str(results[1][1])
    assert (tmp_path / "o" / "c.json").exists() and not (tmp_path / "o" / "b.json").exists()


def test_expand_inputs_globs_and_missing(tmp_path):
    for n in ("x.png", "y.jpg", "z.txt"):
        (tmp_path / n).write_bytes(b"1")
    assert [p.name for p in expand_inputs([str(tmp_path / "*.png")])] == ["x.png"]
    assert [p.name for p in expand_inputs([tmp_path])] == ["x.png", "y.jpg"]
    assert expand_inputs(["missing.png"])[0].name == "missing.png"


def test_load_model_unknown_name():
    with pytest.raises(KeyError, match="unknown model"):
        load_model("no-such-model")


def test_load_model_missing_weights_file(tmp_path):
    with pytest.raises(TamperscopeError, match="does not exist"):
        load_model(weights=tmp_path / "w.safetensors")


@pytest.fixture
def registered_bright():
    registry.register_model("test-bright", task="copy_move", trainable=False)(
        lambda **kw: BrightRegionModel()
    )
    yield "test-bright"
    registry.unregister_model("test-bright")


def test_cli_analyze_reports_failures(tmp_path, registered_bright):
    write_image(tmp_path / "good.png", _forged())
    (tmp_path / "bad.jpg").write_bytes(b"")
    result = CliRunner().invoke(
        app,
        [
            "analyze",
            str(tmp_path / "good.png"),
            str(tmp_path / "bad.jpg"),
            "--model",
            registered_bright,
            "--weights",
            "none",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "bad.jpg: file is empty" in result.output
    assert (tmp_path / "o" / "good.json").exists()


def test_keypoint_model_is_analysed_at_full_resolution():
    # The keypoint detector caps its own working size; halving NoSo-sized photos first
    # loses the keypoints of small copies.
    assert load_model("keypoint-cmfd", device="cpu").long_side is None
    assert load_model("keypoint-cmfd", device="cpu", long_side=300).long_side == 300


def test_analyze_takes_bytes_and_streams(tmp_path, detector):

    write_image(tmp_path / "in.png", _forged())
    from_path = tamperscope.analyze(tmp_path / "in.png", model=detector)
    data = (tmp_path / "in.png").read_bytes()
    from_bytes = tamperscope.analyze(data, model=detector, out_dir=tmp_path / "b")
    with open(tmp_path / "in.png", "rb") as fh:
        from_stream = tamperscope.analyze(fh, model=detector)
    for report in (from_bytes, from_stream):
        assert report.score == from_path.score and report.regions == from_path.regions
    assert from_bytes.file == "" and (tmp_path / "b" / "image_mask.png").is_file()
    assert from_stream.file == str(tmp_path / "in.png")
    with pytest.raises(ImageReadError, match=r"^<bytes>: not an image file"):
        tamperscope.analyze(b"not an image", model=detector)
