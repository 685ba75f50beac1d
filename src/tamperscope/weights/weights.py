"""Specifications of the weights that ship inside the package.

Each shipped file is described by a frozen :class:`WeightSpec` (file, sha256, the model it
builds, input size, classes, training recipe, data, licence), in the spirit of torchvision's
``Weights`` enums and timm's ``PretrainedCfg``. Loading checks the sha256 before any tensor is
read, so a corrupted install is reported instead of silently giving wrong masks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class WeightSpec:
    """A weights file shipped with tamperscope.

    A spec is named ``MODEL.TAG`` (timm's ``arch.tag``): ``doagan-effnet-lite0.stage2``. Each
    model with shipped weights has one default tag (:func:`register_weights` with
    ``default=True``); ``load_model(MODEL)`` loads it.

    Attributes:
        model: registry name of the architecture the tensors belong to.
        tag: name of these weights among the model's shipped weights.
        file: file name inside ``tamperscope/weights/``; ``""`` for a composite model whose
            tensors all come from its parts.
        sha256: hex digest of the file (``""`` with no file).
        model_kwargs: constructor kwargs of the model (for a composite, those besides the
            parts', which the parts' specs supply).
        input_long_side: long side (pixels) at which the model analyses images by default;
            ``None`` for the full image.
        classes: class names of the mask channels.
        threshold: decision threshold on the image score the weights are calibrated for, in
            (0, 1) (``analyze`` maps it to 0.5 when it fuses detectors).
        config: training recipe (path of the YAML in the source tree).
        data: what the weights were trained on.
        license: licence of the weights.
        card: file name of the model card (Markdown) beside the weights.
        parts: for a composite model, the spec name (``MODEL.TAG``) that fills each part,
            by part attribute (see :class:`tamperscope.registry.WeightPart`).
    """

    model: str
    tag: str
    file: str
    sha256: str
    model_kwargs: dict = field(default_factory=dict)
    input_long_side: int | None = 512
    classes: tuple[str, ...] = ("pristine", "source", "target")
    threshold: float = 0.5
    config: str = ""
    data: str = ""
    license: str = "Apache-2.0"
    card: str = ""
    parts: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``MODEL.TAG``."""
        return f"{self.model}.{self.tag}"

    @property
    def path(self) -> Path:
        """Location of the file in the installed package."""
        return Path(str(resources.files("tamperscope.weights").joinpath(self.file)))

    @property
    def card_path(self) -> Path:
        """Location of the model card in the installed package."""
        return Path(str(resources.files("tamperscope.weights").joinpath(self.card)))


_SPECS: dict[str, WeightSpec] = {}
_DEFAULT_TAG: dict[str, str] = {}


def register_weights(spec: WeightSpec, *, default: bool = False) -> WeightSpec:
    """Record a shipped weights spec; ``default=True`` makes it the model's default.

    Raises:
        ValueError: a spec of that name is already registered, the tag is empty or holds a
            dot, or the model already has a default.
    """
    if not spec.tag or "." in spec.tag:
        raise ValueError(f"weights tag must be a non-empty word without '.', got {spec.tag!r}")
    if spec.name in _SPECS:
        raise ValueError(f"weights {spec.name!r} are already registered")
    if default and spec.model in _DEFAULT_TAG:
        raise ValueError(f"model {spec.model!r} already has default weights")
    _SPECS[spec.name] = spec
    if default:
        _DEFAULT_TAG[spec.model] = spec.tag
    return spec


def _ensure_builtin_weights() -> None:
    # The specs are registered beside their models.
    import tamperscope.models  # noqa: F401


def split_weights_name(name: str) -> tuple[str, str | None]:
    """``"MODEL.TAG"`` -> ``("MODEL", "TAG")``; ``"MODEL"`` -> ``("MODEL", None)``."""
    model, dot, tag = name.partition(".")
    return model, (tag if dot else None)


def list_weights(model: str | None = None) -> list[str]:
    """Names (``MODEL.TAG``) of the shipped weights, sorted; only ``model``'s when given."""
    _ensure_builtin_weights()
    return sorted(n for n, s in _SPECS.items() if model is None or s.model == model)


def default_weights(model: str) -> WeightSpec | None:
    """The shipped default weights of ``model``, or ``None`` when it ships none."""
    _ensure_builtin_weights()
    tag = _DEFAULT_TAG.get(model)
    return None if tag is None else _SPECS[f"{model}.{tag}"]


def get_weight_spec(model: str, tag: str | None = None) -> WeightSpec:
    """Shipped weights of ``model``: those tagged ``tag``, or the default.

    ``model`` may also be a full name ``MODEL.TAG``.

    Raises:
        KeyError: the model ships no weights, or none of that tag; the message lists what
            ships.
    """
    _ensure_builtin_weights()
    if tag is None:
        model, tag = split_weights_name(model)
    if tag is None:
        spec = default_weights(model)
        if spec is not None:
            return spec
        shipped = ", ".join(sorted({s.model for s in _SPECS.values()})) or "none"
        raise KeyError(f"model {model!r} ships no weights (models with weights: {shipped})")
    try:
        return _SPECS[f"{model}.{tag}"]
    except KeyError:
        tags = ", ".join(list_weights(model)) or "none"
        raise KeyError(
            f"no shipped weights {model}.{tag} (shipped for {model!r}: {tags})"
        ) from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_weights_file(path: str | Path) -> tuple[dict, dict]:
    """Read a tamperscope weights file (safetensors) and its metadata.

    The metadata carries at least ``"model"`` (registry name) and ``"model_kwargs"`` (JSON of
    the constructor kwargs), so that the file rebuilds its model.

    Returns:
        ``(state_dict, metadata)``: tensors by name, and metadata with JSON values decoded.

    Raises:
        TamperscopeError: the file is missing, not a safetensors file, or lacks the metadata.
    """
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file

    from tamperscope.errors import TamperscopeError

    path = Path(path)
    if not path.is_file():
        raise TamperscopeError(f"{path}: weights file does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = dict(fh.metadata() or {})
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises several error types for bad files
        raise TamperscopeError(f"{path}: not a readable safetensors weights file ({exc})") from exc
    meta: dict = {}
    for key, value in raw.items():
        try:
            meta[key] = json.loads(value)
        except (json.JSONDecodeError, TypeError):
            meta[key] = value
    if "model" not in meta:
        raise TamperscopeError(f"{path}: weights file has no 'model' entry in its metadata")
    meta.setdefault("model_kwargs", {})
    return state, meta
