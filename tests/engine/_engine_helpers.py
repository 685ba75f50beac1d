"""Helpers of the engine tests: a tiny registered copy-move model and tiny generated sets."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from tamperscope.engine.config import ExperimentConfig, config_from_dict
from tamperscope.engine.trainer import train
from tamperscope.io import write_image
from tamperscope.models.base import TamperModel
from tamperscope.models.outputs import COPY_MOVE_CLASSES, UNION_CLASSES, CopyMoveOutput
from tamperscope.registry import list_models, register_model

TINY = "engine-test-tiny"
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


class TinyCopyMove(TamperModel):
    """A few convolutions with BatchNorm and dropout (so the RNG matters), backbone + heads."""

    def __init__(self, num_classes: int = 3, width: int = 8, dropout: float = 0.1) -> None:
        super().__init__()
        self.classes = COPY_MOVE_CLASSES if num_classes == 3 else UNION_CLASSES
        self.backbone = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()
        )
        self.set_normalization([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
        self.drop = nn.Dropout2d(dropout)
        self.mask_head = nn.Conv2d(width, num_classes, 3, padding=1)
        self.score_head = nn.Linear(width, 1)

    def get_backbone(self) -> nn.Module:
        return self.backbone

    def forward(self, image: torch.Tensor) -> CopyMoveOutput:
        x = self.drop(self.backbone((image - self.mean) / self.std))
        return CopyMoveOutput(
            mask_logits=self.mask_head(x), score_logit=self.score_head(x.mean(dim=(2, 3)))[:, 0]
        )


class ThreeChannels(TinyCopyMove):
    """Ignores num_classes: always 3 mask channels."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["num_classes"] = 3
        super().__init__(**kwargs)


THREE_CHANNELS = "engine-test-three-channels"

if TINY not in list_models():

    @register_model(TINY, task="copy_move")
    def _tiny(**kwargs: Any) -> TinyCopyMove:
        return TinyCopyMove(**kwargs)


if THREE_CHANNELS not in list_models():
    register_model(THREE_CHANNELS, task="copy_move")(ThreeChannels)


def make_copy_move(rng: np.random.Generator, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A textured image with a square copied elsewhere; 3-class mask (1 source, 2 target)."""
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    image = (image // 2 + np.linspace(0, 120, size, dtype=np.uint8)[None, :, None]).astype(np.uint8)
    side = size // 4
    sy, sx = rng.integers(0, size // 2 - side, 2)
    ty, tx = rng.integers(size // 2, size - side, 2)
    image[ty : ty + side, tx : tx + side] = image[sy : sy + side, sx : sx + side]
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[sy : sy + side, sx : sx + side] = 1
    mask[ty : ty + side, tx : tx + side] = 2
    return image, mask


def write_image_set(
    root: Path,
    samples: Iterable[tuple[np.ndarray, np.ndarray, int]],
    *,
    kind: str,
    mask_kind: str,
    seed: int,
    originals: bool,
) -> Path:
    """A set of single images in the layout ``tamperscope synth KIND --out root`` writes.

    Args:
        root: the set folder (created).
        samples: ``(image, mask, label)`` per sample, in order.
        kind: the manifest's ``kind``.
        mask_kind: the manifest's ``mask_kind`` (``"three_class"``, ``"binary"``).
        seed: the seed recorded in ``config.json``.
        originals: also write each image as its ``original``.

    Returns:
        ``root``.
    """
    subs = ("images", "masks", "originals") if originals else ("images", "masks")
    for sub in subs:
        (root / sub).mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (image, mask, label) in enumerate(samples):
        name = f"{i:06d}"
        write_image(root / "images" / f"{name}.png", image)
        write_image(root / "masks" / f"{name}.png", mask)
        record: dict[str, Any] = {
            "kind": kind,
            "index": i,
            "name": name,
            "image": f"images/{name}.png",
            "mask": f"masks/{name}.png",
        }
        if originals:
            write_image(root / "originals" / f"{name}.png", image)
            record["original"] = f"originals/{name}.png"
        record.update(label=label, mask_kind=mask_kind)
        lines.append(record)
    (root / "config.json").write_text(json.dumps({"kind": kind, "seed": seed}))
    (root / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return root


def write_generated_set(
    root: Path, n: int, seed: int = 0, negatives: int = 2, size: int = 64
) -> Path:
    """A set in the layout of ``tamperscope synth copy-move --out root``."""
    rng = np.random.default_rng(seed)

    def samples() -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        for i in range(n):
            image, mask = make_copy_move(rng, size)
            label = 1
            if i >= n - negatives:
                mask[:] = 0
                label = 0
            yield image, mask, label

    return write_image_set(
        root, samples(), kind="copy-move", mask_kind="three_class", seed=seed, originals=True
    )


def merge_sections(values: dict[str, Any], sections: dict[str, Any]) -> dict[str, Any]:
    """Update the config mapping ``values`` with ``sections``: mappings update a section,
    other values replace a top-level key.

    Returns:
        ``values``, changed in place.
    """
    for section, extra in sections.items():
        if isinstance(extra, dict):
            values.setdefault(section, {}).update(extra)
        else:
            values[section] = extra
    return values


def tiny_config(train_root: Path, **sections: Any) -> ExperimentConfig:
    """A config for fast CPU runs of the tiny model on a generated set.

    Mappings in ``sections`` update the config's sections, other values (``recipe``) replace
    top-level keys.
    """
    values: dict[str, Any] = {
        "model": {"name": TINY, "kwargs": {"num_classes": 3, "width": 8}},
        "data": {
            "train_roots": [str(train_root)],
            "val_fraction": 0.25,
            "image_size": 32,
            "batch_size": 2,
            "hflip": 0.5,
        },
        "loss": {"localization": [{"name": "weighted_ce", "weight": 1.0}]},
        "doagan": {
            "discriminator_kwargs": {"channels": [8, 16, 1]},
            "warmup_epochs": 0,
            "d_freeze_below": 0.0,
        },
        "train": {
            "epochs": 3,
            "checkpoint_every": 0,
            "log_every": 1,
            "device": "cpu",
            "progress": False,
            "seed": 7,
        },
    }
    return config_from_dict(merge_sections(values, sections))


def train_with_resume(
    cfg: ExperimentConfig, root: Path, *, steps: int, stop: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train ``cfg`` for ``steps`` steps in one go (in ``root / "a"``), and again stopped
    after ``stop`` steps then resumed (in ``root / "b"``).

    Returns:
        The summaries of the run in one go and of the resumed run.
    """
    one_go = train(cfg, root / "a", max_steps=steps)
    first = train(cfg, root / "b", max_steps=stop)
    assert first["step"] == stop
    resumed = train(cfg, root / "b", max_steps=steps, resume=True)
    assert one_go["step"] == resumed["step"] == steps
    return one_go, resumed


def assert_same_checkpoints(
    a: str | Path, b: str | Path, state_keys: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Assert that two checkpoints hold the same tensors and the same ``state_keys`` of their
    state (a run resumed against the same run in one go).

    Args:
        a, b: the checkpoint folders.
        state_keys: the keys of ``state.json`` that must be equal.

    Returns:
        The ``state.json`` content of ``b``.
    """
    for name in ("model", "discriminator", "optimizer"):
        in_a = load_file(str(Path(a) / f"{name}.safetensors"))
        in_b = load_file(str(Path(b) / f"{name}.safetensors"))
        assert in_a.keys() == in_b.keys()
        for key in in_a:
            assert torch.equal(in_a[key], in_b[key]), f"{name}: {key} differs after resume"
    state_a = json.loads((Path(a) / "state.json").read_text())
    state_b = json.loads((Path(b) / "state.json").read_text())
    for key in state_keys:
        assert state_a[key] == state_b[key], key
    return state_b


def bsds500_photos(split: str) -> Path:
    """The BSDS500 photos of ``split`` in the real data beside the checkout
    (``../shared/data``); skips the test when they are absent."""
    photos = SHARED_DATA / "natural" / "bsds500" / split
    if not photos.is_dir():
        pytest.skip(f"real data not available at {photos}")
    return photos
