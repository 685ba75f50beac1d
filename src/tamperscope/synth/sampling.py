"""Sampling of forgery parameters, kept apart from rendering.

Everything random about a synthetic forgery is drawn here from a ``numpy.random.Generator``;
the rendering modules (:mod:`~tamperscope.synth.geometry`, :mod:`~tamperscope.synth.blending`,
...) are deterministic functions of the drawn values.

The transformation model follows the training-data generator of DMAC: Y. Liu, X. Zhu, X. Zhao,
Y. Cao, "Adversarial Learning for Constrained Image Splicing Detection and Localization based
on Atrous Convolution", IEEE TIFS 2019 (DOI 10.1109/TIFS.2019.2902826; first described for
DMVN, Y. Wu, W. Abd-Almageed, P. Natarajan, "Deep Matching and Validation Network", ACM MM
2017). A region is shifted anywhere in the image and, each with probability 0.5, rotated by
U(-30, 30) degrees, scaled by U(0.5, 4), changed in luminance by U(-32, 32) grey levels
(additive, clipped) and deformed (width factor) by U(0.5, 2).

Area groups follow the same works: Difficult (1-10 % of the image), Normal (10-25 %) and Easy
(25-50 %); intervals are closed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tamperscope.errors import TamperscopeError

#: Transformation families besides the shift, in the order they are drawn.
GEOMETRIC_FAMILIES = ("rotation", "scale", "luminance", "deformation")

#: Values accepted by ``transform`` options: ``random`` is DMAC's sampling (shift plus each
#: other family with probability 0.5); the others force one family for test sets.
TRANSFORM_FAMILIES = (
    "random",
    "raw",
    "shift",
    "rotation",
    "scale",
    "luminance",
    "deformation",
    "combination",
)

ROTATION_RANGE = (-30.0, 30.0)  # degrees
SCALE_RANGE = (0.5, 4.0)
LUMINANCE_RANGE = (-32.0, 32.0)  # grey levels, additive
DEFORMATION_RANGE = (0.5, 2.0)  # width factor


@dataclass(frozen=True)
class AreaGroup:
    """A range of region areas, as a fraction of the image area (closed interval).

    Attributes:
        name: ``"Difficult"``, ``"Normal"`` or ``"Easy"``.
        low: smallest area fraction, in [0, 1].
        high: largest area fraction, in [0, 1].
    """

    name: str
    low: float
    high: float

    def contains(self, fraction: float) -> bool:
        """Whether ``fraction`` (region area / image area) lies in ``[low, high]``."""
        return self.low <= fraction <= self.high

    @property
    def range(self) -> tuple[float, float]:
        """``(low, high)``."""
        return (self.low, self.high)


AREA_GROUPS: dict[str, AreaGroup] = {
    "Difficult": AreaGroup("Difficult", 0.01, 0.10),
    "Normal": AreaGroup("Normal", 0.10, 0.25),
    "Easy": AreaGroup("Easy", 0.25, 0.50),
}


def parse_groups(groups: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Validate area-group names (case-insensitive).

    Args:
        groups: comma-separated names (``"Difficult,Normal"``), a sequence of names, or None
            for all three groups.

    Returns:
        Canonical names in the order given, without duplicates.

    Raises:
        TamperscopeError: an unknown group name, or no group at all.
    """
    if groups is None:
        return tuple(AREA_GROUPS)
    items = groups.split(",") if isinstance(groups, str) else list(groups)
    canonical = {name.lower(): name for name in AREA_GROUPS}
    out: list[str] = []
    for item in items:
        key = item.strip().lower()
        if not key:
            continue
        if key not in canonical:
            raise TamperscopeError(
                f"unknown area group {item.strip()!r}; choose from {', '.join(AREA_GROUPS)}"
            )
        if canonical[key] not in out:
            out.append(canonical[key])
    if not out:
        raise TamperscopeError(f"no area group given; choose from {', '.join(AREA_GROUPS)}")
    return tuple(out)


def sample_group(rng: np.random.Generator, groups: tuple[str, ...]) -> AreaGroup:
    """Draw one of ``groups`` uniformly."""
    return AREA_GROUPS[groups[int(rng.integers(len(groups)))]]


@dataclass(frozen=True)
class TransformParams:
    """The transformation applied to a copied region.

    Attributes:
        angle: rotation in degrees, counter-clockwise as displayed; 0 when not applied.
        scale: isotropic scale factor; 1 when not applied.
        deformation: extra factor on the width (x axis) after scaling; 1 when not applied.
        luminance: additive change of every channel, in grey levels (result clipped to
            [0, 255]); 0 when not applied.
        shift: True when the copy is placed anywhere in the target image; False when it
            stays where the source region is (as close as the target image's size allows).
        applied: names of the families applied (``"shift"`` included when ``shift``).
    """

    angle: float = 0.0
    scale: float = 1.0
    deformation: float = 1.0
    luminance: float = 0.0
    shift: bool = True
    applied: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_rigid_copy(self) -> bool:
        """True when the region's pixels are copied without resampling."""
        return self.angle == 0.0 and self.scale == 1.0 and self.deformation == 1.0

    @property
    def area_factor(self) -> float:
        """Ratio of the transformed region's area to the source region's area."""
        return self.scale * self.scale * self.deformation

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (``applied`` as a list)."""
        d = asdict(self)
        d["applied"] = list(self.applied)
        return d


def sample_transform(
    rng: np.random.Generator, family: str = "random", probability: float = 0.5
) -> TransformParams:
    """Draw the transformation of one copied region (DMAC's generator).

    Args:
        rng: the sample's generator.
        family: one of :data:`TRANSFORM_FAMILIES`. ``random``: shift anywhere, and each of
            rotation, scale, luminance, deformation independently with ``probability``.
            ``raw``: same position, no change. ``shift``: random position only. ``rotation``,
            ``scale``, ``luminance``, ``deformation``: that family only, at the source
            position. ``combination``: shift plus two to four of the other families at once.
        probability: chance of each non-shift family under ``random``, in [0, 1].

    Returns:
        The drawn :class:`TransformParams` (ranges in the module docstring).

    Raises:
        TamperscopeError: unknown ``family``.
    """
    if family not in TRANSFORM_FAMILIES:
        raise TamperscopeError(
            f"unknown transform {family!r}; choose from {', '.join(TRANSFORM_FAMILIES)}"
        )
    if family == "random":
        chosen = [f for f in GEOMETRIC_FAMILIES if rng.random() < probability]
        shift = True
    elif family == "raw":
        chosen, shift = [], False
    elif family == "shift":
        chosen, shift = [], True
    elif family == "combination":
        k = int(rng.integers(2, len(GEOMETRIC_FAMILIES) + 1))
        picked = set(rng.choice(len(GEOMETRIC_FAMILIES), size=k, replace=False).tolist())
        chosen = [f for i, f in enumerate(GEOMETRIC_FAMILIES) if i in picked]
        shift = True
    else:
        chosen, shift = [family], False
    angle = float(rng.uniform(*ROTATION_RANGE)) if "rotation" in chosen else 0.0
    scale = float(rng.uniform(*SCALE_RANGE)) if "scale" in chosen else 1.0
    luminance = float(rng.uniform(*LUMINANCE_RANGE)) if "luminance" in chosen else 0.0
    deformation = float(rng.uniform(*DEFORMATION_RANGE)) if "deformation" in chosen else 1.0
    applied = (("shift",) if shift else ()) + tuple(chosen)
    return TransformParams(angle, scale, deformation, luminance, shift, applied)


def is_negative(index: int, fraction: float) -> bool:
    """Whether sample ``index`` is a pristine (negative) sample.

    Negatives are spread evenly: among the first ``n`` samples there are exactly
    ``floor(n * fraction)`` of them, and the decision depends on ``index`` alone.

    Args:
        index: sample index, >= 0.
        fraction: share of negatives, in [0, 1].
    """
    if fraction <= 0.0:
        return False
    return math.floor((index + 1) * fraction + 1e-9) > math.floor(index * fraction + 1e-9)


def validate_fraction(value: float, what: str) -> float:
    """Check that an option is a fraction in [0, 1].

    Raises:
        TamperscopeError: ``value`` is outside [0, 1]; the message names ``what``.
    """
    if not 0.0 <= float(value) <= 1.0:
        raise TamperscopeError(f"{what} must be between 0 and 1, got {value}")
    return float(value)
