"""Evaluation of localization models: the CLI scores the noise baseline on a generated set,
a model's evaluation equals scoring its maps from a prediction folder, and 1-class folders
still score as copy-move."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tamperscope.api import load_model
from tamperscope.cli import app
from tamperscope.data.base import open_dataset
from tamperscope.evaluate import (
    LocalizationAccumulator,
    LocalizationSummary,
    evaluate,
    evaluation_for,
    model_predictions,
    predict_localization_sample,
    task_for_dataset,
)
from tamperscope.registry import Task
from tamperscope.synth import generate_copy_move


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("locset") / "set"
    generate_copy_move(root, n=4, seed=0, images="skimage", negatives=0.5, max_side=160)
    return root


def test_the_cli_scores_the_noise_baseline(generated, tmp_path):
    out = tmp_path / "out"
    args = ["evaluate", "--dataset", "generated", "--root", str(generated), "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--model", "noise-residual"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["model"]["name"] == "noise-residual"
    assert metrics["settings"]["model"]["long_side"] is None
    pixel = metrics["pixel"]["union"]
    assert 0.0 <= pixel["per_image"]["f1"] <= 1.0
    conv = metrics["f1_conventions"]
    assert conv["fixed_threshold"]["per_image"] == pixel["per_image"]["f1"]
    assert 0.0 < conv["all_forged_reference"]["per_image"] <= 1.0
    image = metrics["image"]
    for key in ("accuracy", "sensitivity", "specificity", "f1", "auc", "gmean"):
        assert key in image, key
    assert image["n_tampered"] == 2 and image["n_authentic"] == 2
    assert {"threshold", "g_mean"} <= set(image["gmean"])
    assert metrics["combined_f1"] is not None
    assert "(localization)" in res.output
    for row in ("pixel f1", "F1 all-forged reference", "image specificity", "G-mean threshold"):
        assert row in res.output, row
    with open(out / "per_image.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 4


def test_a_model_equals_its_maps_in_a_prediction_folder(generated, tmp_path):
    ds = open_dataset("generated", generated)
    detector = load_model("noise-residual", device="cpu")
    folder = tmp_path / "pred"
    folder.mkdir()
    scores = {}
    for item in model_predictions(ds, detector):
        sample, prob, score = item  # type: ignore[misc]
        assert prob.ndim == 2 and prob.dtype == np.float32
        np.save(folder / f"{sample['name']}.npy", prob)
        scores[sample["name"]] = score
    (folder / "scores.json").write_text(json.dumps(scores))

    by_model = evaluate(ds, detector)
    assert by_model.task is Task.LOCALIZATION
    assert isinstance(by_model.summary, LocalizationSummary)
    as_localization = evaluate(ds, folder, task="localization")
    as_copy_move = evaluate(ds, folder)  # a folder on single images reads as copy-move
    assert as_copy_move.task is Task.COPY_MOVE
    expected = by_model.to_dict()
    for result in (as_localization, as_copy_move):
        got = result.to_dict()
        for key in ("pixel", "f1_conventions", "image", "combined_f1", "counts"):
            assert got[key] == expected[key], key


def test_the_built_in_registration():
    evaluation = evaluation_for(Task.LOCALIZATION)
    assert evaluation.accumulator is LocalizationAccumulator
    assert evaluation.predict is predict_localization_sample
    assert not evaluation.default


def test_tiled_evaluation_records_the_tiles(generated):
    ds = open_dataset("generated", generated)
    result = evaluate(ds, load_model("noise-residual", device="cpu"), tile=96, overlap=16)
    assert result.to_dict()["settings"]["model"] == {
        "name": "noise-residual",
        "weights_sha256": None,
        "long_side": None,
        "tile": 96,
        "overlap": 16,
    }
    assert task_for_dataset(ds) is Task.COPY_MOVE


def test_the_cli_tiles_a_localizer_and_refuses_tiles_elsewhere(generated, tmp_path):
    args = ["evaluate", "--dataset", "generated", "--root", str(generated)]
    res = CliRunner().invoke(
        app, [*args, "--out", str(tmp_path / "t"), "--model", "noise-residual", "--tile", "96"]
    )
    assert res.exit_code == 0, res.output
    model = json.loads((tmp_path / "t" / "metrics.json").read_text())["settings"]["model"]
    assert model["tile"] == 96 and model["overlap"] is None
    res = CliRunner().invoke(
        app, [*args, "--out", str(tmp_path / "c"), "--model", "keypoint-cmfd", "--tile", "96"]
    )
    assert res.exit_code == 2 and "--tile needs a localization --model" in res.output
