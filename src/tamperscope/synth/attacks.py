"""Post-processing attacks, for generation and robustness tests.

Attacks are named as in CoMoFoD (D. Tralic, I. Zupancic, S. Grgic, M. Grgic, "CoMoFoD - New
database for copy-move forgery detection", ELMAR 2013): JPEG compression, Gaussian blurring,
noise adding, brightness change, contrast adjustment, colour reduction; plus resizing. They are
written as specs ``name:value``:

============================  ==================================================  ==============
spec                          meaning                                             random range
============================  ==================================================  ==============
``jpeg:75``                   JPEG quality, integer 1-100                         20-100
``blur:1.5``                  Gaussian blur, sigma in pixels (0, 50]              0.5-2
``noise:5``                   additive Gaussian noise, std in grey levels [0,255]  1-10
``brightness:20``             additive change in grey levels [-255, 255]          -32-32
``contrast:0.8``              factor about the mean grey level (0, 10]           0.7-1.3
``colour_reduction:32``       levels per channel, integer 2-256                   32, 64, 128
``resize:0.5``                scale factor of both sides [0.05, 8]                0.5-1.5
============================  ==================================================  ==============

Only ``resize`` changes the image size; masks then follow with nearest-neighbour
interpolation (:func:`resize_mask`). New attacks are added with :func:`register_attack`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from tamperscope.errors import TamperscopeError

AttackFn = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


class AttackSpecError(TamperscopeError, ValueError):
    """An attack spec cannot be parsed or its value is out of range."""


@dataclass(frozen=True)
class AttackInfo:
    """A registered attack.

    Attributes:
        name: registry name.
        fn: ``fn(image (H, W, 3) uint8, value, rng) -> (H', W', 3) uint8``.
        valid: closed range of accepted values.
        random: range (or, when ``choices`` is set, ignored) of randomly drawn values.
        integer: whether values are integers.
        resizes: whether the attack changes the image size.
        choices: discrete values drawn at random instead of ``random``.
    """

    name: str
    fn: AttackFn
    valid: tuple[float, float]
    random: tuple[float, float]
    integer: bool = False
    resizes: bool = False
    choices: tuple[float, ...] = ()


@dataclass(frozen=True)
class Attack:
    """One attack with its strength, e.g. ``Attack("jpeg", 75)``."""

    name: str
    value: float

    @property
    def spec(self) -> str:
        """The ``name:value`` spec (integers without decimals)."""
        return f"{self.name}:{self.value:g}"

    def __str__(self) -> str:
        return self.spec


_ATTACKS: dict[str, AttackInfo] = {}
_ALIASES = {"color_reduction": "colour_reduction", "jpg": "jpeg", "gaussian_blur": "blur"}


def register_attack(
    name: str,
    *,
    valid: tuple[float, float],
    random: tuple[float, float],
    integer: bool = False,
    resizes: bool = False,
    choices: tuple[float, ...] = (),
) -> Callable[[AttackFn], AttackFn]:
    """Decorator registering an attack function under ``name``.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def wrap(fn: AttackFn) -> AttackFn:
        if name in _ATTACKS:
            raise ValueError(f"attack {name!r} is already registered")
        _ATTACKS[name] = AttackInfo(name, fn, valid, random, integer, resizes, choices)
        return fn

    return wrap


def list_attacks() -> list[str]:
    """Names of the registered attacks, sorted."""
    return sorted(_ATTACKS)


def get_attack(name: str) -> AttackInfo:
    """The registered attack ``name`` (aliases such as ``color_reduction`` accepted).

    Raises:
        AttackSpecError: unknown name; the message lists close matches and all names.
    """
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in _ATTACKS:
        close = difflib.get_close_matches(key, list(_ATTACKS) + list(_ALIASES), n=2)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise AttackSpecError(f"unknown attack {name!r}{hint} (known: {', '.join(list_attacks())})")
    return _ATTACKS[key]


def parse_attack(spec: str) -> Attack:
    """Parse one ``name:value`` spec, e.g. ``"jpeg:75"`` or ``"blur:1.5"``.

    Raises:
        AttackSpecError: missing value, non-numeric value, unknown name, or value out of the
            attack's range; the message names the spec and the accepted range.
    """
    text = spec.strip()
    name, sep, raw = text.partition(":")
    if not sep or not raw.strip():
        raise AttackSpecError(f"attack spec {text!r} needs a value, as in 'jpeg:75' or 'blur:1.5'")
    info = get_attack(name)
    try:
        value = float(raw)
    except ValueError:
        raise AttackSpecError(
            f"attack spec {text!r}: value {raw.strip()!r} is not a number"
        ) from None
    low, high = info.valid
    if not low <= value <= high or not np.isfinite(value):
        raise AttackSpecError(
            f"attack spec {text!r}: {info.name} takes values in [{low:g}, {high:g}]"
        )
    if info.integer and value != int(value):
        raise AttackSpecError(f"attack spec {text!r}: {info.name} takes an integer value")
    return Attack(info.name, float(int(value)) if info.integer else value)


def parse_attacks(specs: str | Sequence[str] | None) -> list[Attack]:
    """Parse a comma-separated list (``"jpeg:75,blur:1"``) or a sequence of specs.

    Raises:
        AttackSpecError: as :func:`parse_attack`.
    """
    if specs is None:
        return []
    items = specs.split(",") if isinstance(specs, str) else list(specs)
    return [parse_attack(item) for item in items if item.strip()]


def sample_attacks(
    rng: np.random.Generator,
    probability: float,
    names: Sequence[str] | None = None,
) -> list[Attack]:
    """Draw a random attack: with ``probability``, one attack of ``names``, else none.

    Args:
        rng: the sample's generator.
        probability: chance of attacking, in [0, 1].
        names: attacks to choose from uniformly; None for all registered ones but ``resize``
            (which changes image sizes, so it is opt-in).

    Returns:
        An empty list or one :class:`Attack` with a value drawn from its random range.

    Raises:
        AttackSpecError: an unknown name.
    """
    if names is None:
        pool = [n for n in list_attacks() if not _ATTACKS[n].resizes]
    else:
        pool = [get_attack(n).name for n in names]
    if not pool or rng.random() >= probability:
        return []
    info = _ATTACKS[pool[int(rng.integers(len(pool)))]]
    if info.choices:
        value = float(info.choices[int(rng.integers(len(info.choices)))])
    elif info.integer:
        value = float(rng.integers(int(info.random[0]), int(info.random[1]) + 1))
    else:
        value = round(float(rng.uniform(*info.random)), 3)
    return [Attack(info.name, value)]


def apply_attack(
    image: np.ndarray, attack: Attack, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Apply one attack to an image.

    Args:
        image: (H, W, 3) uint8 RGB.
        attack: the attack.
        rng: generator for random attacks (noise); None uses a fixed seed 0.

    Returns:
        (H', W', 3) uint8 RGB; H', W' differ from H, W only for ``resize``.

    Raises:
        AttackSpecError: unknown attack name.
    """
    info = get_attack(attack.name)
    return info.fn(image, attack.value, rng if rng is not None else np.random.default_rng(0))


def apply_attacks(
    image: np.ndarray,
    attacks: Sequence[Attack],
    rng: np.random.Generator | None = None,
    masks: Sequence[np.ndarray] = (),
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Apply attacks in order; resize the masks along when the image size changes.

    Args:
        image: (H, W, 3) uint8 RGB.
        attacks: attacks applied one after the other.
        rng: generator for random attacks (noise).
        masks: (H, W) arrays (any integer dtype) resized with nearest neighbour so they stay
            aligned with the image.

    Returns:
        (attacked image (H', W', 3) uint8, list of (H', W') masks).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    out_masks = list(masks)
    for attack in attacks:
        image = apply_attack(image, attack, rng)
        out_masks = [resize_mask(m, image.shape[:2]) for m in out_masks]
    return image, out_masks


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a label mask with nearest neighbour (labels are never mixed).

    Args:
        mask: (H, W) integer array.
        shape: (H', W') target size, pixels.

    Returns:
        (H', W') array of the same dtype and values.
    """
    if mask.shape[:2] == tuple(shape):
        return mask
    return cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


def resize_image(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize an RGB image to (H', W') (area averaging when shrinking, bilinear otherwise)."""
    if image.shape[:2] == tuple(shape):
        return image
    shrink = shape[0] * shape[1] < image.shape[0] * image.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(image, (shape[1], shape[0]), interpolation=interp)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


@register_attack("jpeg", valid=(1, 100), random=(20, 100), integer=True)
def _jpeg(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(value)]
    )
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 images
        raise TamperscopeError("JPEG encoding failed")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:  # pragma: no cover - a buffer OpenCV just wrote always decodes
        raise TamperscopeError("JPEG decoding failed")
    return np.ascontiguousarray(decoded[..., ::-1])


@register_attack("blur", valid=(1e-3, 50), random=(0.5, 2.0))
def _blur(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(value), borderType=cv2.BORDER_REFLECT_101)


@register_attack("noise", valid=(0, 255), random=(1.0, 10.0))
def _noise(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(0.0, float(value), size=image.shape).astype(np.float32)
    return _to_uint8(image.astype(np.float32) + noise)


@register_attack("brightness", valid=(-255, 255), random=(-32.0, 32.0))
def _brightness(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    return _to_uint8(image.astype(np.float32) + np.float32(value))


@register_attack("contrast", valid=(1e-3, 10), random=(0.7, 1.3))
def _contrast(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    img = image.astype(np.float32)
    mean = np.float32(img.mean())
    return _to_uint8((img - mean) * np.float32(value) + mean)


@register_attack(
    "colour_reduction", valid=(2, 256), random=(32, 128), integer=True, choices=(32, 64, 128)
)
def _colour_reduction(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    levels = int(value)
    if levels >= 256:
        return image.copy()
    step = 256.0 / levels
    bins = np.floor(image.astype(np.float32) / step)
    return _to_uint8((bins + 0.5) * step - 0.5)


@register_attack("resize", valid=(0.05, 8), random=(0.5, 1.5), resizes=True)
def _resize(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    shape = (max(1, int(round(height * value))), max(1, int(round(width * value))))
    return resize_image(image, shape)
