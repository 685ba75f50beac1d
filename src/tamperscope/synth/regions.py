"""Where source photos and forged regions come from.

A :class:`RegionSource` is an indexed list of photos, each with a way to pick a region (a
binary mask) whose area lies in a requested range:

* :class:`LabelMapSource`: label maps beside the photos, such as BSDS500 (``<id>.seg.png``,
  one region per id) or CamVid (``<name>.labels.png``, connected components of the object
  classes 8 car, 9 pedestrian, 10 bicyclist);
* :class:`CocoSource`: COCO instance annotations read with pycocotools;
* :class:`MaskFolderSource`: a folder of masks named like the photos (``<stem>.png``): instance
  maps (each non-zero id one region, e.g. coco128-seg ``masks/``), binary masks (the white
  foreground one region, e.g. human-seg person masks) or soft alpha mattes (the support where
  alpha >= 128 one region, e.g. p3m-mattes ``alpha/``);
* :class:`RandomShapeSource`: any photos (a folder, or the colour photos scikit-image ships)
  with random ellipses, polygons and brush strokes.

Candidate regions whose area is outside the requested range are skipped; random shapes are
redrawn until they fall in it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tamperscope.errors import DatasetError, ImageReadError, TamperscopeError
from tamperscope.io import list_images, read_image, read_mask
from tamperscope.synth.shapes import random_shape

logger = logging.getLogger(__name__)

#: Region sources known by name (``regions`` option).
REGION_SOURCES = ("random", "bsds500", "camvid", "labels", "coco", "instances", "masks", "mattes")

#: Mask folder used by the mask-folder sources when none is given: ``<root>/<name>`` when the
#: images option is a root holding ``images/``, else ``<photos>/../<name>``.
MASK_FOLDERS = {"instances": "masks", "masks": "masks", "mattes": "alpha"}

#: Label-map suffix and instance classes of the named label-map sources.
LABEL_PRESETS: dict[str, tuple[str, tuple[int, ...] | None]] = {
    "bsds500": (".seg.png", None),
    "camvid": (".labels.png", (8, 9, 10)),
}

#: Files with these suffixes are label maps, never source photos.
LABEL_SUFFIXES = (".seg.png", ".labels.png")


def _skimage_loader(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        if name == "motorcycle":
            return skimage.data.stereo_motorcycle()[0]
        return getattr(skimage.data, name)()

    return load


#: Colour photos bundled with scikit-image (no network download needed).
SKIMAGE_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "hubble_deep_field",
    "immunohistochemistry",
    "motorcycle",
    "retina",
    "rocket",
)


@dataclass
class SourcePhoto:
    """A decoded source photo.

    Attributes:
        key: where it came from (file path, or ``skimage:<name>``).
        image: (H, W, 3) uint8 RGB, already resized to the working size.
        regions: candidate region masks, each (H, W) uint8 in {0, 1}; None when regions are
            random shapes.
        alphas: soft mattes of the regions, each (H, W) uint8 in [0, 255], in the order of
            ``regions``; None when the source has no mattes.
    """

    key: str
    image: np.ndarray
    regions: list[np.ndarray] | None = None
    alphas: list[np.ndarray] | None = None

    def alpha_of(self, region: np.ndarray) -> np.ndarray | None:
        """The matte of ``region`` (one of :attr:`regions`), or None."""
        if self.alphas is None or self.regions is None:
            return None
        return next(
            (a for r, a in zip(self.regions, self.alphas, strict=True) if r is region), None
        )


def working_shape(
    shape: tuple[int, int], max_side: int | None = None, size: tuple[int, int] | None = None
) -> tuple[int, int]:
    """Size an image is brought to before forging.

    Args:
        shape: (H, W) of the photo, pixels.
        max_side: shrink (never enlarge) so that the longer side is at most this.
        size: (width, height) forced working size; overrides ``max_side``.

    Returns:
        (H', W') pixels.
    """
    if size is not None:
        return int(size[1]), int(size[0])
    height, width = shape
    if max_side is not None and max(height, width) > max_side:
        factor = max_side / max(height, width)
        return max(1, int(round(height * factor))), max(1, int(round(width * factor)))
    return height, width


def _resize_rgb(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == shape:
        return image
    shrink = shape[0] * shape[1] < image.shape[0] * image.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(image, (shape[1], shape[0]), interpolation=interp))


def _resize_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if labels.shape[:2] == shape:
        return labels
    return cv2.resize(labels, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


class RegionSource(ABC):
    """Indexed source photos with a region sampler.

    Args:
        max_side: shrink photos so their longer side is at most this many pixels.
        size: (width, height) common working size all photos are resized to.
    """

    #: Name used in configs and manifests.
    name: str = "source"

    def __init__(self, max_side: int | None = None, size: tuple[int, int] | None = None) -> None:
        if max_side is not None and max_side < 8:
            raise TamperscopeError(f"max side must be at least 8 pixels, got {max_side}")
        if size is not None and min(size) < 8:
            raise TamperscopeError(f"working size must be at least 8x8 pixels, got {size}")
        self.max_side = max_side
        self.size = size

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def key(self, index: int) -> str:
        """Where photo ``index`` comes from (path or ``skimage:<name>``)."""

    @abstractmethod
    def _read(self, index: int) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Photo at native size and its candidate regions (or None)."""

    def load(self, index: int) -> SourcePhoto:
        """Decode photo ``index`` and its regions at the working size.

        Raises:
            ImageReadError: the photo or its label file cannot be decoded.
        """
        image, regions = self._read(index)
        shape = working_shape(image.shape[:2], self.max_side, self.size)
        image = _resize_rgb(image, shape)
        if regions is not None:
            regions = [_resize_labels(r, shape) for r in regions]
            regions = [r for r in regions if r.any()]
        return SourcePhoto(self.key(index), image, regions)

    def sample_region(
        self,
        photo: SourcePhoto,
        rng: np.random.Generator,
        area_range: tuple[float, float],
        *,
        half: bool = False,
    ) -> np.ndarray | None:
        """Pick a region of ``photo`` whose area fraction lies in ``area_range``.

        Args:
            photo: a photo from :meth:`load`.
            rng: the sample's generator.
            area_range: (low, high) closed interval of the area fraction of the whole photo.
            half: random shapes only: draw the shape inside one half of the photo (split
                across its longer side), so that a copy fits beside it without overlap.

        Returns:
            (H, W) uint8 in {0, 1}, or None when the photo has no region in range.
        """
        height, width = photo.image.shape[:2]
        low, high = area_range
        if photo.regions is None:
            try:
                if not half:
                    return random_shape(rng, (height, width), area_range)
                return _shape_in_half(rng, (height, width), (low, high))
            except TamperscopeError:
                return None
        total = height * width
        fits = [r for r in photo.regions if low <= r.sum() / total <= high]
        if not fits:
            return None
        return fits[int(rng.integers(len(fits)))]


def _shape_in_half(
    rng: np.random.Generator, shape: tuple[int, int], area_range: tuple[float, float]
) -> np.ndarray:
    height, width = shape
    mask = np.zeros(shape, np.uint8)
    second = bool(rng.integers(2))
    if width >= height:
        sub = (height, width // 2)
        y0, x0 = 0, (width - sub[1]) if second else 0
    else:
        sub = (height // 2, width)
        y0, x0 = (height - sub[0]) if second else 0, 0
    ratio = (height * width) / (sub[0] * sub[1])
    low, high = area_range[0] * ratio, min(1.0, area_range[1] * ratio)
    if low > high:
        raise TamperscopeError("area range does not fit in half of the image")
    part = random_shape(rng, sub, (low, high))
    mask[y0 : y0 + sub[0], x0 : x0 + sub[1]] = part
    if not area_range[0] <= mask.sum() / (height * width) <= area_range[1]:
        raise TamperscopeError("shape area out of range after placement")
    return mask


def _photo_files(folder: str | Path, exclude_suffixes: tuple[str, ...]) -> list[Path]:
    folder = Path(folder)
    if not folder.exists():
        raise DatasetError(f"{folder}: image folder does not exist")
    if not folder.is_dir():
        raise DatasetError(f"{folder}: is not a folder")
    files = [
        p for p in list_images(folder) if not any(p.name.endswith(s) for s in exclude_suffixes)
    ]
    if not files:
        raise DatasetError(f"{folder}: no images found (png, jpg, tif, bmp, webp, ...)")
    return files


class RandomShapeSource(RegionSource):
    """Photos of a folder, or scikit-image's bundled colour photos, with random shapes.

    Args:
        images: image folder, or the keyword ``"skimage"``.
        max_side, size: as :class:`RegionSource`.

    Raises:
        DatasetError: the folder is missing or holds no image.
    """

    name = "random"

    def __init__(
        self, images: str | Path, max_side: int | None = None, size: tuple[int, int] | None = None
    ) -> None:
        super().__init__(max_side, size)
        self._skimage = str(images) == "skimage"
        if self._skimage:
            self._keys = [f"skimage:{n}" for n in SKIMAGE_PHOTOS]
            self._files: list[Path] = []
        else:
            self._files = _photo_files(images, LABEL_SUFFIXES)
            self._keys = [str(p) for p in self._files]

    def __len__(self) -> int:
        return len(self._keys)

    def key(self, index: int) -> str:
        return self._keys[index]

    def _read(self, index: int) -> tuple[np.ndarray, list[np.ndarray] | None]:
        if self._skimage:
            name = SKIMAGE_PHOTOS[index]
            return np.ascontiguousarray(_skimage_loader(name)()[..., :3]), None
        return read_image(self._files[index]), None


class LabelMapSource(RegionSource):
    """Photos with a label map beside them (``<stem><suffix>``).

    Args:
        images: folder holding the photos and their label maps.
        suffix: label-map file suffix, e.g. ``".seg.png"`` (BSDS500) or ``".labels.png"``
            (CamVid).
        instance_classes: when given, regions are the 8-connected components of these class
            ids; when None, every non-zero id is one region.
        max_side, size: as :class:`RegionSource`.

    Raises:
        DatasetError: the folder is missing, or no photo has a label map.
    """

    name = "labels"

    def __init__(
        self,
        images: str | Path,
        suffix: str,
        instance_classes: tuple[int, ...] | None = None,
        max_side: int | None = None,
        size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(max_side, size)
        self.suffix = suffix
        self.instance_classes = instance_classes
        photos = _photo_files(images, LABEL_SUFFIXES + (suffix,))
        self._pairs = [
            (p, p.with_name(p.stem + suffix))
            for p in photos
            if p.with_name(p.stem + suffix).is_file()
        ]
        if not self._pairs:
            raise DatasetError(f"{images}: no image has a label map named <name>{suffix} beside it")

    def __len__(self) -> int:
        return len(self._pairs)

    def key(self, index: int) -> str:
        return str(self._pairs[index][0])

    def _read(self, index: int) -> tuple[np.ndarray, list[np.ndarray] | None]:
        photo, label_file = self._pairs[index]
        image = read_image(photo)
        labels = read_mask(label_file)
        if labels.ndim == 3:
            raise ImageReadError(label_file, "label map has colour channels; expected integer ids")
        if labels.shape != image.shape[:2]:
            raise ImageReadError(
                label_file,
                f"label map is {labels.shape[1]}x{labels.shape[0]} but its photo is "
                f"{image.shape[1]}x{image.shape[0]}",
            )
        return image, self.regions_of(labels)

    def regions_of(self, labels: np.ndarray) -> list[np.ndarray]:
        """Candidate regions of a label map.

        Args:
            labels: (H, W) integer ids.

        Returns:
            List of (H, W) uint8 {0, 1} masks: one per non-zero id, or one per connected
            component of the instance classes.
        """
        if self.instance_classes is None:
            return [(labels == v).astype(np.uint8) for v in np.unique(labels) if v != 0]
        regions = []
        for cls in self.instance_classes:
            count, comp = cv2.connectedComponents((labels == cls).astype(np.uint8), connectivity=8)
            regions += [(comp == k).astype(np.uint8) for k in range(1, count)]
        return regions


class CocoSource(RegionSource):
    """Photos and instance masks from a COCO-format annotation file.

    Crowd annotations are ignored; photos without any other annotation are not used.

    Args:
        annotations: COCO ``instances_*.json``.
        images: folder the ``file_name`` entries are relative to.
        max_side, size: as :class:`RegionSource`.

    Raises:
        DatasetError: missing file or folder, unreadable JSON, or no annotated image.
        TamperscopeError: pycocotools is not installed.
    """

    name = "coco"

    def __init__(
        self,
        annotations: str | Path,
        images: str | Path,
        max_side: int | None = None,
        size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(max_side, size)
        try:
            from pycocotools.coco import COCO
        except ImportError as exc:  # pragma: no cover - pycocotools is a declared extra
            raise TamperscopeError(
                "COCO regions need pycocotools: pip install 'tamperscope[coco]'"
            ) from exc
        annotations, folder = Path(annotations), Path(images)
        if not annotations.is_file():
            raise DatasetError(f"{annotations}: COCO annotation file does not exist")
        if not folder.is_dir():
            raise DatasetError(f"{folder}: image folder does not exist")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self._coco = COCO(str(annotations))
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            raise DatasetError(f"{annotations}: not a COCO annotation file ({exc})") from exc
        self._folder = folder
        self._ids = [
            i
            for i in sorted(self._coco.getImgIds())
            if self._coco.getAnnIds(imgIds=[i], iscrowd=False)
        ]
        if not self._ids:
            raise DatasetError(f"{annotations}: no image has a (non-crowd) instance annotation")

    def __len__(self) -> int:
        return len(self._ids)

    def key(self, index: int) -> str:
        info = self._coco.loadImgs([self._ids[index]])[0]
        return str(self._folder / info["file_name"])

    def _read(self, index: int) -> tuple[np.ndarray, list[np.ndarray] | None]:
        image_id = self._ids[index]
        info = self._coco.loadImgs([image_id])[0]
        path = self._folder / info["file_name"]
        image = read_image(path)
        if (info.get("height"), info.get("width")) != image.shape[:2]:
            raise ImageReadError(
                path,
                f"annotated as {info.get('width')}x{info.get('height')} but decoded as "
                f"{image.shape[1]}x{image.shape[0]}",
            )
        anns = self._coco.loadAnns(self._coco.getAnnIds(imgIds=[image_id], iscrowd=False))
        regions = [self._coco.annToMask(a).astype(np.uint8) for a in anns]
        return image, regions


class MaskFolderSource(RegionSource):
    """Photos with a mask of the same stem in another folder (``<masks>/<stem>.png``).

    Args:
        images: photo folder.
        masks: mask folder.
        mode: ``"instances"`` (8-bit instance map: each non-zero id is a region),
            ``"masks"`` (binary mask: pixels >= 128 form one region) or ``"mattes"`` (soft
            alpha matte: its support where alpha >= 128 is one region; the matte itself is
            kept in :attr:`SourcePhoto.alphas`).
        max_side, size: as :class:`RegionSource`.

    Raises:
        DatasetError: a missing folder, or no photo has a mask.
    """

    name = "masks"

    def __init__(
        self,
        images: str | Path,
        masks: str | Path,
        mode: str,
        max_side: int | None = None,
        size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(max_side, size)
        if mode not in MASK_FOLDERS:
            raise TamperscopeError(
                f"unknown mask mode {mode!r}; choose from instances, masks, mattes"
            )
        masks = Path(masks)
        if not masks.is_dir():
            raise DatasetError(f"{masks}: mask folder does not exist")
        self.mode = mode
        photos = _photo_files(images, LABEL_SUFFIXES)
        self._pairs = [
            (p, masks / f"{p.stem}.png") for p in photos if (masks / f"{p.stem}.png").is_file()
        ]
        if not self._pairs:
            raise DatasetError(
                f"{masks}: no mask named <photo name>.png for the photos of {images}"
            )

    def __len__(self) -> int:
        return len(self._pairs)

    def key(self, index: int) -> str:
        return str(self._pairs[index][0])

    def _read(self, index: int) -> tuple[np.ndarray, list[np.ndarray] | None]:
        photo, mask_file = self._pairs[index]
        image = read_image(photo)
        mask = read_mask(mask_file)
        if mask.ndim == 3:
            mask = mask.max(axis=2)
        if mask.shape != image.shape[:2]:
            raise ImageReadError(
                mask_file,
                f"mask is {mask.shape[1]}x{mask.shape[0]} but its photo is "
                f"{image.shape[1]}x{image.shape[0]}",
            )
        if self.mode == "instances":
            return image, [(mask == v).astype(np.uint8) for v in np.unique(mask) if v != 0]
        if self.mode == "mattes":
            return image, [mask]
        return image, [(mask >= 128).astype(np.uint8)]

    def load(self, index: int) -> SourcePhoto:
        """As :meth:`RegionSource.load`; mattes keep their soft alpha in ``alphas``."""
        if self.mode != "mattes":
            return super().load(index)
        image, (alpha,) = self._read(index)  # type: ignore[misc]
        shape = working_shape(image.shape[:2], self.max_side, self.size)
        image = _resize_rgb(image, shape)
        if alpha.shape != shape:
            alpha = cv2.resize(alpha, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        support = (alpha >= 128).astype(np.uint8)
        if not support.any():
            return SourcePhoto(self.key(index), image, [], [])
        return SourcePhoto(self.key(index), image, [support], [alpha])


def _mask_folder_source(
    images: str | Path,
    mode: str,
    masks_dir: str | Path | None,
    max_side: int | None,
    size: tuple[int, int] | None,
) -> MaskFolderSource:
    photos = Path(images)
    if (photos / "images").is_dir():
        root, photos = photos, photos / "images"
    else:
        root = photos.parent
    masks = Path(masks_dir) if masks_dir is not None else root / MASK_FOLDERS[mode]
    return MaskFolderSource(photos, masks, mode, max_side, size)


def open_region_source(
    images: str | Path,
    regions: str = "random",
    *,
    labels_suffix: str | None = None,
    instance_classes: tuple[int, ...] | None = None,
    coco_annotations: str | Path | None = None,
    max_side: int | None = None,
    size: tuple[int, int] | None = None,
    masks_dir: str | Path | None = None,
) -> RegionSource:
    """Build the region source named by the ``regions`` option.

    Args:
        images: image folder, or ``"skimage"`` (random shapes only); for ``instances``,
            ``masks`` and ``mattes`` also a root folder holding ``images/``.
        regions: one of :data:`REGION_SOURCES`.
        labels_suffix: label-map suffix; overrides the preset of ``bsds500``/``camvid`` and is
            required for ``labels``.
        instance_classes: class ids whose connected components are regions (label maps).
        coco_annotations: COCO annotation file (``coco``).
        max_side: shrink photos so the longer side is at most this many pixels.
        size: (width, height) common working size.
        masks_dir: mask folder of ``instances``, ``masks`` and ``mattes`` (default: the
            folder of :data:`MASK_FOLDERS` beside the photo folder).

    Raises:
        TamperscopeError: unknown ``regions``, a missing option, or ``skimage`` with regions
            other than ``random``.
        DatasetError: missing folder or file, or no usable photo.
    """
    if regions not in REGION_SOURCES:
        raise TamperscopeError(
            f"unknown region source {regions!r}; choose from {', '.join(REGION_SOURCES)}"
        )
    if str(images) == "skimage" and regions != "random":
        raise TamperscopeError("the 'skimage' photos have no labels: use regions 'random'")
    if regions == "random":
        return RandomShapeSource(images, max_side, size)
    if regions == "coco":
        if coco_annotations is None:
            raise TamperscopeError(
                "regions 'coco' needs a COCO annotation file (--coco-annotations)"
            )
        return CocoSource(coco_annotations, images, max_side, size)
    if regions in MASK_FOLDERS:
        return _mask_folder_source(images, regions, masks_dir, max_side, size)
    preset_suffix, preset_classes = LABEL_PRESETS.get(regions, (None, None))
    suffix = labels_suffix or preset_suffix
    if suffix is None:
        raise TamperscopeError("regions 'labels' needs the label-map suffix (--labels-suffix)")
    classes = instance_classes if instance_classes is not None else preset_classes
    return LabelMapSource(images, suffix, classes, max_side, size)


def image_order(n_photos: int, seed: int) -> np.ndarray:
    """The seeded order photos are assigned to samples in (sample i starts at entry i mod n).

    Returns:
        (n_photos,) int64 permutation, a function of ``seed`` and ``n_photos`` only.
    """
    return np.random.default_rng([seed, 0x5EED]).permutation(n_photos)


def area_fraction(mask: np.ndarray) -> float:
    """Share of non-zero pixels of an (H, W) mask, in [0, 1]."""
    return float(np.count_nonzero(mask)) / float(math.prod(mask.shape[:2]))
