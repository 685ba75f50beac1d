"""Training-free noise-residual localization (Cozzolino, Poggi, Verdoliva, IEEE WIFS 2015)."""

from tamperscope.models.noise.detector import (
    MANIPULATED_CLASSES,
    NoiseInputError,
    NoiseResidual,
    NoiseResidualConfig,
    NoiseResidualResult,
    cooccurrence_codes,
    detect_noise_inconsistency,
)

__all__ = [
    "MANIPULATED_CLASSES",
    "NoiseInputError",
    "NoiseResidual",
    "NoiseResidualConfig",
    "NoiseResidualResult",
    "cooccurrence_codes",
    "detect_noise_inconsistency",
]
