"""Synthetic forgery generators: copy-move, splicing (single images and probe/donor pairs),
inpainting.

Sampling of parameters (:mod:`~tamperscope.synth.sampling`) is kept apart from rendering
(:mod:`~tamperscope.synth.geometry`, :mod:`~tamperscope.synth.blending`). The pure functions
:func:`make_copy_move`, :func:`make_splice`, :func:`make_splice_pair` and
:func:`make_inpainting` return arrays; :func:`generate_copy_move`, :func:`generate_splice`,
:func:`generate_splice_pairs` and :func:`generate_inpainting` write reproducible, resumable
sets with a manifest. Post-processing attacks live in :mod:`tamperscope.synth.attacks`.

Example:
    >>> from tamperscope.synth import generate_copy_move
    >>> generate_copy_move("out/cm", n=10, seed=0, images="skimage", max_side=256)  # doctest: +SKIP
"""

from tamperscope.synth import attacks
from tamperscope.synth.attacks import Attack, apply_attacks, parse_attacks
from tamperscope.synth.blending import BLEND_MODES, paste
from tamperscope.synth.copy_move import CopyMoveResult, PlacementError, make_copy_move
from tamperscope.synth.generate import (
    generate_copy_move,
    generate_inpainting,
    generate_splice_pairs,
)
from tamperscope.synth.generate_splice import generate_splice
from tamperscope.synth.geometry import bounding_box, warp_region
from tamperscope.synth.inpainting import (
    Inpainter,
    InpaintingResult,
    OpenCVInpainter,
    make_inpainting,
    sample_inpainting_mask,
)
from tamperscope.synth.options import (
    CopyMoveOptions,
    InpaintingOptions,
    SpliceImageOptions,
    SpliceOptions,
)
from tamperscope.synth.regions import SKIMAGE_PHOTOS, open_region_source
from tamperscope.synth.sampling import (
    AREA_GROUPS,
    TRANSFORM_FAMILIES,
    AreaGroup,
    TransformParams,
    sample_transform,
)
from tamperscope.synth.splice import (
    SplicePair,
    SpliceResult,
    background_pair,
    make_splice_pair,
    negative_pair,
)
from tamperscope.synth.splicing import SpliceImageResult, make_splice
from tamperscope.synth.writer import GenerationError, GenerationSummary

__all__ = [
    "AREA_GROUPS",
    "BLEND_MODES",
    "SKIMAGE_PHOTOS",
    "TRANSFORM_FAMILIES",
    "Attack",
    "AreaGroup",
    "CopyMoveOptions",
    "CopyMoveResult",
    "GenerationError",
    "GenerationSummary",
    "Inpainter",
    "InpaintingOptions",
    "InpaintingResult",
    "OpenCVInpainter",
    "PlacementError",
    "SpliceImageOptions",
    "SpliceImageResult",
    "SpliceOptions",
    "SplicePair",
    "SpliceResult",
    "TransformParams",
    "apply_attacks",
    "attacks",
    "background_pair",
    "bounding_box",
    "generate_copy_move",
    "generate_inpainting",
    "generate_splice",
    "generate_splice_pairs",
    "make_copy_move",
    "make_inpainting",
    "make_splice",
    "make_splice_pair",
    "negative_pair",
    "open_region_source",
    "parse_attacks",
    "paste",
    "sample_inpainting_mask",
    "sample_transform",
    "warp_region",
]
