"""tamperscope: image tampering detection and localization.

Copy-move forgeries with source and target told apart, probe/donor splicing, inpainted regions
and generic manipulations; synthetic forgery generators, benchmark readers and a metric suite.
"""

__version__ = "0.1.0"

from tamperscope.api import analyze, analyze_batch, analyze_pair, load_model  # noqa: E402
from tamperscope.registry import list_models  # noqa: E402

__all__ = ["__version__", "analyze", "analyze_batch", "analyze_pair", "list_models", "load_model"]
