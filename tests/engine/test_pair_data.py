"""The pair training data: sizes, masks, flips shared by the whole pair, errors, readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _engine_helpers import write_generated_set

from _pair_helpers import make_pair_set
from tamperscope.data.base import PairDataset
from tamperscope.engine import TrainingError
from tamperscope.engine.pair_data import (
    ConcatPairDataset,
    PairSubset,
    PairTrainingDataset,
    open_pair_sets,
)
from tamperscope.errors import DatasetError
from tamperscope.types import PairSample


class _Pairs(PairDataset):
    def __init__(self, samples: list[PairSample]) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def names(self) -> list[str]:
        return [s["name"] for s in self.samples]

    def load(self, index: int) -> PairSample:
        return self.samples[index]


def _sample(rng: np.random.Generator, label: int = 1, masks: bool = True) -> PairSample:
    probe = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    donor = rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)
    pm, dm = np.zeros((40, 48), np.uint8), np.zeros((30, 20), np.uint8)
    if label == 1:
        pm[5:20, 4:30], dm[2:12, 3:9] = 255, 255
    return PairSample(
        probe=probe,
        donor=donor,
        probe_mask=pm if masks else None,
        donor_mask=dm if masks else None,
        label=label,
        pair_type="foreground",
        name=f"p{label}",
        probe_path="",
        donor_path="",
    )


def test_pair_pipeline_sizes_masks_and_consistent_flips() -> None:
    rng = np.random.default_rng(0)
    pos, neg = _sample(rng), _sample(rng, label=0, masks=False)
    plain = PairTrainingDataset(_Pairs([pos, neg]), 32, train=True, hflip=0.0)
    flipped = PairTrainingDataset(_Pairs([pos, neg]), 32, train=True, hflip=1.0, vflip=1.0)
    a, b = plain[0], flipped[0]
    assert a["probe"].shape == a["donor"].shape == (3, 32, 32)
    assert a["probe"].dtype == torch.float32 and 0.0 <= float(a["probe"].min()) <= 1.0
    assert a["probe_mask"].dtype == torch.int64
    assert set(a["probe_mask"].unique().tolist()) == {0, 1}
    assert float(a["label"]) == 1.0 and a["name"] == "p1"
    # The same flips hit the probe, the donor and both masks.
    for key in ("probe", "donor", "probe_mask", "donor_mask"):
        assert torch.equal(b[key], a[key].flip(-1).flip(-2)), key
    empty = plain[1]
    assert float(empty["label"]) == 0.0
    assert int(empty["probe_mask"].sum()) == int(empty["donor_mask"].sum()) == 0
    val = PairTrainingDataset(_Pairs([pos]), 32, train=False, hflip=1.0)
    assert torch.equal(val[0]["probe_mask"], a["probe_mask"])  # no flips in validation


def test_pair_pipeline_errors() -> None:
    rng = np.random.default_rng(1)
    no_mask = _sample(rng, masks=False)
    with pytest.raises(DatasetError, match="correlated .* but has no probe mask"):
        PairTrainingDataset(_Pairs([no_mask]), 32)[0]
    unlabelled = _sample(rng)
    unlabelled["label"] = -1
    with pytest.raises(DatasetError, match="has no label"):
        PairTrainingDataset(_Pairs([unlabelled]), 32)[0]
    bad = _sample(rng)
    bad["probe_mask"] = np.zeros((3, 3), np.uint8)
    with pytest.raises(DatasetError, match="probe mask shape"):
        PairTrainingDataset(_Pairs([bad]), 32)[0]
    grey = _sample(rng)
    grey["donor"] = np.zeros((30, 20), np.uint8)
    with pytest.raises(DatasetError, match=r"expected an \(H, W, 3\) uint8 donor"):
        PairTrainingDataset(_Pairs([grey]), 32)[0]
    with pytest.raises(ValueError, match="at least 8 pixels"):
        PairTrainingDataset(_Pairs([grey]), 4)
    with pytest.raises(ValueError, match="hflip must be a probability"):
        PairTrainingDataset(_Pairs([grey]), 32, hflip=2.0)


def test_pair_readers_open_concatenate_and_split(tmp_path: Path) -> None:
    a = make_pair_set(tmp_path / "a", n=3, seed=1)
    b = make_pair_set(tmp_path / "b", n=3, seed=2)
    both = open_pair_sets("generated-pairs", [str(a), str(b)])
    assert isinstance(both, ConcatPairDataset) and len(both) == 6
    assert both[4]["name"] == open_pair_sets("generated-pairs", [str(b)])[1]["name"]
    part = PairSubset(both, [5, 0])
    assert len(part) == 2 and part.names() == [both.names()[5], both.names()[0]]
    single = write_generated_set(tmp_path / "cm", 2)
    with pytest.raises(TrainingError, match="gives single images; pair training needs"):
        open_pair_sets("generated", [str(single)])
