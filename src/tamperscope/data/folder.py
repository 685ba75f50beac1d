"""Reader of a plain folder of images without ground truth (the user's own images)."""

from __future__ import annotations

from pathlib import Path

from tamperscope.data._records import Record, RecordDataset
from tamperscope.data.base import register_dataset
from tamperscope.data.masks import unique_names
from tamperscope.errors import DatasetError
from tamperscope.io import IMAGE_EXTENSIONS, list_images

#: Label of images whose authenticity is unknown.
UNKNOWN_LABEL = -1


@register_dataset("folder")
class FolderDataset(RecordDataset):
    """Every image of a folder, with no mask (``None``) and label -1 (unknown).

    Samples are named by their path relative to ``root`` without extension, sorted.

    Args:
        root: the folder, or a single image file.
        recursive: also take images from subfolders.

    Raises:
        DatasetError: ``root`` holds no image file (the message lists the accepted
            extensions).
    """

    kind = "folder"
    mask_kind = "binary"

    def __init__(self, root: str | Path, *, recursive: bool = False) -> None:
        root = Path(root)
        if root.is_file():
            files, base = [root], root.parent
        else:
            files, base = list_images(root, recursive=recursive), root
        if not files or (root.is_file() and root.suffix.lower() not in IMAGE_EXTENSIONS):
            raise DatasetError(
                f"{root}: no image files found (accepted: {', '.join(sorted(IMAGE_EXTENSIONS))}"
                + ("" if recursive else "; use recursive=True for subfolders")
                + ")"
            )
        names = unique_names(files, base)
        records = [
            Record(name, p, UNKNOWN_LABEL, "binary")
            for name, p in sorted(zip(names, files, strict=True), key=lambda t: t[0])
        ]
        self.root = root
        super().__init__(records)

    def read_mask(self, record: Record, shape: tuple[int, int]) -> None:
        return None
