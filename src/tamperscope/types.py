"""Typed records passed between the readers, generators, models and metrics.

Mask conventions used everywhere in tamperscope:

* 3-class mask: (H, W) uint8 in {0 pristine, 1 source, 2 target} (copy-move: source is the
  region that was copied, target is the pasted copy).
* binary mask: (H, W) uint8 in {0 pristine, 1 tampered}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict

import numpy as np

PRISTINE, SOURCE, TARGET = 0, 1, 2
CLASS_NAMES = ("pristine", "source", "target")

MaskKind = Literal["three_class", "binary"]


class Sample(TypedDict):
    """One image of a dataset.

    Keys:
        image: (H, W, 3) uint8 RGB.
        mask: (H, W) uint8, 3-class or binary as ``mask_kind`` says; all zeros for authentic
            images; ``None`` when the dataset has no ground truth for this image.
        mask_kind: ``"three_class"`` or ``"binary"``.
        label: image-level label, 1 tampered, 0 authentic.
        name: identifier unique within the dataset (used to match prediction files).
        path: the image file.
    """

    image: np.ndarray
    mask: np.ndarray | None
    mask_kind: MaskKind
    label: int
    name: str
    path: str
    original: NotRequired[np.ndarray | None]
    bbox: NotRequired[tuple[int, int, int, int] | None]
    meta: NotRequired[dict]


class PairSample(TypedDict):
    """A probe/donor pair for constrained splicing detection (CISDL).

    Keys:
        probe, donor: (H, W, 3) uint8 RGB (sizes may differ).
        probe_mask, donor_mask: (H, W) uint8 in {0, 1}; the region shared by the two images.
        label: 1 when the pair is correlated (a region of the donor appears in the probe).
        pair_type: ``"foreground"``, ``"background"`` or ``"negative"`` (DMAC's thirds), or
            ``"unknown"`` for benchmark pairs.
        name: identifier unique within the dataset.
    """

    probe: np.ndarray
    donor: np.ndarray
    probe_mask: np.ndarray | None
    donor_mask: np.ndarray | None
    label: int
    pair_type: str
    name: str
    probe_path: str
    donor_path: str
    meta: NotRequired[dict]


@dataclass(frozen=True)
class Prediction:
    """A single-image detector's output for one image, at the image's own size.

    Attributes:
        probabilities: (C, H, W) float32 in [0, 1]. C = 3: per-pixel probabilities of
            (pristine, source, target), summing to 1. C = 1: probability of forged (copy-move
            models that cannot tell source from target, and binary localization models, whose
            channel is the probability that a pixel is manipulated).
        score: image-level probability of a forgery, in [0, 1].
    """

    probabilities: np.ndarray
    score: float

    @property
    def forgery_map(self) -> np.ndarray:
        """(H, W) float32 in [0, 1]: probability that a pixel is forged (source or target)."""
        if self.probabilities.shape[0] == 1:
            return self.probabilities[0]
        return 1.0 - self.probabilities[0]

    def class_map(self, pixel_threshold: float = 0.5) -> np.ndarray:
        """(H, W) uint8 in {0 pristine, 1 source, 2 target}.

        A pixel is forged when its forgery probability is >= ``pixel_threshold``; forged pixels
        take the more probable of source and target. 1-class predictions mark forged pixels as
        target (2): they cannot tell source from copy.
        """
        forged = self.forgery_map >= pixel_threshold
        out = np.zeros(forged.shape, np.uint8)
        if self.probabilities.shape[0] == 1:
            out[forged] = TARGET
        else:
            is_target = self.probabilities[TARGET] >= self.probabilities[SOURCE]
            out[forged & ~is_target] = SOURCE
            out[forged & is_target] = TARGET
        return out


@dataclass(frozen=True)
class Report:
    """What ``analyze`` tells about one image; :meth:`to_dict` is the JSON report.

    Attributes:
        file: the analysed file ("" for arrays passed directly).
        model: registry name of the model.
        weights_sha256: sha256 of the weights file, or ``None`` for training-free models.
        version: tamperscope version.
        image_size: (width, height) of the input in pixels.
        analysed_size: (width, height) at which the model ran, in pixels.
        score: image-level forgery probability in [0, 1].
        threshold: decision threshold on ``score``.
        forged: ``score >= threshold``.
        regions: per class ("source", "target", or "forged" for 1-class models): area in
            pixels, area fraction, bounding box (xmin, ymin, xmax, ymax; max exclusive) and
            connected components. Empty when the image is judged authentic.
        seconds: wall time of the analysis (decode to report), in seconds.
        prediction: the full prediction (not serialised).
        outputs: paths of files written for this image (mask, overlay, JSON).
    """

    file: str
    model: str
    weights_sha256: str | None
    version: str
    image_size: tuple[int, int]
    analysed_size: tuple[int, int]
    score: float
    threshold: float
    forged: bool
    regions: dict
    seconds: float
    prediction: Prediction | None = field(default=None, repr=False, compare=False)
    outputs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-serialisable report (without the probability maps)."""
        return {
            "file": self.file,
            "verdict": "forged" if self.forged else "authentic",
            "detection": {
                "score": round(float(self.score), 6),
                "threshold": self.threshold,
                "forged": self.forged,
            },
            "regions": self.regions,
            "model": self.model,
            "weights_sha256": self.weights_sha256,
            "tamperscope_version": self.version,
            "image_size": {"width": self.image_size[0], "height": self.image_size[1]},
            "analysed_size": {"width": self.analysed_size[0], "height": self.analysed_size[1]},
            "seconds": round(self.seconds, 4),
            "outputs": self.outputs,
        }


@dataclass(frozen=True)
class PairReport:
    """What ``analyze_pair`` tells about a probe/donor pair; :meth:`to_dict` is the JSON report.

    Attributes:
        probe_file, donor_file: the analysed files ("" for arrays passed directly).
        model: registry name of the model.
        weights_sha256: sha256 of the weights file, ``None`` for an untrained network.
        version: tamperscope version.
        probe_size, donor_size: (width, height) of the inputs in pixels.
        analysed_size: (width, height) at which the model ran, in pixels.
        windows: number of probe windows run (0 without sliding-window analysis).
        score: pair score in [0, 1]: DMAC's rule, the mean over both maps of the average
            probability of the pixels above 0.5 (0 for a map with none).
        threshold: decision threshold on ``score``.
        correlated: ``score >= threshold``: a region of the donor appears in the probe.
        probe_region, donor_region: shared region of each image (pixels with probability
            > 0.5): ``{"area_px", "area_fraction", "bbox": [xmin, ymin, xmax, ymax] (max
            exclusive) or None, "components": [{"area_px", "bbox"}, ...]}``; empty dicts when
            the pair is judged not correlated.
        seconds: wall time of the analysis (decode to report), in seconds.
        probe_probability, donor_probability: (H, W) float32 maps in [0, 1] at each image's
            size (not serialised).
        outputs: paths of files written (report, masks, overlays).
    """

    probe_file: str
    donor_file: str
    model: str
    weights_sha256: str | None
    version: str
    probe_size: tuple[int, int]
    donor_size: tuple[int, int]
    analysed_size: tuple[int, int]
    windows: int
    score: float
    threshold: float
    correlated: bool
    probe_region: dict
    donor_region: dict
    seconds: float
    probe_probability: np.ndarray | None = field(default=None, repr=False, compare=False)
    donor_probability: np.ndarray | None = field(default=None, repr=False, compare=False)
    outputs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-serialisable report (without the probability maps)."""
        return {
            "probe_file": self.probe_file,
            "donor_file": self.donor_file,
            "verdict": "correlated" if self.correlated else "not correlated",
            "detection": {
                "pair_score": round(float(self.score), 6),
                "threshold": self.threshold,
                "correlated": self.correlated,
            },
            "probe_region": self.probe_region,
            "donor_region": self.donor_region,
            "model": self.model,
            "weights_sha256": self.weights_sha256,
            "tamperscope_version": self.version,
            "probe_size": {"width": self.probe_size[0], "height": self.probe_size[1]},
            "donor_size": {"width": self.donor_size[0], "height": self.donor_size[1]},
            "analysed_size": {"width": self.analysed_size[0], "height": self.analysed_size[1]},
            "windows": self.windows,
            "seconds": round(self.seconds, 4),
            "outputs": self.outputs,
        }
