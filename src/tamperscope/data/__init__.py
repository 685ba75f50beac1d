"""Dataset readers for public benchmarks and generated sets, and image decoding."""

from tamperscope.data.base import (
    ForgeryDataset,
    InMemoryDataset,
    PairDataset,
    list_datasets,
    open_dataset,
    register_dataset,
)
from tamperscope.data.io import read_image, read_mask, write_image

__all__ = [
    "ForgeryDataset",
    "InMemoryDataset",
    "PairDataset",
    "list_datasets",
    "open_dataset",
    "read_image",
    "read_mask",
    "register_dataset",
    "write_image",
]
