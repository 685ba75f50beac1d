"""Training-free noise-residual localizer in the spirit of Splicebuster.

D. Cozzolino, G. Poggi, L. Verdoliva, "Splicebuster: a new blind image splicing detector",
IEEE International Workshop on Information Forensics and Security (WIFS) 2015,
doi:10.1109/WIFS.2015.7368565.

A camera leaves a noise pattern whose local statistics are the same over an untouched image;
a region pasted from another image (or re-rendered by an editor) carries other statistics.
Pipeline, on the grey (luminance) image at the resolution it is given:

1. High-pass residual: the third-order linear filter ``[1, -3, 3, -1]`` along rows and along
   columns (Splicebuster's residual), quantised with step ``quantization`` and truncated to
   ``[-truncation, truncation]``.
2. Co-occurrence: each run of four consecutive quantised residuals along the filter's
   direction is one of ``(2T + 1)^4`` codes (625 for T = 2); codes of both directions are
   counted together per cell of ``cell`` x ``cell`` pixels.
3. Features: the histogram of a window of ``window`` x ``window`` cells (sliding by one
   cell), normalised to sum 1 and square-rooted (Hellinger mapping), reduced by PCA to
   ``components`` dimensions.
4. Two-class clustering: a Gaussian mixture with two components (scikit-learn, EM from a
   k-means start, fixed seed) on the window features; the component of the smaller weight is
   taken as the manipulated class, and its posterior is the window's probability.
5. Map: each cell averages the posteriors of the windows that cover it; the cell map is
   interpolated bilinearly to pixels (edge pixels outside the cell grid take the nearest cell).
6. Image score: the Mahalanobis separation ``D`` of the two components' means under their
   weight-averaged covariance, ``s = sigmoid((D - score_center) / score_scale)``; ``s`` is 0
   when the mixture could not be fitted (too small or flat images).

Deviations from the paper:

* Splicebuster reduces the co-occurrence by symmetries and fits a Gaussian for the host and a
  uniform or Gaussian model for the splice with a dedicated EM; here the full histogram goes
  through PCA and scikit-learn's two-Gaussian mixture, and the minority component is the splice.
* Cells and windows are square grids (no per-pixel sliding window), so the map is coarse at
  the scale of one cell; small images get smaller cells (at least 8 cells along the short side,
  cells of at least 4 pixels) and windows of at most as many cells as the grid has, rather than
  being refused.
* The image score (cluster separation, squashed by a fixed logistic) is not part of the paper,
  which gives a map only; its centre and scale were set on synthetic noise splices and are not
  calibrated on a benchmark.

Limits: the map always marks the minority cluster, also in an untouched image (where the two
clusters split content, e.g. textured versus flat areas): read it together with the score.
Resizing destroys the traces, so the model analyses images at their own size
(``analysis_long_side = None``); JPEG compression and heavy denoising weaken them.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from tamperscope.errors import TamperscopeError
from tamperscope.models.base import TamperModel, check_tensor
from tamperscope.models.outputs import LocalizationOutput
from tamperscope.registry import Task, register_model

logger = logging.getLogger(__name__)

__all__ = [
    "MANIPULATED_CLASSES",
    "NoiseInputError",
    "NoiseResidual",
    "NoiseResidualConfig",
    "NoiseResidualResult",
    "cooccurrence_codes",
    "detect_noise_inconsistency",
]

#: The one channel of a binary localization mask (sigmoid).
MANIPULATED_CLASSES: tuple[str, ...] = ("manipulated",)

#: Probabilities are clamped to [PROB_EPS, 1 - PROB_EPS] before logits.
PROB_EPS = 1e-4

#: Fewest windows on which a two-component mixture is fitted.
MIN_WINDOWS = 8


class NoiseInputError(TamperscopeError, ValueError):
    """Bad input or configuration for the noise-residual localizer."""


@dataclass(frozen=True)
class NoiseResidualConfig:
    """Settings of the noise-residual localizer; sizes in pixels of the analysed image.

    Attributes:
        quantization: quantisation step of the residual (grey levels in [0, 255]), > 0.
        truncation: residuals are truncated to [-T, T] after quantisation, 1..3 (codes:
            (2T + 1)^4).
        cell: side of a histogram cell in pixels, >= 4 (smaller for small images, see the
            module docstring).
        window: side of a feature window in cells, >= 1.
        components: PCA dimensions of the features, >= 1.
        score_center: separation D at which the image score is 0.5, > 0.
        score_scale: separation per logit unit of the image score, > 0.
        seed: seed of the k-means start of the mixture (determinism).
    """

    quantization: float = 1.0
    truncation: int = 2
    cell: int = 16
    window: int = 4
    components: int = 8
    score_center: float = 5.5
    score_scale: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.quantization > 0, "quantization must be > 0"),
            (1 <= self.truncation <= 3, "truncation must be in 1..3"),
            (self.cell >= 4, "cell must be >= 4 pixels"),
            (self.window >= 1, "window must be >= 1 cell"),
            (self.components >= 1, "components must be >= 1"),
            (self.score_center > 0, "score_center must be > 0"),
            (self.score_scale > 0, "score_scale must be > 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise NoiseInputError(f"noise-residual: {message}")


@dataclass
class NoiseResidualResult:
    """What :func:`detect_noise_inconsistency` found in one image.

    Attributes:
        probability: (H, W) float32 in [0, 1], probability that a pixel belongs to the
            minority (manipulated) noise class.
        score: image score in [0, 1] (cluster separation squashed, see the module docstring).
        separation: Mahalanobis distance of the two components' means; 0 when not fitted.
        minority_weight: mixture weight of the manipulated component in [0, 0.5]; 0 when not
            fitted.
        cell: cell side in pixels that was used.
    """

    probability: np.ndarray
    score: float
    separation: float
    minority_weight: float
    cell: int


def _check_image(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        got = type(image).__name__ if not isinstance(image, np.ndarray) else image.dtype
        raise NoiseInputError(f"image must be an (H, W, 3) uint8 RGB numpy array, got {got}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise NoiseInputError(f"image must have shape (H, W, 3) (RGB), got {image.shape}")
    return image


def cooccurrence_codes(
    gray: np.ndarray, quantization: float = 1.0, truncation: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Co-occurrence codes of the quantised third-order residual along rows and columns.

    Args:
        gray: (H, W) float32 grey image in [0, 255].
        quantization: quantisation step of the residual, > 0.
        truncation: truncation T of the quantised residual.

    Returns:
        ``(horizontal, vertical)``: (H, W - 6) and (H - 6, W) int64 codes in
        [0, (2T + 1)^4); code ``k`` at (y, x) describes the residuals at x..x+3 (y..y+3),
        i.e. the pixels x..x+6 (y..y+6). Empty arrays when a side is below 7 pixels.
    """
    levels = 2 * truncation + 1

    def codes(g: np.ndarray) -> np.ndarray:  # along the last axis
        if g.shape[-1] < 7:
            return np.zeros(g.shape[:-1] + (0,), np.int64)
        r = g[..., :-3] - 3.0 * g[..., 1:-2] + 3.0 * g[..., 2:-1] - g[..., 3:]
        q = np.clip(np.rint(r / quantization), -truncation, truncation).astype(np.int64)
        q += truncation
        n = q.shape[-1] - 3
        code = q[..., :n]
        for shift in (1, 2, 3):
            code = code * levels + q[..., shift : n + shift]
        return code

    return codes(gray), codes(gray.T).T


def _cell_size(height: int, width: int, cell: int) -> int:
    return max(4, min(cell, min(height, width) // 8))


def _cell_histograms(
    height: int, width: int, cell: int, code_maps: tuple[np.ndarray, ...], n_codes: int
) -> np.ndarray:
    """(gh, gw, n_codes) float64 counts of the codes whose first pixel lies in each cell."""
    gh, gw = height // cell, width // cell
    hist = np.zeros(gh * gw * n_codes, np.float64)
    for codes in code_maps:
        h, w = codes.shape
        hh, ww = min(h, gh * cell), min(w, gw * cell)
        if hh == 0 or ww == 0:
            continue
        rows = np.arange(hh) // cell
        cols = np.arange(ww) // cell
        index = (rows[:, None] * gw + cols[None, :]) * n_codes + codes[:hh, :ww]
        hist += np.bincount(index.ravel(), minlength=hist.size)
    return hist.reshape(gh, gw, n_codes)


def _box_sum(grid: np.ndarray, k: int) -> np.ndarray:
    """Sums over every k x k block of the first two axes (valid positions only)."""
    c = np.cumsum(np.cumsum(grid, axis=0), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)) + ((0, 0),) * (grid.ndim - 2))
    return c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]


def _empty(height: int, width: int, cell: int) -> NoiseResidualResult:
    return NoiseResidualResult(np.zeros((height, width), np.float32), 0.0, 0.0, 0.0, cell)


def _separation(gmm: GaussianMixture) -> float:
    cov = np.einsum("k,kij->ij", gmm.weights_, gmm.covariances_)
    diff = gmm.means_[0] - gmm.means_[1]
    return float(math.sqrt(max(0.0, float(diff @ np.linalg.solve(cov, diff)))))


def detect_noise_inconsistency(
    image: np.ndarray, config: NoiseResidualConfig | None = None
) -> NoiseResidualResult:
    """Map the minority noise class of one image (pipeline of the module docstring).

    Args:
        image: (H, W, 3) uint8 RGB.
        config: settings; default ``NoiseResidualConfig()``.

    Returns:
        A :class:`NoiseResidualResult` with the (H, W) map; an all-zero map and score 0 when
        the image holds fewer than 8 windows, its features do not vary (flat image) or the
        mixture cannot be fitted.

    Raises:
        NoiseInputError: ``image`` is not an (H, W, 3) uint8 array.
    """
    cfg = config or NoiseResidualConfig()
    image = _check_image(image)
    height, width = image.shape[:2]
    cell = _cell_size(height, width, cfg.cell)
    gh, gw = height // cell, width // cell
    k = min(cfg.window, gh, gw)
    if k < 1 or (gh - k + 1) * (gw - k + 1) < MIN_WINDOWS:
        return _empty(height, width, cell)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    n_codes = (2 * cfg.truncation + 1) ** 4
    codes = cooccurrence_codes(gray, cfg.quantization, cfg.truncation)
    cells = _cell_histograms(height, width, cell, codes, n_codes)
    windows = _box_sum(cells, k)
    wh, ww = windows.shape[:2]
    feats = windows.reshape(wh * ww, n_codes)
    feats = np.sqrt(feats / np.maximum(feats.sum(axis=1, keepdims=True), 1.0))
    feats = feats[:, feats.std(axis=0) > 1e-9]
    if feats.shape[1] == 0:
        return _empty(height, width, cell)
    dims = min(cfg.components, feats.shape[1], feats.shape[0] - 1)
    reduced = PCA(n_components=dims, random_state=cfg.seed).fit_transform(feats)
    # The covariance floor follows the features' scale, so that flat areas cannot collapse it.
    floor = max(1e-3 * float(reduced.var(axis=0).mean()), 1e-12)
    gmm = GaussianMixture(
        n_components=2,
        covariance_type="full",
        reg_covar=floor,
        random_state=cfg.seed,
        max_iter=100,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            posterior = gmm.fit(reduced).predict_proba(reduced)
        except ValueError:  # a collapsed covariance: no two noise classes to tell apart
            return _empty(height, width, cell)
    minority = int(np.argmin(gmm.weights_))
    post = posterior[:, minority].reshape(wh, ww)
    # Each cell averages the windows that cover it.
    padded = np.pad(post, k - 1)
    cover = _box_sum(padded, k) / _box_sum(np.pad(np.ones_like(post), k - 1), k)
    cell_map = cv2.resize(
        cover.astype(np.float32), (gw * cell, gh * cell), interpolation=cv2.INTER_LINEAR
    )
    prob = cv2.copyMakeBorder(
        cell_map, 0, height - gh * cell, 0, width - gw * cell, cv2.BORDER_REPLICATE
    )
    separation = _separation(gmm)
    z = (separation - cfg.score_center) / cfg.score_scale
    score = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
    logger.debug("noise-residual: %d windows, separation %.3f", wh * ww, separation)
    return NoiseResidualResult(
        probability=np.clip(prob, 0.0, 1.0).astype(np.float32),
        score=float(score),
        separation=separation,
        minority_weight=float(gmm.weights_[minority]),
        cell=cell,
    )


@register_model(
    "noise-residual",
    task=Task.LOCALIZATION,
    trainable=False,
    not_trainable_reason=(
        "noise-residual is training-free (noise statistics clustered per image); train a "
        "learned localization model instead"
    ),
)
class NoiseResidual(TamperModel):
    """Training-free Splicebuster-style localizer as a model (Cozzolino et al., WIFS 2015).

    The module has no parameters; it runs :func:`detect_noise_inconsistency` on each image of
    the batch on the CPU and returns logits, so that it plugs into the localization inference
    and evaluation. Gradients do not flow through it.

    Args:
        **kwargs: fields of :class:`NoiseResidualConfig`.

    Attributes:
        settings: the :class:`NoiseResidualConfig`.
        classes: ``("manipulated",)``.
        analysis_long_side: ``None``: images are analysed at their own size, since resizing
            destroys the noise traces.

    Raises:
        NoiseInputError: a setting is out of range.
        TypeError: an unknown setting name.
    """

    analysis_long_side = None
    classes = MANIPULATED_CLASSES

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.settings = NoiseResidualConfig(**kwargs)
        self.config: dict[str, Any] = asdict(self.settings)

    def forward(self, image: torch.Tensor) -> LocalizationOutput:
        """Localize noise inconsistencies in a batch.

        Args:
            image: (B, 3, H, W) float32 in [0, 1], RGB (values outside are clipped; the
                detector works on the image rounded to 8 bits).

        Returns:
            ``LocalizationOutput`` with ``mask_logits`` (B, 1, H, W) float32, the logits of
            the manipulated probability clamped to [1e-4, 1 - 1e-4], and ``score_logit`` (B,)
            float32, the logit of the clamped image score, on the input's device.

        Raises:
            NoiseInputError: ``image`` is not a floating (B, 3, H, W) tensor (the message says
                the fix).
        """
        check_tensor(image, ("B", 3, "H", "W"), name="image", error=NoiseInputError)
        clipped = image.detach().float().clamp(0, 1)
        arrays = (clipped * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        maps, logits = [], []
        for arr in arrays:
            result = detect_noise_inconsistency(np.ascontiguousarray(arr), self.settings)
            p = np.clip(result.probability, PROB_EPS, 1.0 - PROB_EPS)
            maps.append(torch.from_numpy(np.log(p) - np.log1p(-p))[None])
            s = min(max(result.score, PROB_EPS), 1.0 - PROB_EPS)
            logits.append(math.log(s / (1.0 - s)))
        return LocalizationOutput(
            mask_logits=torch.stack(maps).to(device=image.device, dtype=torch.float32),
            score_logit=torch.tensor(logits, dtype=torch.float32, device=image.device),
        )

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())
