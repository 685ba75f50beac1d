"""Small photo folders and readers of generated sets for the synth tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tamperscope.io import write_image


def write_photos(folder: Path, count: int = 4, seed: int = 7, tint: int = 0) -> Path:
    """Write ``count`` textured 96 x 72 photos ``photo{i}.png`` into ``folder``.

    Args:
        folder: the folder (created).
        count: number of photos.
        seed: seed of the noise added to the gradients.
        tint: added to the red channel before wrapping to 0-255 (another look, same layout).

    Returns:
        ``folder``.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:72, 0:96]
    for i in range(count):
        base = np.stack([xx * (i + 2) + tint, yy * 3, xx + yy * i], axis=2) % 256
        img = np.clip(base + rng.integers(0, 30, (72, 96, 3)), 0, 255).astype(np.uint8)
        write_image(folder / f"photo{i}.png", img)
    return folder


def manifest_lines(out: Path) -> list[dict]:
    """The records of ``out / "manifest.jsonl"``, in order."""
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def file_tree(out: Path) -> dict[str, bytes]:
    """Every file below ``out`` by relative path, with its bytes."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def assert_seed_reproducible(generate: Callable[..., Any], root: Path, **kwargs: Any) -> None:
    """Assert that ``generate`` writes the same bytes twice with one seed and other images
    with another seed (four samples each, in ``root / "a"``, ``"b"`` and ``"c"``)."""
    generate(root / "a", n=4, seed=11, **kwargs)
    generate(root / "b", n=4, seed=11, **kwargs)
    generate(root / "c", n=4, seed=12, **kwargs)
    a, b, c = file_tree(root / "a"), file_tree(root / "b"), file_tree(root / "c")
    assert a == b
    assert {k: v for k, v in a.items() if k.startswith("images/")} != {
        k: v for k, v in c.items() if k.startswith("images/")
    }
