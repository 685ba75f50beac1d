"""tamperscope: image tampering detection and localization."""

__version__ = "0.1.0"
