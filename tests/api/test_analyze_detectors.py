"""analyze() with several detectors: fused decision, composed mask, findings, maps, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import tamperscope
from tamperscope import registry
from tamperscope.api import Detector, load_detectors
from tamperscope.cli import app
from tamperscope.io import write_image
from tamperscope.models.base import TamperModel
from tamperscope.models.outputs import (
    COPY_MOVE_CLASSES,
    LOCALIZATION_CLASSES,
    CopyMoveOutput,
    LocalizationOutput,
)
from tamperscope.registry import Task
from tamperscope.report.findings import (
    calibrated_score,
    compose_class_map,
    findings_of,
    fuse_scores,
)
from tamperscope.report.masks import COLOURS
from tamperscope.types import MANIPULATED, SOURCE, TARGET, DetectorResult, Prediction


class CopyModel(TamperModel):
    """Bright pixels (> 0.8) are the copy-move; the left half of them the source."""

    classes = COPY_MOVE_CLASSES

    def forward(self, x: torch.Tensor) -> CopyMoveOutput:
        bright = (x.mean(1) > 0.8).float()
        left = torch.zeros_like(bright)
        left[..., : x.shape[-1] // 2] = 1
        logits = torch.stack([1 - bright, bright * left, bright * (1 - left)], 1) * 10
        return CopyMoveOutput(mask_logits=logits, score_logit=bright.flatten(1).mean(1) * 200 - 1)


class DarkModel(TamperModel):
    """A localizer: dark (< 0.1) and very bright (> 0.97) pixels are manipulated; the image
    score comes from the share of dark pixels only."""

    classes = LOCALIZATION_CLASSES
    analysis_tile = 64

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> LocalizationOutput:
        self.seen.append(tuple(x.shape[-2:]))
        grey = x.mean(1, keepdim=True)
        dark = (grey < 0.1).float()
        marked = torch.maximum(dark, (grey > 0.97).float())
        return LocalizationOutput(
            mask_logits=(marked - 0.5) * 20, score_logit=dark.flatten(1).mean(1) * 40 - 1
        )


def _detector(model: TamperModel, name: str, task: Task) -> Detector:
    return Detector(
        model=model,
        name=name,
        weights_sha256=None,
        device=torch.device("cpu"),
        long_side=None,
        task=task,
        tile=model.analysis_tile,
    )


@pytest.fixture
def detectors() -> list[Detector]:
    return [
        _detector(CopyModel(), "copy", Task.COPY_MOVE),
        _detector(DarkModel(), "dark", Task.LOCALIZATION),
    ]


def _image(copy: bool = True, dark: bool = True) -> np.ndarray:
    img = np.full((120, 160, 3), 120, np.uint8)
    if copy:
        img[20:50, 10:40] = 250  # source (left half)
        img[60:90, 110:140] = 250  # target (right half)
    if dark:
        img[90:110, 20:60] = 5  # a manipulated region (the localizer also marks the copies)
    return img


def _result(probs: np.ndarray, score: float, task: str = "localization") -> DetectorResult:
    return DetectorResult(
        name="d",
        task=task,
        weights_sha256=None,
        score=score,
        threshold=0.5,
        analysed_size=(probs.shape[2], probs.shape[1]),
        seconds=0.0,
        prediction=Prediction(probabilities=probs.astype(np.float32), score=score),
    )


def test_calibrated_score_maps_each_threshold_to_one_half():
    assert calibrated_score(0.2, 0.2) == pytest.approx(0.5)
    assert calibrated_score(0.1, 0.2) == pytest.approx(0.25)
    assert calibrated_score(0.6, 0.2) == pytest.approx(0.75)
    assert calibrated_score(0.0, 0.9) == 0.0 and calibrated_score(1.0, 0.9) == 1.0
    assert calibrated_score(0.37, 0.5) == pytest.approx(0.37)  # identity at 0.5
    xs = np.linspace(0, 1, 101)
    assert np.all(np.diff([calibrated_score(x, 0.3) for x in xs]) > 0)  # ranks kept
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        calibrated_score(0.5, 0.0)
    low = _result(np.zeros((1, 4, 4)), 0.3)
    high = _result(np.zeros((1, 4, 4)), 0.8)
    assert fuse_scores([low, high]) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="no detector"):
        fuse_scores([])


def test_copy_move_roles_win_over_generic_regions():
    generic = np.zeros((6, 6), np.uint8)
    generic[1:5, 1:5] = MANIPULATED
    copy = np.zeros((6, 6), np.uint8)
    copy[2:3, 2:4] = SOURCE
    copy[4:5, 4:6] = TARGET
    for order in ([generic, copy], [copy, generic]):
        out = compose_class_map(order, (6, 6))
        assert out[2, 2] == SOURCE and out[4, 4] == TARGET and out[4, 5] == TARGET
        assert out[1, 1] == MANIPULATED and out[0, 0] == 0
    assert not compose_class_map([], (3, 2)).any()


def test_findings_are_components_with_mean_probability():
    probs = np.zeros((1, 100, 100), np.float32)  # minimum area: 5 pixels
    probs[0, 2:12, 2:12] = 0.9
    probs[0, 20:30, 25:40] = 0.7
    probs[0, 35, 0] = 0.99  # one pixel: under the minimum area
    result = _result(probs, 0.9)
    class_map = np.where(probs[0] >= 0.5, MANIPULATED, 0).astype(np.uint8)
    found = findings_of(result, class_map)
    assert [f["bbox"] for f in found] == [[25, 20, 40, 30], [2, 2, 12, 12]]
    assert [f["area_px"] for f in found] == [150, 100]
    assert found[0]["score"] == pytest.approx(0.7) and found[1]["score"] == pytest.approx(0.9)
    assert {f["kind"] for f in found} == {"manipulated"}
    union_cm = _result(probs, 0.9, task="copy_move")
    assert {f["kind"] for f in findings_of(union_cm, class_map)} == {"copy-move"}


def test_two_detectors_one_report(detectors, tmp_path):
    report = tamperscope.analyze(_image(), detectors=detectors, out_dir=tmp_path)
    assert report.forged and report.model == "copy+dark"
    kinds = sorted(f["kind"] for f in report.findings)
    assert kinds == ["copy-move-source", "copy-move-target", *["manipulated"] * 3]
    manipulated = [f for f in report.findings if f["kind"] == "manipulated"]
    assert [20, 90, 60, 110] in [f["bbox"] for f in manipulated]
    assert all(f["detector"] == "dark" for f in manipulated)
    target = next(f for f in report.findings if f["kind"] == "copy-move-target")
    assert target["bbox"] == [110, 60, 140, 90] and target["area_px"] == 900
    assert report.class_map[65, 115] == TARGET  # marked by both: the copy-move role wins
    assert report.class_map[100, 30] == MANIPULATED
    assert set(report.regions) == {"source", "target", "manipulated"}

    data = json.loads((tmp_path / "image.json").read_text())
    assert data["verdict"] == "forged"
    assert set(data["detection"]) >= {"score", "threshold", "forged"}
    assert [d["name"] for d in data["detectors"]] == ["copy", "dark"]
    assert data["detectors"][1]["tile"] == 64 and data["detectors"][1]["task"] == "localization"
    assert data["findings"] == report.findings
    mask = np.asarray(Image.open(tmp_path / "image_mask.png").convert("RGB"))
    assert tuple(mask[100, 30]) == COLOURS["manipulated"] == (255, 255, 255)
    assert tuple(mask[70, 120]) == COLOURS["target"] and tuple(mask[30, 20]) == COLOURS["source"]
    assert tuple(mask[5, 5]) == (0, 0, 0)


def test_localizer_tiles_at_native_resolution(detectors):
    dark = detectors[1].model
    tamperscope.analyze(_image(), detectors=[detectors[1]])
    assert set(dark.seen) == {(64, 64)} and len(dark.seen) == 3 * 3  # 120x160, 16-px overlaps


def test_a_detector_below_the_decision_adds_no_region(detectors):
    report = tamperscope.analyze(_image(copy=True, dark=False), detectors=detectors)
    assert report.forged
    assert {f["detector"] for f in report.findings} == {"copy"}
    clean = tamperscope.analyze(_image(copy=False, dark=False), detectors=detectors)
    assert not clean.forged and clean.findings == [] and clean.regions == {}
    assert [d.forged for d in clean.detectors] == [False, False]


def test_threshold_applies_to_the_fused_score(detectors):
    image = _image(copy=False, dark=True)
    base = tamperscope.analyze(image, detectors=detectors)
    assert base.forged
    strict = tamperscope.analyze(image, detectors=detectors, threshold=min(1.0, base.score + 1e-3))
    assert not strict.forged and strict.findings == []
    with pytest.raises(ValueError, match="threshold"):
        tamperscope.analyze(image, detectors=detectors, threshold=1.5)


@pytest.mark.parametrize("fmt", ["png", "npy"])
def test_save_maps(detectors, tmp_path, fmt):
    report = tamperscope.analyze(_image(), detectors=detectors, out_dir=tmp_path, save_maps=fmt)
    names = {"map_copy_source", "map_copy_target", "map_dark"}
    assert names <= set(report.outputs)
    for key in names:
        path = tmp_path / f"image_{key}.{fmt}"
        arr = np.load(path) if fmt == "npy" else np.asarray(Image.open(path))
        assert arr.shape == (120, 160)
        if fmt == "npy":
            assert arr.dtype == np.float32 and 0.0 <= arr.min() and arr.max() <= 1.0
    dark = np.load(tmp_path / "image_map_dark.npy") if fmt == "npy" else None
    if dark is not None:
        assert dark[100, 30] > 0.99 and dark[5, 5] < 0.01
    with pytest.raises(ValueError, match="save_maps"):
        tamperscope.analyze(_image(), detectors=detectors, out_dir=tmp_path, save_maps="tif")


def test_detector_list_errors(detectors):
    with pytest.raises(ValueError, match="once"):
        load_detectors([detectors[0], detectors[0]])
    with pytest.raises(ValueError, match="no detector"):
        load_detectors([])
    with pytest.raises(ValueError, match="analyze-pair"):
        load_detectors(["dmac-effnet-lite0"], device="cpu")
    with pytest.raises(KeyError):
        load_detectors(["no-such-model"])


@pytest.fixture
def registered():
    registry.register_model("test-copy", task="copy_move", trainable=False)(
        lambda **kw: CopyModel()
    )
    registry.register_model("test-dark", task="localization", trainable=False)(
        lambda **kw: DarkModel()
    )
    yield
    registry.unregister_model("test-copy")
    registry.unregister_model("test-dark")


def test_cli_detectors_maps_and_failures(tmp_path, registered):
    write_image(tmp_path / "in.png", _image())
    (tmp_path / "bad.png").write_bytes(b"not an image")
    out = tmp_path / "o"
    args = ["analyze", str(tmp_path / "in.png"), str(tmp_path / "bad.png"), "--out", str(out)]
    result = CliRunner().invoke(
        app, [*args, "--detectors", "test-copy,test-dark", "--save-maps", "npy", "--tile", "0"]
    )
    assert result.exit_code == 1, result.output  # the bad file fails, the good one is written
    assert "bad.png" in result.output
    data = json.loads((out / "in.json").read_text())
    assert [d["name"] for d in data["detectors"]] == ["test-copy", "test-dark"]
    assert data["detectors"][1]["tile"] is None  # --tile 0: resized instead
    assert (out / "in_map_test-dark.npy").exists()
    assert "copy-move-target" in result.output
    bad = CliRunner().invoke(app, [*args[:2], "--detectors", "test-copy", "--save-maps", "gif"])
    assert bad.exit_code == 2 and "--save-maps" in bad.output
    unknown = CliRunner().invoke(app, [*args[:2], "--detectors", "test-copy,nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.output
