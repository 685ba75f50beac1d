"""tamperscope: image tampering detection and localization.

Copy-move forgeries with source and target told apart, probe/donor splicing and generic
manipulation localization, combined in one report by :func:`analyze`; synthetic forgery
generators (copy-move, single-image splices, splice pairs, inpainting), benchmark readers and a
metric suite.
"""

from tamperscope.api import analyze, analyze_batch, analyze_pair, load_detectors, load_model
from tamperscope.registry import list_models
from tamperscope.version import __version__

__all__ = [
    "__version__",
    "analyze",
    "analyze_batch",
    "analyze_pair",
    "list_models",
    "load_detectors",
    "load_model",
]
