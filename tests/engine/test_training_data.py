"""The training data of single images: shapes, geometry, flips, attacks, signed distance
maps, readers and held-out splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _engine_helpers import make_copy_move, write_generated_set

from tamperscope.data.base import InMemoryDataset, open_dataset
from tamperscope.engine import DataConfig, TrainingError
from tamperscope.engine.data import (
    ConcatForgeryDataset,
    ForgerySubset,
    TrainingDataset,
    open_image_sets,
    resize_array,
    resolve_attacks,
    resolve_sets,
    signed_distance_maps,
)
from tamperscope.errors import DatasetError
from tamperscope.synth.attacks import AttackSpecError


def _memory_set(rng: np.random.Generator, n: int = 4, size: int = 48) -> InMemoryDataset:
    samples = []
    for i in range(n):
        image, mask = make_copy_move(rng, size)
        samples.append(
            {
                "image": image,
                "mask": mask,
                "mask_kind": "three_class",
                "label": 1,
                "name": f"s{i}",
                "path": "",
            }
        )
    return InMemoryDataset(samples, mask_kind="three_class")


def test_items_have_documented_shapes_and_ranges(generated_set: Path) -> None:
    ds = TrainingDataset(open_dataset("generated", generated_set), 32, signed_distance=True)
    item = ds[0]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert item["mask"].shape == (32, 32) and item["mask"].dtype == torch.int64
    assert set(item["mask"].unique().tolist()) <= {0, 1, 2}
    assert item["label"].dtype == torch.float32 and float(item["label"]) == 1.0
    assert item["sdm"].shape == (3, 32, 32) and item["sdm"].dtype == torch.float32
    negative = ds[len(ds) - 1]
    assert float(negative["label"]) == 0.0 and int(negative["mask"].sum()) == 0


def test_eval_resize_keeps_mask_aligned_with_pixels(rng: np.random.Generator) -> None:
    ds = TrainingDataset(_memory_set(rng, size=64), 32, train=False)
    source = ds.source[0]
    item = ds[0]
    # Downscaling by 2 with nearest neighbour keeps the label of pixel (2i, 2j).
    assert torch.equal(item["mask"], torch.from_numpy(source["mask"][::2, ::2].astype(np.int64)))


def test_crop_mode_upscales_small_images_and_centres_eval_crops(rng: np.random.Generator) -> None:
    small = _memory_set(rng, n=1, size=24)
    item = TrainingDataset(small, 32, train=False, resize_mode="crop")[0]
    assert item["image"].shape == (3, 32, 32)
    big = _memory_set(rng, n=1, size=64)
    centre = TrainingDataset(big, 32, train=False, resize_mode="crop")[0]
    expected = big[0]["image"][16:48, 16:48].astype(np.float32) / 255.0
    assert np.allclose(centre["image"].permute(1, 2, 0).numpy(), expected)


def test_flip_moves_image_and_mask_together(rng: np.random.Generator) -> None:
    src = _memory_set(rng, n=1, size=32)
    plain = TrainingDataset(src, 32, train=True, hflip=0.0)[0]
    flipped = TrainingDataset(src, 32, train=True, hflip=1.0)[0]
    assert torch.equal(flipped["image"], plain["image"].flip(-1))
    assert torch.equal(flipped["mask"], plain["mask"].flip(-1))
    vflipped = TrainingDataset(src, 32, train=True, hflip=0.0, vflip=1.0)[0]
    assert torch.equal(vflipped["mask"], plain["mask"].flip(-2))


def test_augmentation_depends_on_seed_epoch_and_index_only(rng: np.random.Generator) -> None:
    src = _memory_set(rng, n=4, size=64)
    a = TrainingDataset(src, 32, resize_mode="crop", seed=3)
    b = TrainingDataset(src, 32, resize_mode="crop", seed=3)
    assert all(torch.equal(a[i]["image"], b[i]["image"]) for i in range(4))
    before = [a[i]["image"] for i in range(4)]
    a.set_epoch(1)
    after = [a[i]["image"] for i in range(4)]
    assert any(not torch.equal(x, y) for x, y in zip(before, after, strict=True))


def test_attacks_change_pixels_not_masks(rng: np.random.Generator) -> None:
    src = _memory_set(rng, n=1, size=32)
    plain = TrainingDataset(src, 32, hflip=0.0)[0]
    attacked = TrainingDataset(src, 32, hflip=0.0, attacks=["jpeg:20"], attack_prob=1.0)[0]
    assert not torch.equal(plain["image"], attacked["image"])
    assert torch.equal(plain["mask"], attacked["mask"])
    # Bare names draw a strength; resize attacks are brought back to the training size.
    random_strength = TrainingDataset(src, 32, attacks=["noise", "resize:0.5"], attack_prob=1.0)[0]
    assert random_strength["image"].shape == (3, 32, 32)


def test_bad_attack_spec_is_reported() -> None:
    with pytest.raises(AttackSpecError, match="unknown attack 'jpgg'"):
        resolve_attacks(["jpgg:70"])
    with pytest.raises(AttackSpecError, match="jpeg takes values in"):
        resolve_attacks(["jpeg:500"])


def test_signed_distance_maps_are_negative_inside_positive_outside() -> None:
    mask = np.zeros((16, 16), dtype=np.uint8)
    mask[4:10, 4:10] = 1
    mask[12:15, 12:15] = 2
    sdm = signed_distance_maps(mask, 3)
    assert sdm.shape == (3, 16, 16)
    assert sdm[1, 6, 6] < 0 and sdm[1, 0, 0] > 0
    assert sdm[2, 13, 13] <= 0 and sdm[2, 0, 0] > 0
    one = signed_distance_maps(mask, 1)
    assert one.shape == (1, 16, 16) and one[0, 6, 6] < 0 and one[0, 13, 13] <= 0


def test_one_class_pipeline_merges_source_and_target(rng: np.random.Generator) -> None:
    item = TrainingDataset(_memory_set(rng, n=1, size=32), 32, num_classes=1, hflip=0.0)[0]
    assert set(item["mask"].unique().tolist()) == {0, 1}


def test_errors_name_the_problem(rng: np.random.Generator) -> None:
    binary = InMemoryDataset(
        [
            {
                "image": np.zeros((8, 8, 3), np.uint8),
                "mask": None,
                "mask_kind": "binary",
                "label": 1,
                "name": "x",
                "path": "",
            }
        ],
        mask_kind="binary",
    )
    with pytest.raises(DatasetError, match="has binary masks; a 3-class"):
        TrainingDataset(binary, 16)
    with pytest.raises(DatasetError, match="forged but has no ground-truth mask"):
        TrainingDataset(binary, 16, num_classes=1)[0]
    with pytest.raises(ValueError, match="resize_mode must be one of"):
        TrainingDataset(_memory_set(rng, 1), 16, resize_mode="pad")
    with pytest.raises(ValueError, match="hflip must be a probability"):
        TrainingDataset(_memory_set(rng, 1), 16, hflip=2.0)
    with pytest.raises(ValueError, match="at least 8 pixels"):
        TrainingDataset(_memory_set(rng, 1), 4)


def test_resize_array_keeps_mask_labels() -> None:
    mask = np.zeros((10, 6), np.uint8)
    mask[:5] = 2
    out = resize_array(mask, 20, 12, nearest=True)
    assert out.shape == (20, 12) and set(np.unique(out).tolist()) == {0, 2}
    image = np.full((10, 6, 3), 200, np.uint8)
    assert resize_array(image, 5, 3, nearest=False).shape == (5, 3, 3)
    assert resize_array(image, 10, 6, nearest=False) is image


def test_train_roots_are_concatenated_and_a_fraction_held_out(tmp_path: Path) -> None:
    a = write_generated_set(tmp_path / "a", 4, seed=1, negatives=1)
    b = write_generated_set(tmp_path / "b", 4, seed=2, negatives=1)
    both = open_image_sets("generated", [str(a), str(b)])
    assert isinstance(both, ConcatForgeryDataset) and len(both) == 8
    assert both.mask_kind == "three_class"
    cfg = DataConfig(train_roots=[str(a), str(b)], val_fraction=0.25)
    train, val = resolve_sets(
        cfg, 3, None, None, open_sets=open_image_sets, subset=ForgerySubset, synth_command="x"
    )
    assert isinstance(train, ForgerySubset) and isinstance(val, ForgerySubset)
    assert len(train) == 6 and len(val) == 2
    assert sorted(train.indices + val.indices) == list(range(8))
    again, _ = resolve_sets(
        cfg, 3, None, None, open_sets=open_image_sets, subset=ForgerySubset, synth_command="x"
    )
    assert again.indices == train.indices  # the split depends on the seed only
    given, none = resolve_sets(
        DataConfig(val_fraction=0.0),
        3,
        both,
        None,
        open_sets=open_image_sets,
        subset=ForgerySubset,
        synth_command="x",
    )
    assert given is both and none is None
    with pytest.raises(TrainingError, match="no training data: .*'tamperscope synth copy-move'"):
        resolve_sets(
            DataConfig(),
            0,
            None,
            None,
            open_sets=open_image_sets,
            subset=ForgerySubset,
            synth_command="copy-move",
        )


def test_a_root_may_name_its_reader_and_options(tmp_path: Path) -> None:
    from PIL import Image

    gen = write_generated_set(tmp_path / "gen", 3, seed=1)
    removal = tmp_path / "removal"
    for sub in ("inpainted", "original", "mask"):
        (removal / sub).mkdir(parents=True)
    for n in range(2):
        for sub in ("inpainted", "original"):
            Image.fromarray(np.full((24, 24, 3), 40 * n, np.uint8)).save(
                removal / sub / f"c{n}.png"
            )
        Image.fromarray(np.pad(np.full((8, 8), 255, np.uint8), 8)).save(
            removal / "mask" / f"c{n}.png"
        )
    mixed = open_image_sets("generated", [str(gen), f"inpainting-removal:{removal}"])
    assert len(mixed) == 3 + 4
    only = open_image_sets(
        "generated", [str(gen), f"inpainting-removal:{removal}?include_authentic=false"]
    )
    assert len(only) == 3 + 2 and only.load(4)["mask"].sum() == 64
    with pytest.raises(TrainingError, match="does not take these options"):
        open_image_sets("generated", [f"inpainting-removal:{removal}?colour=red"])
    with pytest.raises(TrainingError, match="not KEY=VALUE"):
        open_image_sets("generated", [f"inpainting-removal:{removal}?include_authentic"])
