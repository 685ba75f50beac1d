"""The prediction folder format: files, scores, folder iteration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _evaluate_helpers import image_sample
from PIL import Image

from tamperscope.data.base import InMemoryDataset
from tamperscope.errors import ImageReadError
from tamperscope.evaluate import (
    PredictionError,
    PredictionFolder,
    evaluate_predictions,
    folder_predictions,
    load_prediction_file,
)

H, W = 24, 32


def test_prediction_file_formats(tmp_path, rng):
    grey = rng.integers(0, 256, (H, W), dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    np.testing.assert_allclose(load_prediction_file(tmp_path / "g.png"), grey / 255.0, atol=1e-6)

    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[..., 0] = 200  # target
    rgb[..., 1] = 40  # source
    rgb[..., 2] = 255  # ignored
    Image.fromarray(rgb).save(tmp_path / "c.png")
    p = load_prediction_file(tmp_path / "c.png")
    assert p.shape == (3, H, W)
    np.testing.assert_allclose(p[:, 0, 0], [1 - 240 / 255, 40 / 255, 200 / 255], atol=1e-6)

    chw = rng.random((3, H, W)).astype(np.float32)
    np.save(tmp_path / "chw.npy", chw)
    np.save(tmp_path / "hwc.npy", np.moveaxis(chw, 0, 2))
    np.testing.assert_array_equal(load_prediction_file(tmp_path / "chw.npy"), chw)
    np.testing.assert_array_equal(load_prediction_file(tmp_path / "hwc.npy"), chw)

    np.save(tmp_path / "logits.npy", np.full((4, 4), -3.0))
    with pytest.raises(ImageReadError, match="apply a sigmoid or softmax"):
        load_prediction_file(tmp_path / "logits.npy")
    np.save(tmp_path / "four.npy", np.zeros((4, 5, 6)))
    with pytest.raises(ImageReadError, match=r"got shape \(4, 5, 6\)"):
        load_prediction_file(tmp_path / "four.npy")


def test_folder_predictions_resize_scores_and_missing(tmp_path, rng):
    mask = np.zeros((H, W), np.uint8)
    mask[4:12, 4:20] = 1
    samples = [image_sample(n, mask, 1, "binary") for n in ("a", "sub/b", "c")]
    ds = InMemoryDataset(samples, "binary")
    small = (mask[::2, ::2] * 255).astype(np.uint8)  # half size, resized back on scoring
    Image.fromarray(small).save(tmp_path / "a.png")
    (tmp_path / "sub").mkdir()
    np.save(tmp_path / "sub" / "b.npy", mask.astype(np.float32))
    (tmp_path / "scores.csv").write_text("name,score\na,0.25\nsub/b,0.75\n")

    items = list(folder_predictions(ds, tmp_path))
    assert isinstance(items[2], PredictionError) and items[2].name == "c"
    assert "no prediction file c.png or c.npy" in str(items[2])
    r = evaluate_predictions(ds, items)
    rows = {row["name"]: row for row in r["per_image"]}
    assert rows["a"]["score"] == 0.25 and rows["sub/b"]["score"] == 0.75
    assert rows["a"]["f1"] > 0.9 and rows["sub/b"]["f1"] == 1.0
    assert [e["name"] for e in r["errors"]] == ["c"]


def test_scores_json_and_folder_errors(tmp_path):
    (tmp_path / "scores.json").write_text(json.dumps({"a": 0.5}))
    assert PredictionFolder(tmp_path).score("a") == 0.5
    assert PredictionFolder(tmp_path).score("zzz") is None
    (tmp_path / "scores.csv").write_text("name,score\n")
    with pytest.raises(PredictionError, match="both scores.csv and scores.json exist"):
        PredictionFolder(tmp_path)
    (tmp_path / "scores.json").unlink()
    (tmp_path / "scores.csv").write_text("file,prob\na,0.1\n")
    with pytest.raises(PredictionError, match="needs a header with columns name,score"):
        PredictionFolder(tmp_path)
    (tmp_path / "scores.csv").write_text("name,score\na,high\n")
    with pytest.raises(PredictionError, match="line 2: score 'high' is not a number"):
        PredictionFolder(tmp_path)
    (tmp_path / "scores.csv").unlink()
    (tmp_path / "scores.json").write_text("[1, 2]")
    with pytest.raises(PredictionError, match=r"must hold an object \{name: score\}"):
        PredictionFolder(tmp_path)
    (tmp_path / "scores.json").write_text("{oops")
    with pytest.raises(PredictionError, match="not valid JSON"):
        PredictionFolder(tmp_path)
    with pytest.raises(PredictionError, match="prediction folder does not exist"):
        PredictionFolder(tmp_path / "nope")
