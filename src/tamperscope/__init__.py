"""tamperscope: image tampering detection and localization.

Copy-move forgeries with source and target told apart, and probe/donor splicing; synthetic
forgery generators (copy-move, splice pairs, inpainting), benchmark readers and a metric suite.
"""

from tamperscope.api import analyze, analyze_batch, analyze_pair, load_model
from tamperscope.registry import list_models
from tamperscope.version import __version__

__all__ = ["__version__", "analyze", "analyze_batch", "analyze_pair", "list_models", "load_model"]
