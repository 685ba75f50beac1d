"""The Python API: :func:`load_model`, :func:`load_detectors`, :func:`analyze`,
:func:`analyze_batch`, :func:`analyze_pair`.

The CLI and the web service import inference from here only. Scoring a model on a dataset is
:func:`tamperscope.evaluate.evaluate`; the files written per image or pair are
:mod:`tamperscope.report.writers`.

Example:
    >>> import tamperscope
    >>> report = tamperscope.analyze("photo.jpg")          # doctest: +SKIP
    >>> report.forged, [f["kind"] for f in report.findings]  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import numpy as np
import torch

from tamperscope.errors import TamperscopeError
from tamperscope.inference.copy_move import predict_copy_move
from tamperscope.inference.localization import predict_localization
from tamperscope.inference.pairs import PAIR_SIZE, predict_pair, probe_windows, uses_sliding
from tamperscope.io import IMAGE_EXTENSIONS, ImageSource, read_image, source_name
from tamperscope.models.base import TamperModel
from tamperscope.registry import Task, model_task
from tamperscope.report.findings import (
    compose_class_map,
    detector_class_map,
    findings_of,
    fuse_scores,
    passes,
)
from tamperscope.report.masks import region_summary
from tamperscope.report.writers import shared_region, write_outputs, write_pair_outputs
from tamperscope.types import DetectorResult, PairReport, Report
from tamperscope.version import __version__
from tamperscope.weights.loading import build_model

#: The copy-move model, and the model ``load_model`` builds when none is named.
DEFAULT_MODEL = "keypoint-doagan"

#: The detectors ``analyze`` runs when neither a model nor detectors are named: the copy-move
#: detector and the generic manipulation localizer.
DEFAULT_DETECTORS: tuple[str, ...] = (DEFAULT_MODEL, "mvss-effnet-lite0")

#: Tasks ``analyze`` runs on a single image.
SINGLE_IMAGE_TASKS = (Task.COPY_MOVE, Task.LOCALIZATION)

#: The model ``analyze_pair`` uses when none is named.
DEFAULT_PAIR_MODEL = "dmac-effnet-lite0"

__all__ = [
    "DEFAULT_DETECTORS",
    "DEFAULT_MODEL",
    "DEFAULT_PAIR_MODEL",
    "Detector",
    "analyze",
    "analyze_batch",
    "analyze_pair",
    "expand_inputs",
    "load_detectors",
    "load_model",
]


def default_device() -> torch.device:
    """cuda when available, else cpu."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Detector:
    """A loaded model ready for inference (copy-move, probe/donor pair, ...: see ``task``).

    Attributes:
        model: the network in eval mode, on ``device``.
        name: its registry name.
        weights_sha256: sha256 of the weights file, ``None`` when the model has no weights.
        device: where it runs.
        long_side: long side (pixels) at which single images are analysed; ``None`` = full
            resolution. Pair models analyse both images at a fixed size instead.
        threshold: default decision threshold on the image score, in (0, 1).
        task: what the model does.
        tile: side (pixels) of the native-resolution tiles a localization model runs on
            (an image that fits runs whole); ``None`` to resize to ``long_side`` instead.
    """

    model: TamperModel
    name: str
    weights_sha256: str | None
    device: torch.device
    long_side: int | None = 512
    threshold: float = 0.5
    task: Task = Task.COPY_MOVE
    tile: int | None = None

    @property
    def union_only(self) -> bool:
        """True for 1-class models, which cannot tell source from target."""
        return self.model.union_only


def load_model(
    name: str | None = None,
    *,
    weights: str | Path | None = "default",
    device: str | torch.device | None = None,
    long_side: int | None = None,
    **model_kwargs,
) -> Detector:
    """Build a registered model and load its weights.

    Args:
        name: registry name (see :func:`tamperscope.list_models`), or ``MODEL.TAG`` for
            tagged shipped weights (``doagan-effnet-lite0.stage1``); default
            :data:`DEFAULT_MODEL`, or with a weights file, the model the file names. A model
            built around another (``keypoint-doagan`` around a DOA-GAN) takes a weights file of
            that other model: ``load_model("keypoint-doagan", weights="doagan.safetensors")``.
        weights: ``"default"`` for the shipped default weights, a tag of shipped weights, a
            path to a safetensors weights file written by ``tamperscope train`` (or a
            checkpoint folder), or ``None`` for an untrained network.
        device: ``"cpu"``, ``"cuda"``, ...; default cuda when available.
        long_side: analysis resolution (long side, pixels); default from the weights' spec,
            else the model's ``analysis_long_side`` (``None``: full resolution).
        **model_kwargs: constructor kwargs (only with ``weights=None``, for training-free
            models, or for the non-part kwargs of composite models).

    Raises:
        KeyError: unknown model name or weights tag.
        WeightsError: ``weights="default"`` for a trainable model that ships no weights,
            an unreadable weights file, a file of another model that ``name`` cannot use,
            or tensors that do not fit.
    """
    dev = torch.device(device) if device is not None else default_device()
    if name is None and (weights is None or weights == "default"):
        name = DEFAULT_MODEL
    loaded = build_model(name, weights, **model_kwargs)
    model = loaded.model.eval().to(dev)
    side = long_side or loaded.input_long_side
    if side is None:  # models may prefer their own analysis size; None = full resolution
        side = model.analysis_long_side
    return Detector(
        model=model,
        name=loaded.name,
        weights_sha256=loaded.sha256,
        device=dev,
        long_side=side,
        threshold=loaded.threshold,
        task=model_task(loaded.name),
        tile=model.analysis_tile,
    )


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files, folders (their images, sorted) and glob patterns -> a list of files.

    A name that matches nothing is kept as it is, so that reading it reports the problem.
    """
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out.extend(
                sorted(
                    q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_EXTENSIONS
                )
            )
        elif any(ch in str(item) for ch in "*?[") and not p.exists():
            out.extend(
                Path(m) for m in sorted(glob(str(item), recursive=True)) if Path(m).is_file()
            )
        else:
            out.append(p)
    return out


def load_detectors(
    detectors: Iterable[str | Detector] | None = None,
    *,
    model: str | Detector | None = None,
    device: str | torch.device | None = None,
) -> list[Detector]:
    """The detectors an ``analyze`` run uses.

    Args:
        detectors: registry names (or ``MODEL.TAG``) and loaded :class:`Detector` objects,
            each with its shipped default weights; ``None`` for :data:`DEFAULT_DETECTORS`.
        model: a single model instead (name or :class:`Detector`); wins over ``detectors``.
        device: device for the models loaded by name.

    Raises:
        ValueError: an empty list, the same model twice, or a model that does not analyse
            single images (probe/donor pair models: use :func:`analyze_pair`).
        KeyError: unknown model name.
        WeightsError: a model ships no weights.
    """
    if model is not None:
        items: list[str | Detector] = [model]
    else:
        items = list(DEFAULT_DETECTORS if detectors is None else detectors)
    if not items:
        raise ValueError("no detector to run: name at least one")
    loaded = [d if isinstance(d, Detector) else load_model(d, device=device) for d in items]
    names = [d.name for d in loaded]
    if len(set(names)) != len(names):
        raise ValueError(f"each detector may run once, got {names}")
    for d in loaded:
        if d.task not in SINGLE_IMAGE_TASKS:
            hint = (
                " (it compares a probe with a donor: use analyze-pair)"
                if d.task == Task.PAIR
                else ""
            )
            raise ValueError(
                f"{d.name} is a {d.task.value} model, not a single-image detector{hint}"
            )
    return loaded


def _run_detector(detector: Detector, image: np.ndarray) -> DetectorResult:
    started = time.perf_counter()
    if detector.task == Task.LOCALIZATION:
        prediction, (h, w) = predict_localization(
            detector.model,
            image,
            long_side=detector.long_side,
            device=detector.device,
            tile=detector.tile,
        )
        tile = detector.tile
    else:
        prediction, (h, w) = predict_copy_move(
            detector.model, image, long_side=detector.long_side, device=detector.device
        )
        tile = None
    return DetectorResult(
        name=detector.name,
        task=detector.task.value,
        weights_sha256=detector.weights_sha256,
        score=float(prediction.score),
        threshold=detector.threshold,
        analysed_size=(w, h),
        seconds=time.perf_counter() - started,
        tile=tile,
        prediction=prediction,
    )


def _analyze_array(
    image: np.ndarray,
    detectors: list[Detector],
    threshold: float,
    file: str,
    started: float,
) -> Report:
    results = [_run_detector(d, image) for d in detectors]
    score = fuse_scores(results)
    forged = score >= threshold
    passing = [r for r in results if forged and passes(r, threshold)]
    maps = [detector_class_map(r) for r in passing]
    class_map = compose_class_map(maps, image.shape[:2])
    findings = [f for r, m in zip(passing, maps, strict=True) for f in findings_of(r, m)]
    three_class = [
        r.prediction is not None and r.prediction.probabilities.shape[0] == 3 for r in results
    ]
    classes = (("source", "target") if any(three_class) else ()) + (
        ("manipulated",) if not all(three_class) else ()
    )
    return Report(
        file=file,
        detectors=tuple(results),
        version=__version__,
        image_size=(image.shape[1], image.shape[0]),
        score=score,
        threshold=threshold,
        forged=forged,
        findings=findings,
        regions=region_summary(class_map, classes=classes) if forged else {},
        seconds=time.perf_counter() - started,
        class_map=class_map,
    )


def _check_threshold(threshold: float | None) -> float:
    thr = 0.5 if threshold is None else float(threshold)
    if not 0.0 <= thr <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    return thr


def analyze(
    image: ImageSource | np.ndarray,
    *,
    model: str | Detector | None = None,
    detectors: Iterable[str | Detector] | None = None,
    threshold: float | None = None,
    out_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    save_maps: str | None = None,
) -> Report:
    """Tell whether an image was manipulated, and where: copy-move source and copy, and any
    other manipulated region.

    Every detector runs on the image; their scores are fused into one decision and their
    regions into one mask and a list of findings (see :mod:`tamperscope.report.findings`).

    Args:
        image: a file path, the encoded bytes of an image file, a binary stream (an open file,
            an upload), or an (H, W, 3) uint8 RGB array.
        model: one model only: a registry name or a :class:`Detector` from :func:`load_model`.
        detectors: the detectors to run (names or :class:`Detector`); default
            :data:`DEFAULT_DETECTORS`. Ignored when ``model`` is given.
        threshold: decision threshold on the fused score, in [0, 1]; default 0.5 (each
            detector's own threshold).
        out_dir: when given, the JSON report, colour mask and overlay are written there.
        device: device for the models loaded by name.
        save_maps: ``"png"`` or ``"npy"``: also write every detector's probability maps to
            ``out_dir`` (see :func:`tamperscope.report.writers.write_outputs`).

    Returns:
        The :class:`~tamperscope.types.Report`; ``report.detectors[i].prediction`` holds each
        detector's probability maps.

    Raises:
        ImageReadError: the file cannot be decoded (the message names it).
        ValueError: an array of the wrong shape or dtype, a threshold outside [0, 1], or a
            detector that does not analyse single images.
    """
    started = time.perf_counter()
    thr = _check_threshold(threshold)
    loaded = load_detectors(detectors, model=model, device=device)
    if isinstance(image, np.ndarray):
        array, file, stem = image, "", "image"
    else:
        array, file, stem = _decode(image, "image")
    report = _analyze_array(array, loaded, thr, file, started)
    if out_dir is not None:
        write_outputs(report, array, out_dir, stem, save_maps=save_maps)
    return report


def analyze_batch(
    inputs: Iterable[str | Path],
    *,
    model: str | Detector | None = None,
    detectors: Iterable[str | Detector] | None = None,
    threshold: float | None = None,
    out_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    save_maps: str | None = None,
) -> Iterator[tuple[Path, Report | TamperscopeError]]:
    """Analyse many files; a failing file yields its error and the batch goes on.

    Args:
        inputs: files, folders and glob patterns (see :func:`expand_inputs`).
        model, detectors, threshold, out_dir, device, save_maps: as in :func:`analyze`; the
            detectors are loaded once.

    Yields:
        ``(path, report)`` or ``(path, error)`` for each file, in order.

    Raises:
        ValueError: as in :func:`analyze`, before any file is read.
    """
    thr = _check_threshold(threshold)
    loaded = load_detectors(detectors, model=model, device=device)
    paths = expand_inputs(inputs)
    stems: dict[str, int] = {}
    for path in paths:
        stem = path.stem
        stems[stem] = stems.get(stem, 0) + 1
        if stems[stem] > 1:  # same name in two folders: keep both outputs
            stem = f"{stem}_{stems[stem]}"
        started = time.perf_counter()
        try:
            array = read_image(path)
            report = _analyze_array(array, loaded, thr, str(path), started)
            if out_dir is not None:
                write_outputs(report, array, out_dir, stem, save_maps=save_maps)
        except TamperscopeError as exc:
            yield path, exc
            continue
        yield path, report


def _decode(image: ImageSource, default_stem: str) -> tuple[np.ndarray, str, str]:
    """Pixels, file name (``""`` for bytes and unnamed streams) and output stem of ``image``."""
    name = source_name(image)
    array = read_image(image)
    if str(name).startswith("<"):  # <bytes>, <stream>
        return array, "", default_stem
    return array, str(name), name.stem


def _pair_input(image: ImageSource | np.ndarray, role: str) -> tuple[np.ndarray, str, str]:
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"the {role} must be an (H, W, 3) uint8 RGB array, got {image.shape} {image.dtype}"
            )
        return image, "", role
    return _decode(image, role)


def analyze_pair(
    probe: ImageSource | np.ndarray,
    donor: ImageSource | np.ndarray,
    *,
    model: str | Detector | None = None,
    threshold: float = 0.5,
    out_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    size: int = PAIR_SIZE,
    sliding: bool | None = None,
    sliding_threshold: int = 512,
    name: str | None = None,
) -> PairReport:
    """Tell whether a region of the donor was spliced into the probe, and where it is in both.

    Constrained image splicing detection and localization (CISDL) with a probe/donor model
    such as DMAC (Liu et al., IEEE TIFS 2019); see :func:`tamperscope.inference.pairs.
    predict_pair` for the resizing and the sliding windows over large probes.

    Args:
        probe: the suspect image: a file path, encoded bytes, a binary stream, or an
            (H1, W1, 3) uint8 RGB array.
        donor: the possible donor, likewise ((H2, W2, 3) for an array).
        model: a registry name, a :class:`Detector` from :func:`load_model`, or ``None`` for
            :data:`DEFAULT_PAIR_MODEL` with its shipped weights.
        threshold: decision threshold on the pair score, in [0, 1].
        out_dir: when given, ``NAME.json``, ``NAME_probe_mask.png``, ``NAME_donor_mask.png``
            (white = shared region) and the two overlays are written there.
        device: device for a model loaded by name.
        size: side (pixels) the images are analysed at (paper: 256).
        sliding: sliding-window analysis of the probe: ``None`` automatic, ``True``, ``False``.
        sliding_threshold: probe long side (pixels) above which windows are used
            automatically.
        name: stem of the written files; default ``PROBE_DONOR`` from the file names
            (``probe``/``donor`` for arrays).

    Returns:
        The :class:`~tamperscope.types.PairReport`; its ``probe_probability`` and
        ``donor_probability`` hold the maps at each image's size.

    Raises:
        ImageReadError: a file cannot be decoded (the message names it).
        ValueError: an array of the wrong shape or dtype, or a threshold outside [0, 1].
        TamperscopeError: the model ships no weights (load it with :func:`load_model`
            and ``weights=PATH`` or ``weights=None``).
        KeyError: unknown model name.
    """
    started = time.perf_counter()
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    probe_arr, probe_file, probe_stem = _pair_input(probe, "probe")
    donor_arr, donor_file, donor_stem = _pair_input(donor, "donor")
    detector = (
        model
        if isinstance(model, Detector)
        else load_model(model or DEFAULT_PAIR_MODEL, device=device)
    )
    prob_probe, prob_donor, score = predict_pair(
        detector.model,
        probe_arr,
        donor_arr,
        size=size,
        sliding=sliding,
        sliding_threshold=sliding_threshold,
        device=detector.device,
    )
    windows = 0
    if uses_sliding(probe_arr.shape, size, sliding, sliding_threshold):
        windows = len(probe_windows(probe_arr.shape[0], probe_arr.shape[1], size)[1])
    correlated = bool(score >= threshold)
    report = PairReport(
        probe_file=probe_file,
        donor_file=donor_file,
        model=detector.name,
        weights_sha256=detector.weights_sha256,
        version=__version__,
        probe_size=(probe_arr.shape[1], probe_arr.shape[0]),
        donor_size=(donor_arr.shape[1], donor_arr.shape[0]),
        analysed_size=(size, size),
        windows=windows,
        score=float(score),
        threshold=float(threshold),
        correlated=correlated,
        probe_region=shared_region(prob_probe, correlated)[1],
        donor_region=shared_region(prob_donor, correlated)[1],
        seconds=time.perf_counter() - started,
        probe_probability=prob_probe,
        donor_probability=prob_donor,
    )
    if out_dir is not None:
        stem = name or f"{probe_stem}_{donor_stem}"
        write_pair_outputs(report, probe_arr, donor_arr, out_dir, stem)
    return report
