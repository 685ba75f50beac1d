"""The one weights loader: tags, composite parts, BatchNorm without statistics, errors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

import tamperscope
from tamperscope.engine.checkpoints import load_checkpoint
from tamperscope.registry import create_model
from tamperscope.weights.batchnorm import disable_bn_running_stats
from tamperscope.weights.loading import WeightsError, build_model, init_from_weights
from tamperscope.weights.weights import get_weight_spec

SMALL = {"aspp_channels": 8, "head_channels": 8, "top_k": 4, "pretrained_backbone": False}


def _save(model, name, path, **meta):
    metadata = {"model": name, "model_kwargs": json.dumps(model.config)}
    metadata.update({k: json.dumps(v) for k, v in meta.items()})
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata)
    return path


@pytest.fixture(scope="module")
def small_doagan():
    torch.manual_seed(0)
    return create_model("doagan-effnet-lite0", **SMALL).eval()


def test_tags_name_each_shipped_weights():
    stage1 = tamperscope.load_model("doagan-effnet-lite0.stage1", device="cpu")
    same = tamperscope.load_model("doagan-effnet-lite0", weights="stage1", device="cpu")
    default = tamperscope.load_model("doagan-effnet-lite0", device="cpu")
    assert (
        stage1.weights_sha256
        == same.weights_sha256
        == get_weight_spec("doagan-effnet-lite0.stage1").sha256
    )
    assert default.weights_sha256 == get_weight_spec("doagan-effnet-lite0.stage2").sha256
    assert stage1.weights_sha256 != default.weights_sha256
    with pytest.raises(KeyError, match=r"shipped for 'doagan-effnet-lite0': .*stage1.*stage2"):
        build_model("doagan-effnet-lite0", "stage9")
    with pytest.raises(WeightsError, match="pass the weights tag once"):
        build_model("doagan-effnet-lite0.stage1", "stage2")
    full = build_model("doagan-effnet-lite0", "doagan-effnet-lite0.stage1")
    assert full.sha256 == stage1.weights_sha256 and full.source == "doagan-effnet-lite0.stage1"
    with pytest.raises(WeightsError, match="shipped weights of model 'dmac-effnet-lite0', not"):
        build_model("doagan-effnet-lite0", "dmac-effnet-lite0.ce1")


def test_composite_default_and_user_part_share_one_mechanism(small_doagan, tmp_path):
    shipped = tamperscope.load_model("keypoint-doagan", device="cpu")
    doagan = tamperscope.load_model("doagan-effnet-lite0", device="cpu")
    for key, value in doagan.model.state_dict().items():
        assert torch.equal(shipped.model.state_dict()["doagan." + key], value), key
    path = _save(small_doagan, "doagan-effnet-lite0", tmp_path / "d.safetensors")
    hybrid = tamperscope.load_model("keypoint-doagan", weights=path, device="cpu")
    assert hybrid.name == "keypoint-doagan" and hybrid.model.config["doagan"]["top_k"] == 4
    for key, value in small_doagan.state_dict().items():
        assert torch.equal(hybrid.model.state_dict()["doagan." + key], value), key
    with pytest.raises(WeightsError, match="holds weights of model 'doagan-effnet-lite0', not"):
        tamperscope.load_model("dmac-effnet-lite0", weights=path, device="cpu")


def test_file_without_batchnorm_statistics_loads_everywhere(tmp_path):
    torch.manual_seed(1)
    model = create_model("doagan-effnet-lite0", **SMALL)
    disable_bn_running_stats(model)
    assert not any("running_mean" in k for k in model.state_dict())
    path = _save(model, "doagan-effnet-lite0", tmp_path / "nobn.safetensors")
    meta_path = tmp_path / "nobn-meta.safetensors"
    _save(model, "doagan-effnet-lite0", meta_path)
    # The exported file records the missing statistics; without the record loading must fail
    # with a message naming the file, not a raw RuntimeError.
    with pytest.raises(WeightsError, match=r"nobn\.safetensors: tensors do not fit"):
        tamperscope.load_model(weights=path, device="cpu")
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        str(meta_path),
        {
            "model": "doagan-effnet-lite0",
            "model_kwargs": json.dumps(model.config),
            "bn_track_running_stats": "false",
        },
    )
    x = torch.rand(1, 3, 64, 64)
    expected = model.eval()(x).mask_logits
    via_api = tamperscope.load_model(weights=meta_path, device="cpu").model
    via_checkpoint = load_checkpoint(meta_path)
    fresh = create_model("doagan-effnet-lite0", **SMALL)
    init_from_weights(fresh, "doagan-effnet-lite0", meta_path)
    for rebuilt in (via_api, via_checkpoint, fresh.eval()):
        assert torch.equal(rebuilt(x).mask_logits, expected)


def test_loader_errors_name_the_problem(tmp_path):
    with pytest.raises(WeightsError, match="none.safetensors: weights file does not exist"):
        build_model(None, tmp_path / "none.safetensors")
    with pytest.raises(WeightsError, match=r"w\.pt: weights file does not exist"):
        build_model("doagan-effnet-lite0", "w.pt")  # a missing file, not a tag
    with pytest.raises(WeightsError, match="ships no trained weights"):
        build_model("doagan-vgg19")
    with pytest.raises(WeightsError, match="name a model"):
        build_model(None, None)
    with pytest.raises(WeightsError, match="holds weights of model 'dmac-effnet-lite0'"):
        init_from_weights(
            create_model("doagan-effnet-lite0", **SMALL),
            "doagan-effnet-lite0",
            get_weight_spec("dmac-effnet-lite0").path,
        )
    with pytest.raises(WeightsError, match="holds weights of model 'dmac-effnet-lite0'"):
        init_from_weights(
            create_model("doagan-effnet-lite0", **SMALL),
            "doagan-effnet-lite0",
            "dmac-effnet-lite0.ce1",
        )
    with pytest.raises(WeightsError, match="composite weights cannot initialise"):
        init_from_weights(torch.nn.Linear(1, 1), "keypoint-doagan", "shipped")
    assert build_model("keypoint-cmfd").sha256 is None  # training-free: nothing to load
