"""Tests of ``keypoint-doagan``: keypoint regions split into source and target by DOA-GAN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from test_keypoint import shifted_copy, textured_image, to_tensor

import tamperscope
from tamperscope.models.base import TamperModel
from tamperscope.models.hybrids.keypoint_doagan import KeypointDOAGAN, source_probability_from_map
from tamperscope.models.keypoint import KeypointInputError, detect_copy_move
from tamperscope.models.outputs import COPY_MOVE_CLASSES, UNION_CLASSES, CopyMoveOutput
from tamperscope.registry import create_model, register_model, unregister_model

HALVES = "test-halves-three-class"


class _Halves(TamperModel):
    """Stand-in 3-class model: target on one half of the image, source on the other."""

    def __init__(self, target_side: str = "right", num_classes: int = 3) -> None:
        super().__init__()
        self.target_side = target_side
        self.classes = COPY_MOVE_CLASSES if num_classes == 3 else UNION_CLASSES

    def forward(self, image: torch.Tensor) -> CopyMoveOutput:
        b, _, h, w = image.shape
        right = torch.arange(w, dtype=torch.float32) >= w / 2
        tgt = right if self.target_side == "right" else ~right
        logits = torch.zeros(b, 3, h, w)
        logits[:, 2] = torch.where(tgt, 3.0, -3.0)
        logits[:, 1] = -logits[:, 2]
        return CopyMoveOutput(mask_logits=logits, score_logit=torch.zeros(b))


@pytest.fixture(scope="module", autouse=True)
def _halves_registered():
    register_model(HALVES, task="copy_move")(_Halves)
    yield
    unregister_model(HALVES)


def test_source_probability_is_the_sigmoid_of_the_mean_difference() -> None:
    ratio = np.zeros((4, 6), np.float32)
    ratio[:, 3:] = 2.0
    ratio[0, 0] = -1.0
    a = np.zeros((4, 6), np.uint8)
    a[:2, :2] = 1  # mean -0.25
    b = np.zeros((4, 6), np.uint8)
    b[:, 4:] = 1  # mean 2.0
    assert source_probability_from_map(ratio, a, b) == pytest.approx(1 / (1 + math.exp(-2.25)))
    assert source_probability_from_map(ratio, b, a) == pytest.approx(1 / (1 + math.exp(2.25)))
    assert source_probability_from_map(ratio, a, np.zeros_like(a)) == 0.5


def test_source_probability_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match=r"must share one \(h, w\) shape"):
        source_probability_from_map(np.zeros((4, 6)), np.zeros((4, 6)), np.zeros((6, 4)))


@pytest.fixture(scope="module")
def forgery() -> tuple[np.ndarray, np.ndarray]:
    # Source box at x 40-110, copy at x 190-260 of a 320-pixel-wide image: copy on the right.
    return shifted_copy(textured_image(1))


@pytest.mark.parametrize(("side", "copy_label"), [("right", 2), ("left", 1)])
def test_doagan_part_decides_which_region_is_the_copy(forgery, side, copy_label) -> None:
    img, gt = forgery
    model = create_model("keypoint-doagan", doagan_model=HALVES, doagan={"target_side": side})
    out = model(to_tensor(img))
    assert isinstance(out, CopyMoveOutput)
    labels = out.mask_logits[0].argmax(0).numpy()
    source_label = 3 - copy_label
    assert np.mean(labels[gt == 2] == copy_label) > 0.8
    assert np.mean(labels[gt == 1] == source_label) > 0.8


def test_union_and_score_are_those_of_the_keypoint_detector(forgery) -> None:
    img, _ = forgery
    model = create_model("keypoint-doagan", doagan_model=HALVES)
    out = model(to_tensor(img))
    prob = torch.softmax(out.mask_logits[0], 0).numpy()
    ref = detect_copy_move(img)
    np.testing.assert_allclose(1 - prob[0], 1 - ref.three_class_prob[0], atol=1e-3)
    score = torch.sigmoid(out.score_logit[0]).item()
    assert score == pytest.approx(ref.score, abs=1e-3)
    assert model.config["doagan_model"] == HALVES and "min_cluster_matches" in model.config


def test_image_without_copies_gives_an_empty_mask() -> None:
    model = create_model("keypoint-doagan", doagan_model=HALVES)
    out = model(to_tensor(textured_image(7)))
    assert (out.mask_logits[0].argmax(0) == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"doagan": {"num_classes": 1}}, KeypointInputError, r"has classes \('forged',\)"),
        ({"doagan_long_side": 16}, KeypointInputError, "doagan_long_side must be >= 32"),
        (
            {"doagan_model": "keypoint-cmfd"},
            KeypointInputError,
            "must name a learned 3-class copy-move model",
        ),
        ({"doagan_model": "doagan-nope"}, KeyError, "doagan-nope"),
        ({"min_cluster_matches": 0}, KeypointInputError, "min_cluster_matches"),
    ],
)
def test_bad_settings_raise_with_message(kwargs, error, match) -> None:
    kwargs = {"doagan_model": HALVES, **kwargs}
    with pytest.raises(error, match=match):
        KeypointDOAGAN(**kwargs)


def test_bad_tensor_raises_the_detector_error() -> None:
    # The messages are checked for every model in test_models.py; here the type.
    model = create_model("keypoint-doagan", doagan_model=HALVES)
    with pytest.raises(KeypointInputError, match=r"image\.float\(\) / 255"):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


def test_shipped_hybrid_names_the_copy_on_unseen_photos(tmp_path) -> None:
    """scikit-image photos, Normal-group copy-moves (never seen in training).

    Measured: of the 12 forgeries the keypoint part finds 9; the DOA-GAN part names the copy
    correctly in all 9 (the stage-1 DOA-GAN weights: 8, and 1 swapped). The keypoint
    detector's own rule names the copy in 5 (rotated or scaled copies) and opts out in 4.
    """
    from tamperscope.data.base import open_dataset
    from tamperscope.synth.generate import generate_copy_move

    generate_copy_move(
        tmp_path / "cm",
        n=12,
        seed=5,
        images="skimage",
        regions="random",
        groups="Normal",
        max_side=320,
        negatives=0.0,
    )
    ds = open_dataset("generated", tmp_path / "cm")
    detector = tamperscope.load_model("keypoint-doagan", device="cpu")
    assert detector.long_side is None
    right = swapped = 0
    for i in range(len(ds)):
        sample = ds[i]
        labels = tamperscope.analyze(sample["image"], model=detector).prediction.probabilities
        labels = labels.argmax(0)
        truth = sample["mask"]
        right += int(np.mean(labels[truth == 2] == 2) > 0.5)
        swapped += int(np.mean(labels[truth == 1] == 2) > 0.5)
    assert right >= 7
    assert swapped <= 2


def test_a_doagan_weights_file_loads_into_the_hybrid(tmp_path) -> None:
    from typer.testing import CliRunner

    from tamperscope.cli import app
    from tamperscope.errors import TamperscopeError
    from tamperscope.io import write_image
    from tamperscope.weights.weights import get_weight_spec

    path = get_weight_spec("doagan-effnet-lite0").path  # any file from 'tamperscope train'
    detector = tamperscope.load_model("keypoint-doagan", weights=path, device="cpu")
    assert detector.name == "keypoint-doagan" and detector.long_side is None
    assert detector.model.doagan_long_side == 256  # the file's analysis size
    shipped = tamperscope.load_model("keypoint-doagan", device="cpu").model.state_dict()
    for key, value in detector.model.state_dict().items():
        assert torch.equal(value, shipped[key]), key
    # Without a model name the file's own model is built, as before.
    assert tamperscope.load_model(weights=path, device="cpu").name == "doagan-effnet-lite0"
    with pytest.raises(TamperscopeError, match="holds weights of model 'doagan-effnet-lite0'"):
        tamperscope.load_model("dmac-effnet-lite0", weights=path, device="cpu")

    img, _ = shifted_copy(textured_image(1))
    write_image(tmp_path / "copy.png", img)
    result = CliRunner().invoke(
        app,
        ["analyze", str(tmp_path / "copy.png"), "--model", "keypoint-doagan"]
        + ["--weights", str(path), "--out", str(tmp_path / "o"), "--device", "cpu"],
    )
    assert result.exit_code == 0, result.output
    report = (tmp_path / "o" / "copy.json").read_text()
    assert '"keypoint-doagan"' in report


def test_the_trainer_refuses_the_hybrid(tmp_path) -> None:
    from tamperscope.engine import Trainer
    from tamperscope.engine.config import config_from_dict
    from tamperscope.engine.trainer import TrainingError
    from tamperscope.synth.generate import generate_copy_move

    root = tmp_path / "set"
    generate_copy_move(root, n=4, seed=0, images="skimage", regions="random", max_side=64)
    cfg = config_from_dict(
        {
            "model": {"name": "keypoint-doagan", "kwargs": {"doagan_model": HALVES}},
            "data": {"train_roots": [str(root)], "val_fraction": 0.5, "batch_size": 1},
            "train": {"device": "cpu", "progress": False},
        }
    )
    with pytest.raises(TrainingError, match="not trained as a whole: train its DOA-GAN part"):
        Trainer(cfg, tmp_path / "run")
