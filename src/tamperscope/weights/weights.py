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

    Attributes:
        model: registry name of the architecture the tensors belong to.
        file: file name inside ``tamperscope/weights/``.
        sha256: hex digest of the file.
        model_kwargs: constructor kwargs of the model.
        input_long_side: long side (pixels) at which the model analyses images by default;
            ``None`` for the full image.
        classes: class names of the mask channels.
        config: training recipe (path of the YAML in the source tree).
        data: what the weights were trained on.
        license: licence of the weights.
        card: file name of the model card (Markdown) beside the weights.
        state_prefix: prefix added to the file's tensor names when the tensors are a
            submodule of ``model`` (a file shared by two models).
    """

    model: str
    file: str
    sha256: str
    model_kwargs: dict = field(default_factory=dict)
    input_long_side: int | None = 512
    classes: tuple[str, ...] = ("pristine", "source", "target")
    config: str = ""
    data: str = ""
    license: str = "Apache-2.0"
    card: str = ""
    state_prefix: str = ""

    @property
    def path(self) -> Path:
        """Location of the file in the installed package."""
        return Path(str(resources.files("tamperscope.weights").joinpath(self.file)))


#: Constructor kwargs of the shipped DOA-GAN (EfficientNet-Lite0) weights.
_DOAGAN_EFFNET_KWARGS: dict = {
    "aspp_channels": 128,
    "aspp_dropout": 0.5,
    "aspp_rates": [[12, 24, 36], [6, 12, 24]],
    "head_channels": 128,
    "num_classes": 3,
    "pretrained_backbone": False,
    "sigma": 0.05,
    "temperature": 5.0,
    "top_k": 20,
}

_DOAGAN_EFFNET_DATA = (
    "5,200 copy-moves generated from BSDS500 train (3,200, regions of 1-25 % of the image) and "
    "CamVid train (2,000, 1-10 %) photos, hard-pasted, feathered and Poisson-blended, 30 % "
    "pristine negatives, random post-processing attacks"
)

#: Shipped weights by model name: the default weights of that model.
_SHIPPED: dict[str, WeightSpec] = {
    "doagan-effnet-lite0": WeightSpec(
        model="doagan-effnet-lite0",
        file="doagan_effnet_lite0.safetensors",
        sha256="d2f660fb9f4bca0fa584e7ee4a7da974bcabf24ba17ff759872b25e327751e50",
        model_kwargs=_DOAGAN_EFFNET_KWARGS,
        input_long_side=256,
        classes=("pristine", "source", "target"),
        config="configs/doagan_effnet_lite0_blend.yaml",
        data=_DOAGAN_EFFNET_DATA,
        card="doagan_effnet_lite0.md",
    ),
    "keypoint-doagan": WeightSpec(
        model="keypoint-doagan",
        file="doagan_effnet_lite0.safetensors",
        sha256="d2f660fb9f4bca0fa584e7ee4a7da974bcabf24ba17ff759872b25e327751e50",
        model_kwargs={
            "doagan_model": "doagan-effnet-lite0",
            "doagan": _DOAGAN_EFFNET_KWARGS,
            "doagan_long_side": 256,
        },
        input_long_side=None,
        classes=("pristine", "source", "target"),
        config="configs/doagan_effnet_lite0_blend.yaml",
        data="none for the keypoint part (training-free); DOA-GAN part: " + _DOAGAN_EFFNET_DATA,
        card="keypoint_doagan.md",
        state_prefix="doagan.",
    ),
    "dmac-effnet-lite0": WeightSpec(
        model="dmac-effnet-lite0",
        file="dmac_effnet_lite0.safetensors",
        sha256="3dbfe4cf3510b13b0a367a352ce3d39b76f04c6cecd3d9513276211ddb8add8d",
        model_kwargs={
            "aspp_channels": 96,
            "aspp_rates": [6, 12, 18, 24],
            "exclude_zero_shift": False,
            "pretrained_backbone": False,
            "top_t": 6,
        },
        input_long_side=256,
        classes=("not_shared", "shared"),
        config="configs/dmac_effnet_lite0.yaml",
        data="3,600 probe/donor pairs generated from BSDS500 train (2,400) and CamVid train "
        "(1,200) photos in DMAC's thirds (foreground, background, negative), random "
        "post-processing attacks on 30 % of the probes",
        card="dmac_effnet_lite0.md",
    ),
}


def default_weights(model: str) -> WeightSpec | None:
    """The shipped default weights of ``model``, or ``None`` when it ships none."""
    return _SHIPPED.get(model)


def get_weight_spec(model: str) -> WeightSpec:
    """The shipped default weights of ``model``.

    Raises:
        KeyError: the model ships no weights; the message lists the models that do.
    """
    try:
        return _SHIPPED[model]
    except KeyError:
        shipped = ", ".join(sorted(_SHIPPED)) or "none"
        raise KeyError(
            f"model {model!r} ships no weights (models with weights: {shipped})"
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
