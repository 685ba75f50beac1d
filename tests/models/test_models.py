"""One tester for every built-in registered model (timm's ``tests/test_models.py``, smp's
``BaseModelTester``): the model contract, output types and shapes, finite values, eval
determinism, gradients, the weights-file round trip and the messages of bad inputs.

What is expected of a model follows from its registered task (``model_info(name).task``) and
its declared attributes (``classes``, ``output_stride``); family tests (``test_doagan.py``,
``test_dmac.py``, ...) hold the science.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import tamperscope
from tamperscope.models.base import PairModel, TamperModel
from tamperscope.models.outputs import (
    UNION_CLASSES,
    BoxOutput,
    CopyMoveOutput,
    LocalizationOutput,
    PairOutput,
)
from tamperscope.registry import Task, create_model, list_models, model_info

#: The models tamperscope ships (tests elsewhere register stand-ins of their own).
BUILTIN = [
    name
    for name in list_models()
    if model_info(name).constructor.__module__.startswith("tamperscope.models.")
]

#: Small constructor kwargs, so that each test takes a fraction of a second on a CPU.
SMALL_KWARGS: dict[str, dict] = {
    "doagan-vgg19": {"aspp_channels": 16, "head_channels": 16},
    "doagan-effnet-lite0": {"aspp_channels": 16, "head_channels": 16},
    "dmac-vgg16": {"aspp_channels": 16},
    "dmac-effnet-lite0": {"aspp_channels": 16},
    "mvss-resnet50": {"num_stages": 2, "fpn_channels": 16, "ppm_channels": 16},
    "mvss-effnet-lite0": {"fpn_channels": 16, "ppm_channels": 16, "edge_channels": 8},
    "keypoint-doagan": {
        "doagan": {"aspp_channels": 16, "head_channels": 16},
        "doagan_long_side": 64,
    },
}

#: Further variants: id -> (name, kwargs on top of the small ones).
VARIANTS: dict[str, tuple[str, dict]] = {
    "doagan-effnet-lite0-union": ("doagan-effnet-lite0", {"num_classes": 1}),
    "mvss-effnet-lite0-edge": ("mvss-effnet-lite0", {"edge_branch": True, "num_stages": 3}),
}

CASES = [pytest.param(name, SMALL_KWARGS.get(name, {}), id=name) for name in BUILTIN] + [
    pytest.param(name, {**SMALL_KWARGS.get(name, {}), **extra}, id=key)
    for key, (name, extra) in VARIANTS.items()
]

OUTPUT_TYPES = {
    Task.COPY_MOVE: CopyMoveOutput,
    Task.LOCALIZATION: LocalizationOutput,
    Task.INPAINTING_BOX: BoxOutput,
    Task.PAIR: PairOutput,
}

#: Input sizes (H, W) in pixels: square, and odd sides that are no multiple of any stride.
SIZES = [(64, 64), (67, 93)]


def _build(name: str, kwargs: dict, seed: int = 0) -> TamperModel:
    torch.manual_seed(seed)
    return create_model(name, **kwargs)


@functools.cache
def _eval_model(name: str, kwargs_json: str) -> TamperModel:
    """One model in eval mode per case, shared by the tests that only run it."""
    return _build(name, json.loads(kwargs_json)).eval()


def _shared(name: str, kwargs: dict) -> TamperModel:
    return _eval_model(name, json.dumps(kwargs, sort_keys=True))


def _inputs(name: str, batch: int, height: int, width: int, seed: int = 0) -> list[torch.Tensor]:
    """The forward arguments: one image, or a probe and a donor for pair models."""
    rng = np.random.default_rng(seed)
    count = 2 if model_info(name).task is Task.PAIR else 1
    return [
        torch.from_numpy(rng.random((batch, 3, height, width), dtype=np.float32))
        for _ in range(count)
    ]


def _tensors(out: object) -> dict[str, torch.Tensor]:
    fields = dataclasses.fields(out)  # type: ignore[arg-type]
    values = {f.name: getattr(out, f.name) for f in fields}
    return {k: v for k, v in values.items() if v is not None}


def _expected_shapes(model: TamperModel, task: Task, batch: int, height: int, width: int):
    grid = (math.ceil(height / model.output_stride), math.ceil(width / model.output_stride))
    mask = (batch, model.num_classes, *grid)
    return {
        Task.COPY_MOVE: {"mask_logits": mask, "score_logit": (batch,)},
        Task.LOCALIZATION: {"mask_logits": mask, "score_logit": (batch,), "edge_logits": mask},
        Task.INPAINTING_BOX: {"score_logit": (batch,), "box": (batch, 4), "mask_logits": mask},
        Task.PAIR: {"probe_logits": mask, "donor_logits": mask},
    }[task]


def test_every_built_in_model_is_tested() -> None:
    assert {
        "doagan-vgg19",
        "doagan-effnet-lite0",
        "dmac-vgg16",
        "dmac-effnet-lite0",
        "keypoint-cmfd",
        "keypoint-doagan",
        "noise-residual",
        "mvss-resnet50",
        "mvss-effnet-lite0",
    } <= set(BUILTIN)


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_model_follows_the_contract(name: str, kwargs: dict) -> None:
    info = model_info(name)
    model = _shared(name, kwargs)
    assert isinstance(model, TamperModel)
    assert info.task in OUTPUT_TYPES
    assert isinstance(model, PairModel) == (info.task is Task.PAIR)
    assert info.trainable or info.not_trainable_reason
    # Mask channels, analysis size and output grid.
    assert model.classes and all(isinstance(c, str) for c in model.classes)
    assert model.num_classes == len(model.classes)
    assert model.union_only == (tuple(model.classes) == UNION_CLASSES)
    assert model.analysis_long_side is None or model.analysis_long_side >= 32
    assert isinstance(model.output_stride, int) and model.output_stride >= 1
    # Normalisation buffers: always there, never saved.
    for buffer in (model.mean, model.std):
        assert buffer.shape == (1, 3, 1, 1) and buffer.dtype == torch.float32
    assert (model.std > 0).all()
    assert not {"mean", "std"} & set(model.state_dict())
    backbone = model.get_backbone()
    assert backbone is None or any(m is backbone for m in model.modules())
    # The config is JSON and rebuilds the same architecture.
    assert json.loads(json.dumps(model.config)) == model.config
    rebuilt = create_model(name, **model.config)
    assert type(rebuilt) is type(model) and rebuilt.config == model.config
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == shapes


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_output_type_shapes_and_values(name: str, kwargs: dict, size) -> None:
    task = model_info(name).task
    model = _shared(name, kwargs)
    with torch.no_grad():
        out = model(*_inputs(name, 2, *size))
    assert isinstance(out, OUTPUT_TYPES[task])
    tensors = _tensors(out)
    expected = _expected_shapes(model, task, 2, *size)
    assert {k: tuple(v.shape) for k, v in tensors.items()} == {
        k: v for k, v in expected.items() if k in tensors
    }
    for key, value in tensors.items():
        assert value.dtype == torch.float32, key
        assert torch.isfinite(value).all(), key


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_eval_is_deterministic(name: str, kwargs: dict) -> None:
    model = _shared(name, kwargs)
    inputs = _inputs(name, 2, 64, 64)
    with torch.no_grad():
        first, second = _tensors(model(*inputs)), _tensors(model(*inputs))
    for key, value in first.items():
        assert torch.equal(value, second[key]), key


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_backward_gives_finite_gradients(name: str, kwargs: dict) -> None:
    model = _build(name, kwargs).train()
    out = _tensors(model(*_inputs(name, 2, 67, 93)))
    if not model_info(name).trainable:
        # Training-free detectors: no gradient flows through the output.
        assert not any(v.requires_grad for v in out.values())
        return
    loss = sum(v.square().mean() for v in out.values())
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert grads
    assert all(g is not None for g in grads.values()), [n for n, g in grads.items() if g is None]
    assert all(torch.isfinite(g).all() for g in grads.values())
    backbone = model.get_backbone()
    if backbone is not None:
        assert any(p.grad.abs().sum() > 0 for p in backbone.parameters() if p.requires_grad)


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_weights_file_round_trip(name: str, kwargs: dict, tmp_path) -> None:
    model = _build(name, kwargs, seed=1).eval()
    path = tmp_path / "model.safetensors"
    save_file(
        model.state_dict(),
        str(path),
        metadata={"model": name, "model_kwargs": json.dumps(model.config)},
    )
    torch.manual_seed(2)  # whatever the loader builds first is not the saved network
    detector = tamperscope.load_model(weights=path, device="cpu")
    loaded = detector.model
    assert detector.name == name and type(loaded) is type(model)
    assert loaded.config == model.config and not loaded.training
    state = loaded.state_dict()
    assert state.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key
    inputs = _inputs(name, 2, 64, 64)
    with torch.no_grad():
        expected, got = _tensors(model(*inputs)), _tensors(loaded(*inputs))
    for key, value in expected.items():
        assert torch.equal(got[key], value), key


PAIR_CASES = [case for case in CASES if model_info(case.values[0]).task is Task.PAIR]


@pytest.mark.parametrize(("name", "kwargs"), PAIR_CASES)
def test_features_of_one_donor_serve_many_probes(name: str, kwargs: dict) -> None:
    model = _shared(name, kwargs)
    probes, donors = _inputs(name, 3, 64, 64)
    donor = donors[:1]
    with torch.no_grad():
        split = model.decode(model.encode(probes), model.encode(donor))
        whole = model(probes, donor.expand(3, -1, -1, -1))
    torch.testing.assert_close(split.probe_logits, whole.probe_logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(split.donor_logits, whole.donor_logits, rtol=1e-4, atol=1e-5)


#: Bad inputs a user hits, made from a good (B, 3, H, W) float tensor, and the fix the
#: message must name.
BAD_INPUTS = {
    "no-batch-axis": (lambda x: x[0], r"add the batch axis: \w+\.unsqueeze\(0\)"),
    "grey": (lambda x: x[:, :1], r"convert grey to RGB: \w+\.repeat\(1, 3, 1, 1\)"),
    "rgba": (lambda x: torch.cat([x, x[:, :1]], 1), r"convert RGBA to RGB: \w+\[:, :3\]"),
    "channels-last": (lambda x: x.permute(0, 2, 3, 1), r"channels last\? use \w+\.permute"),
    "uint8": (lambda x: (x * 255).to(torch.uint8), r"float tensor.*\w+\.float\(\) / 255"),
    "numpy": (lambda x: x.numpy(), r"must be a torch\.Tensor.*torch\.as_tensor"),
}


@pytest.mark.parametrize("bad", BAD_INPUTS)
@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_bad_input_message_says_the_fix(name: str, kwargs: dict, bad: str) -> None:
    model = _shared(name, kwargs)
    spoil, message = BAD_INPUTS[bad]
    good = _inputs(name, 1, 64, 64)
    for position in range(len(good)):  # probe and donor in turn for pair models
        inputs: list = list(good)
        inputs[position] = spoil(good[position])
        with pytest.raises(ValueError, match=message), torch.no_grad():
            model(*inputs)


def test_check_tensor_names_who_expects_what() -> None:
    from tamperscope.models.base import check_tensor

    with pytest.raises(ValueError) as info:
        check_tensor(torch.zeros(3, 8, 8), ("B", 3, "H", "W"), name="probe", owner="DMAC")
    assert str(info.value) == (
        "DMAC: probe must have shape (B, 3, H, W), got (3, 8, 8); add the batch axis: "
        "probe.unsqueeze(0)"
    )
    with pytest.raises(ValueError, match=r"^mask must have shape \(B, H, W\), got \(2, 1, 8, 8\)$"):
        check_tensor(torch.zeros(2, 1, 8, 8), ("B", "H", "W"), name="mask", floating=False)
    check_tensor(torch.zeros(2, 8, 8, dtype=torch.int64), ("B", "H", "W"), name="m", floating=False)
    with pytest.raises(ValueError, match=r"got dtype torch.int64; convert with m\.float\(\)$"):
        check_tensor(torch.zeros(2, 8, 8, dtype=torch.int64), ("B", "H", "W"), name="m")

    class Oops(ValueError):
        pass

    with pytest.raises(Oops, match="got list"):
        check_tensor([1.0], ("B",), name="x", error=Oops)


def test_config_is_captured_from_the_signature() -> None:
    class Tiny(TamperModel):
        classes = ("forged",)

        def __init__(self, width: int = 4, rates: tuple = (1, 2), **extra) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, width, 1)

    model = Tiny(8, scale=2.0)
    assert model.config == {"width": 8, "rates": [1, 2], "scale": 2.0}
    assert model.union_only and model.num_classes == 1
    assert torch.equal(model.normalize(torch.ones(1, 3, 2, 2)), torch.ones(1, 3, 2, 2))
    assert model.get_backbone() is None
