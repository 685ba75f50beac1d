"""Shipped model weights (package data) and their specifications."""

from tamperscope.weights.weights import WeightSpec, default_weights, get_weight_spec, sha256_file

__all__ = ["WeightSpec", "default_weights", "get_weight_spec", "sha256_file"]
