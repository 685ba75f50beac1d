"""torchmetrics classes agree with the functional numpy versions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tamperscope.metrics.modules import ProtocolBF1, ThreeClassF1
from tamperscope.metrics.pixel import (
    ConfusionCounts,
    confusion_counts,
    f1_fixed,
    three_class_labels,
)


def _batch(rng, b=4, h=16, w=20):
    target = np.zeros((b, h, w), np.int64)
    for i in range(b - 1):  # the last image is authentic
        target[i, 2:8, 2:8] = 1
        target[i, 9:15, 10:18] = 2
    probs = rng.random((b, 3, h, w)).astype(np.float32)
    probs /= probs.sum(1, keepdims=True)
    return probs, target


@pytest.mark.parametrize("empty", ["skip", "count"])
def test_protocol_b_f1_matches_functional(rng, empty):
    metric = ProtocolBF1(threshold=0.5, empty=empty)
    expected = []
    for _ in range(2):
        probs, target = _batch(rng)
        union = np.clip(probs[:, 1] + probs[:, 2], 0, 1)
        union[-1] = 0.0 if empty == "count" else union[-1]  # perfect on the authentic image
        metric.update(torch.from_numpy(union), torch.from_numpy(target))
        for p, t in zip(union, target, strict=True):
            v = f1_fixed(p, t, 0.5, empty=empty)
            if v is not None:
                expected.append(v)
    assert metric.compute().item() == pytest.approx(np.mean(expected))
    assert len(expected) == (8 if empty == "count" else 6)


def test_protocol_b_f1_nothing_scored_is_nan():
    metric = ProtocolBF1()
    metric.update(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long))
    assert torch.isnan(metric.compute())


@pytest.mark.parametrize("protocol", ["per_image", "pooled"])
def test_three_class_f1_matches_functional(rng, protocol):
    probs, target = _batch(rng)
    metric = ThreeClassF1(protocol=protocol)
    metric.update(torch.from_numpy(probs), torch.from_numpy(target))
    labels = np.stack([three_class_labels(p) for p in probs])
    out = metric.compute().numpy()
    for c in range(3):
        counts = [confusion_counts(lab == c, t == c) for lab, t in zip(labels, target, strict=True)]
        if protocol == "pooled":
            total = sum(counts, ConfusionCounts())
            assert out[c] == pytest.approx(total.f1())
        else:
            assert out[c] == pytest.approx(np.mean([k.f1() for k in counts if k.positives]))
    # integer label maps give the same result as the probabilities they came from
    again = ThreeClassF1(protocol=protocol)
    again.update(torch.from_numpy(labels.astype(np.int64)), torch.from_numpy(target))
    np.testing.assert_allclose(again.compute().numpy(), out)


def test_module_error_messages():
    with pytest.raises(ValueError, match="protocol must be 'per_image' or 'pooled'"):
        ThreeClassF1(protocol="mean")
    with pytest.raises(ValueError, match="empty-mask rule must be one of"):
        ProtocolBF1(empty="zero")
    metric = ProtocolBF1()
    with pytest.raises(ValueError, match=r"preds must have shape \(2, 4, 4\)"):
        metric.update(torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="apply sigmoid/softmax to logits first"):
        metric.update(torch.full((1, 4, 4), 3.0), torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"target must be \(B, H, W\)"):
        metric.update(torch.zeros(4, 4), torch.zeros(4, 4, dtype=torch.long))
