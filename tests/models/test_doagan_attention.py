"""Dual-order attention layers: affinity, self-suppression, dual softmax, top-k, co-occurrence."""

from __future__ import annotations

import math

import pytest
import torch

from tamperscope.models.layers.attention import (
    DualOrderAttention,
    FirstOrderAttention,
    affinity_matrix,
    co_occurrence_attention,
    co_occurrence_map,
    dual_softmax,
    gaussian_self_suppression,
    topk_scores,
)


def _copied_patch_features(rng, c=32, h=12, w=12):
    """Random features with the 3x3 patch at (1, 1) duplicated at (7, 6)."""
    feats = torch.from_numpy(rng.standard_normal((1, c, h, w)).astype("float32"))
    feats[:, :, 7:10, 6:9] = feats[:, :, 1:4, 1:4]
    pairs = [((1 + dr) * w + 1 + dc, (7 + dr) * w + 6 + dc) for dr in range(3) for dc in range(3)]
    return feats, pairs


def test_affinity_is_cosine_similarity(rng) -> None:
    feats = torch.from_numpy(rng.standard_normal((2, 5, 3, 4)).astype("float32"))
    s = affinity_matrix(feats)
    assert s.shape == (2, 12, 12)
    flat = feats.flatten(2)
    i, j = 3, 10
    expected = torch.nn.functional.cosine_similarity(flat[1, :, i], flat[1, :, j], dim=0)
    torch.testing.assert_close(s[1, i, j], expected)
    torch.testing.assert_close(s, s.transpose(1, 2))
    torch.testing.assert_close(torch.diagonal(s, dim1=1, dim2=2), torch.ones(2, 12))


def test_affinity_rejects_non_4d() -> None:
    with pytest.raises(ValueError, match=r"expects \(B, C, h, w\) features"):
        affinity_matrix(torch.zeros(4, 5, 6))


def test_self_suppression_zero_on_diagonal_and_near_one_far_away() -> None:
    g = gaussian_self_suppression(10, 8, sigma=0.1)
    assert g.shape == (80, 80)
    torch.testing.assert_close(torch.diagonal(g), torch.zeros(80))
    torch.testing.assert_close(g, g.T)
    assert g.min() >= 0 and g.max() <= 1
    # Hand value: positions (0, 0) and (0, 1): dc = 1, sigma_w = 0.8 cells.
    torch.testing.assert_close(g[0, 1], torch.tensor(1 - math.exp(-1 / (2 * 0.8**2))))
    # Opposite corners are far apart: almost no suppression.
    assert g[0, 79] > 0.999


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 4, 0.05), r"h, w >= 1"), ((4, 4, 0.0), r"sigma > 0")],
)
def test_self_suppression_errors(args, match) -> None:
    with pytest.raises(ValueError, match=match):
        gaussian_self_suppression(*args)


def test_duplicated_patch_matches_its_copy(rng) -> None:
    feats, pairs = _copied_patch_features(rng)
    h, w = feats.shape[-2:]
    s = affinity_matrix(feats)
    for i, j in pairs:
        assert s[0, i, j] > 0.999  # identical vectors
    others = s[0].clone()
    others.fill_diagonal_(0)
    for i, j in pairs:
        others[i, j] = others[j, i] = 0
    assert others.abs().max() < 0.8  # random 32-d vectors are far from parallel

    g = gaussian_self_suppression(h, w, sigma=0.05)
    matching = dual_softmax(s * g, 5.0)
    best = matching[0].argmax(dim=-1)
    for i, j in pairs:
        assert best[i] == j and best[j] == i
    torch.testing.assert_close(matching, matching.transpose(1, 2))


def test_topk_scores_shape_and_order(rng) -> None:
    feats, pairs = _copied_patch_features(rng)
    h, w = feats.shape[-2:]
    matching = dual_softmax(affinity_matrix(feats) * gaussian_self_suppression(h, w), 5.0)
    scores = topk_scores(matching, 20, h, w)
    assert scores.shape == (1, 20, h, w)
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    # Channel 0 is each position's best score, read back at (row, col).
    i, j = pairs[4]
    torch.testing.assert_close(scores[0, 0, i // w, i % w], matching[0, i].max())
    # Copied positions have a far stronger best match than the untouched ones.
    copied = torch.zeros(h * w, dtype=torch.bool)
    for i, j in pairs:
        copied[i] = copied[j] = True
    best = scores[0, 0].flatten()
    assert best[copied].min() > best[~copied].max()


@pytest.mark.parametrize(
    ("shape", "k", "match"),
    [
        ((1, 16, 16), 17, r"top_k must be in \[1, 16\]"),
        ((1, 16, 15), 3, r"expects a \(B, 16, 16\)"),
    ],
)
def test_topk_errors(shape, k, match) -> None:
    with pytest.raises(ValueError, match=match):
        topk_scores(torch.zeros(shape), k, 4, 4)


def test_co_occurrence_map_and_attention(rng) -> None:
    matching = torch.from_numpy(rng.random((2, 6, 6)).astype("float32"))
    a2 = co_occurrence_map(matching)
    torch.testing.assert_close(a2.sum(-1), torch.ones(2, 6))
    feats = torch.from_numpy(rng.standard_normal((2, 4, 2, 3)).astype("float32"))
    out = co_occurrence_attention(feats, a2)
    expected = torch.einsum("bij,bcj->bci", a2, feats.flatten(2)).reshape(2, 4, 2, 3)
    torch.testing.assert_close(out, expected)
    with pytest.raises(ValueError, match=r"need a \(2, 6, 6\) co-occurrence map"):
        co_occurrence_attention(feats, a2[:, :5, :5])


def test_dual_order_attention_outputs(rng) -> None:
    feats, _ = _copied_patch_features(rng)
    module = DualOrderAttention(top_k=20, sigma=0.05).eval()
    a1, a2 = module(feats)
    assert a1.shape == (1, 1, 12, 12)
    assert a2.shape == (1, 144, 144)
    assert ((a1 > 0) & (a1 < 1)).all()
    torch.testing.assert_close(a2.sum(-1), torch.ones(1, 144), atol=1e-4, rtol=0)
    assert isinstance(module.first_order, FirstOrderAttention)
    assert module.temperature.requires_grad


def test_dual_order_attention_too_few_positions() -> None:
    with pytest.raises(ValueError, match=r"top_k must be in \[1, 9\]"):
        DualOrderAttention(top_k=20)(torch.zeros(1, 8, 3, 3))
