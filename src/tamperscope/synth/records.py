"""Manifest and file pieces shared by the single-image set generators.

A sample of a copy-move, splicing or inpainting set has an image, a mask and an original;
its manifest record starts with the same fields and its attacks are applied the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tamperscope.synth.attacks import Attack, apply_attacks, resize_image


def image_record(index: int, kind: str, seed: int, image_suffix: str = "png") -> dict[str, Any]:
    """The leading manifest fields of sample ``index``.

    Args:
        index: sample index; the sample's name is its six-digit form.
        kind: the set kind (``"copy-move"``, ``"splice"``, ``"inpainting"``).
        seed: the set's base seed.
        image_suffix: file suffix of the forged image.

    Returns:
        ``index``, ``name``, ``kind``, ``seed`` and the ``image``, ``mask`` and ``original``
        paths, in that order.
    """
    name = f"{index:06d}"
    return {
        "index": index,
        "name": name,
        "kind": kind,
        "seed": seed,
        "image": f"images/{name}.{image_suffix}",
        "mask": f"masks/{name}.png",
        "original": f"originals/{name}.png",
    }


def attack_sample(
    image: np.ndarray,
    mask: np.ndarray,
    original: np.ndarray,
    attacks: list[Attack],
    rng: np.random.Generator,
    params: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``attacks`` to a sample and record them in ``params["attacks"]``.

    Args:
        image: the forged (or negative) image.
        mask: its mask; geometric attacks (``resize``) change it along.
        original: the image before the forgery, resized to the attacked image's size.
        attacks: attacks in order.
        rng: the sample's generator.
        params: the manifest's ``params``, updated in place.

    Returns:
        ``(image, mask, original)`` after the attacks.
    """
    image, (mask,) = apply_attacks(image, attacks, rng, masks=[mask])
    params["attacks"] = [a.spec for a in attacks]
    return image, mask, resize_image(original, image.shape[:2])
