"""Dataset readers for public benchmarks and generated sets, and image decoding.

Importing this package registers every reader, so :func:`open_dataset` finds them by name:
``coverage``, ``casia``, ``comofod``, ``busternet-hdf5``, ``usc-isi``, ``noso``,
``cm-disambiguation``, ``face-manipulations``, ``inpainting-removal``, ``generated``
(``generated-images``, ``generated-pairs``), ``manifest`` and ``folder``.
"""

from tamperscope.data import (  # noqa: F401  (importing registers the readers)
    busternet_hdf5,
    casia,
    cm_disambiguation,
    comofod,
    coverage,
    face_manipulations,
    folder,
    generated,
    inpainting_removal,
    manifest,
    noso,
    usc_isi,
)
from tamperscope.data.base import (
    ForgeryDataset,
    InMemoryDataset,
    PairDataset,
    list_datasets,
    open_dataset,
    register_dataset,
)
from tamperscope.data.busternet_hdf5 import BusterNetHDF5Dataset
from tamperscope.data.casia import CasiaDataset
from tamperscope.data.cm_disambiguation import CMDisambiguationDataset
from tamperscope.data.comofod import CoMoFoDDataset
from tamperscope.data.coverage import CoverageDataset
from tamperscope.data.face_manipulations import FaceManipulationsDataset
from tamperscope.data.folder import FolderDataset
from tamperscope.data.generated import GeneratedDataset, GeneratedPairDataset
from tamperscope.data.inpainting_removal import InpaintingRemovalDataset
from tamperscope.data.manifest import ManifestDataset, ManifestPairDataset
from tamperscope.data.noso import NoSoDataset
from tamperscope.data.usc_isi import USCISIDataset
from tamperscope.io import read_image, read_mask, write_image

__all__ = [
    "BusterNetHDF5Dataset",
    "CMDisambiguationDataset",
    "CasiaDataset",
    "CoMoFoDDataset",
    "CoverageDataset",
    "FaceManipulationsDataset",
    "FolderDataset",
    "ForgeryDataset",
    "GeneratedDataset",
    "GeneratedPairDataset",
    "InMemoryDataset",
    "InpaintingRemovalDataset",
    "ManifestDataset",
    "ManifestPairDataset",
    "NoSoDataset",
    "PairDataset",
    "USCISIDataset",
    "list_datasets",
    "open_dataset",
    "read_image",
    "read_mask",
    "register_dataset",
    "write_image",
]
