"""Typed records passed between the readers, generators, models and metrics.

Mask conventions used everywhere in tamperscope:

* 3-class mask: (H, W) uint8 in {0 pristine, 1 source, 2 target} (copy-move: source is the
  region that was copied, target is the pasted copy).
* binary mask: (H, W) uint8 in {0 pristine, 1 tampered}.
* report class map (what ``analyze`` draws): (H, W) uint8 in {0 pristine, 1 copy-move source,
  2 copy-move target, 3 manipulated otherwise (a generic localizer's region, or a copy-move
  region whose role is unknown)}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict

import numpy as np

PRISTINE, SOURCE, TARGET = 0, 1, 2
CLASS_NAMES = ("pristine", "source", "target")
#: Class id of "manipulated, not a copy-move source or target" in a report class map.
MANIPULATED = 3

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
class DetectorResult:
    """What one detector of an ``analyze`` run found in an image.

    Attributes:
        name: registry name of the model.
        task: its task (``"copy_move"``, ``"localization"``, ...).
        weights_sha256: sha256 of its weights file, ``None`` for training-free models.
        score: its image-level forgery probability in [0, 1].
        threshold: its decision threshold on ``score``.
        analysed_size: (width, height) at which it ran, in pixels (the image size when tiled).
        seconds: its inference time, in seconds.
        tile: side (pixels) of the native-resolution tiles it ran on, ``None`` when resized.
        prediction: its probability maps at the image's size (not serialised).
    """

    name: str
    task: str
    weights_sha256: str | None
    score: float
    threshold: float
    analysed_size: tuple[int, int]
    seconds: float
    tile: int | None = None
    prediction: Prediction | None = field(default=None, repr=False, compare=False)

    @property
    def forged(self) -> bool:
        """``score >= threshold``."""
        return self.score >= self.threshold

    def to_dict(self) -> dict:
        """JSON-serialisable summary (without the maps)."""
        return {
            "name": self.name,
            "task": self.task,
            "weights_sha256": self.weights_sha256,
            "score": round(float(self.score), 6),
            "threshold": self.threshold,
            "forged": self.forged,
            "analysed_size": {"width": self.analysed_size[0], "height": self.analysed_size[1]},
            "tile": self.tile,
            "seconds": round(self.seconds, 4),
        }


@dataclass(frozen=True)
class Report:
    """What ``analyze`` tells about one image; :meth:`to_dict` is the JSON report.

    Attributes:
        file: the analysed file ("" for arrays passed directly).
        detectors: what each detector found, in the order they ran.
        version: tamperscope version.
        image_size: (width, height) of the input in pixels.
        score: the fused image-level score in [0, 1]: the largest detector score after
            mapping each detector's threshold to 0.5 (see
            :func:`tamperscope.report.findings.fuse_scores`); a single detector whose
            threshold is 0.5 keeps its own score.
        threshold: decision threshold on ``score``.
        forged: ``score >= threshold``.
        findings: one entry per region found, ``{"kind", "detector", "score", "bbox",
            "area_px"}``: ``kind`` ``"copy-move-source"``, ``"copy-move-target"``,
            ``"copy-move"`` (a copied region whose role is unknown) or ``"manipulated"``;
            ``score`` the mean probability (0-1) of the region's pixels; ``bbox``
            [xmin, ymin, xmax, ymax] in pixels (max exclusive); ``area_px`` in pixels. Only
            detectors whose own score passes the decision contribute; empty when authentic.
        regions: per class of the drawn mask (``"source"``, ``"target"`` when a copy-move
            detector tells them apart, ``"manipulated"`` otherwise): area in pixels, area
            fraction, bounding box and connected components. Empty when authentic.
        seconds: wall time of the analysis (decode to report), in seconds.
        class_map: the drawn mask, (H, W) uint8 report class map (see the module docstring;
            not serialised).
        outputs: paths of files written for this image (mask, overlay, JSON, maps).
    """

    file: str
    detectors: tuple[DetectorResult, ...]
    version: str
    image_size: tuple[int, int]
    score: float
    threshold: float
    forged: bool
    findings: list
    regions: dict
    seconds: float
    class_map: np.ndarray | None = field(default=None, repr=False, compare=False)
    outputs: dict = field(default_factory=dict)

    @property
    def model(self) -> str:
        """The detectors' names joined by ``+``."""
        return "+".join(d.name for d in self.detectors)

    @property
    def weights_sha256(self) -> str | None:
        """sha256 of the weights of a single detector (``None`` with several: see
        ``detectors``)."""
        return self.detectors[0].weights_sha256 if len(self.detectors) == 1 else None

    @property
    def analysed_size(self) -> tuple[int, int]:
        """(width, height) at which the first detector ran."""
        return self.detectors[0].analysed_size

    @property
    def prediction(self) -> Prediction | None:
        """The maps of the first copy-move detector, else of the first detector."""
        for d in self.detectors:
            if d.task == "copy_move":
                return d.prediction
        return self.detectors[0].prediction

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
            "findings": self.findings,
            "regions": self.regions,
            "detectors": [d.to_dict() for d in self.detectors],
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
