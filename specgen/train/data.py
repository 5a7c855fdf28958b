"""Data sources for the trainer: `digits`, `synthetic:N`, `cifar10:PATH`, `folder:PATH`.

Every source loads into one in-memory `Dataset` of uint8 images at the
training resolution (N, C, R, R) with int64 labels, split into train and test
once and for all; the trainer normalizes and augments batches itself, on its
device. A missing or malformed data path is a SpecError naming the file.
"""

from __future__ import annotations

import itertools
import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from specgen.errors import ROOT, SpecError

OPTION = "--data"
SOURCES = "digits, synthetic:N, cifar10:PATH or folder:PATH"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
MAX_SYNTHETIC = 1_000_000
CHUNK_BYTES = 1 << 28  # float work on images goes a chunk of about this size at a time
DIGITS_TEST = 360  # of 1,797 images: a fixed 20% test split
SYNTHETIC_CLASSES = 10
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
FOLDER_LAYOUT = "expected a folder with one sub-folder of images per class"


@dataclass(frozen=True)
class Dataset:
    """A train/test split of uint8 images and labels, plus what training needs to know about it."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    flip: bool  # whether a horizontal mirror keeps the label (not for digits)

    @property
    def channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def resolution(self) -> int:
        return self.train_x.shape[2]

    def mean_std(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and standard deviation of the training images, in pixel units.

        Summed a chunk at a time: a float64 copy of the whole set would take 8 times its memory.
        """
        total = torch.zeros(self.channels, dtype=torch.float64)
        squares = torch.zeros(self.channels, dtype=torch.float64)
        for chunk in _chunks(self.train_x):
            x = chunk.double()
            total += x.sum(dim=(0, 2, 3))
            squares += x.square().sum(dim=(0, 2, 3))
        count = self.train_x.numel() // self.channels
        mean = total / count
        variance = (squares - count * mean.square()) / max(1, count - 1)
        return mean.float(), variance.clamp_min(0).sqrt().clamp_min(1.0).float()


def load_data(source: str, resolution: int) -> Dataset:
    """The dataset a `--data` value names, resized to `resolution` pixels square."""
    kind, arg = _parse(source)
    if kind == "digits":
        return _digits(resolution)
    if kind == "synthetic":
        return _synthetic(_count(arg), resolution)
    if kind == "cifar10":
        return _cifar10(Path(arg), resolution)
    return _folder(Path(arg), resolution)


def check_source(source: str) -> None:
    """load_data's cheap checks (the form of the value, its files are there) without loading anything.

    A sweep's driver runs them before it touches the store; its workers load the data.
    """
    kind, arg = _parse(source)
    if kind == "synthetic":
        _count(arg)
    elif kind == "cifar10":
        _cifar_files(Path(arg))
    elif kind == "folder":
        _folder_classes(Path(arg))


def _parse(source: str) -> tuple[str, str]:
    kind, _, arg = source.partition(":")
    if (kind == "digits" and not arg) or (kind in ("synthetic", "cifar10", "folder") and arg):
        return kind, arg
    raise SpecError(OPTION, ROOT, f"expected {SOURCES}, got {source!r}")


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 10 <= int(text) <= MAX_SYNTHETIC:
        raise SpecError(
            OPTION, "synthetic", f"expected a count of images from 10 to {MAX_SYNTHETIC:,}, got {text!r}"
        )
    return int(text)


def _chunks(images: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Batches of images whose float64 copies take about CHUNK_BYTES."""
    return images.split(max(1, CHUNK_BYTES // (8 * images[0].numel())))


def _image_array(source: str, n: int, channels: int, resolution: int) -> np.ndarray:
    """Room for n uint8 images (N, C, R, R), or one line saying how much memory they would need."""
    try:
        return np.empty((n, channels, resolution, resolution), dtype=np.uint8)
    except MemoryError:
        need = n * channels * resolution**2 / 2**30
        raise SpecError(
            source, ROOT, f"{n:,} images at {resolution} px need {need:,.1f} GiB of memory"
        ) from None


def _resize(images: np.ndarray, resolution: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, R, R), bilinear, deterministic on CPU."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    n, c = x.shape[:2]
    out = torch.from_numpy(_image_array(OPTION, n, c, resolution))
    if x.shape[2] == x.shape[3] == resolution:
        return out.copy_(x)
    at = 0
    for chunk in _chunks(out):  # sized by the output, the larger side when upsampling
        chunk.copy_(
            F.interpolate(
                x[at : at + len(chunk)].float(),
                size=(resolution, resolution),
                mode="bilinear",
                align_corners=False,
            )
            .round()
            .clamp(0, 255)
        )
        at += len(chunk)
    return out


def _split(name, x, y, test, num_classes, flip) -> Dataset:
    """Train on what is not in `test` (a boolean mask)."""
    y = torch.as_tensor(y, dtype=torch.int64)
    mask = torch.as_tensor(test)
    return Dataset(name, x[~mask], y[~mask], x[mask], y[mask], num_classes, flip)


def _digits(resolution: int) -> Dataset:
    """scikit-learn's 1,797 handwritten digits (8x8, 17 grey levels), upsampled; 360 held out."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SpecError(OPTION, "digits", "needs scikit-learn: pip install 'specgen[train]'") from None
    digits = load_digits()
    images = np.rint(digits.images * (255 / 16)).astype(np.uint8)[:, None]
    test = np.zeros(len(images), dtype=bool)
    test[np.random.default_rng(0).permutation(len(images))[:DIGITS_TEST]] = True
    return _split("digits", _resize(images, resolution), digits.target, test, 10, flip=False)


def _synthetic(n: int, resolution: int) -> Dataset:
    """N training images (and N/5 test images) of 10 classes: a smooth colour pattern per class plus noise."""
    gen = torch.Generator().manual_seed(0)
    prototypes = torch.rand(SYNTHETIC_CLASSES, 3, 4, 4, generator=gen) * 255
    prototypes = F.interpolate(
        prototypes, size=(resolution, resolution), mode="bilinear", align_corners=False
    )
    total = n + max(1, n // 5)
    labels = torch.randint(0, SYNTHETIC_CLASSES, (total,), generator=gen)
    noise = torch.randn(total, 3, resolution, resolution, generator=gen) * 48
    images = (prototypes[labels] + noise).round().clamp(0, 255).to(torch.uint8)
    test = torch.arange(total) >= n
    return _split(f"synthetic:{n}", images, labels, test, SYNTHETIC_CLASSES, flip=True)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings and NumPy arrays only: a batch file cannot run code."""

    _ALLOWED: ClassVar = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    expected = "a CIFAR-10 python batch: a pickled dict with b'data' (N x 3072 uint8) and b'labels' (0-9)"
    try:
        with path.open("rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except OSError as e:
        raise SpecError(str(path), ROOT, f"cannot read: {e.strerror}") from None
    except Exception:
        raise SpecError(str(path), ROOT, f"expected {expected}") from None
    data = batch.get(b"data") if isinstance(batch, dict) else None
    labels = batch.get(b"labels") if isinstance(batch, dict) else None
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
        or not isinstance(labels, list | np.ndarray)
        or len(labels) != len(data)
    ):
        raise SpecError(str(path), ROOT, f"expected {expected}")
    labels = np.asarray(labels)
    if (
        labels.ndim != 1
        or labels.dtype.kind not in "iu"
        or (len(labels) and (labels.min() < 0 or labels.max() > 9))
    ):
        raise SpecError(str(path), "labels", "expected a list of integers from 0 to 9")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _cifar_files(root: Path) -> list[Path]:
    """data_batch_1..5 and test_batch, which must all be there."""
    if not root.is_dir():
        raise SpecError(str(root), ROOT, "expected the CIFAR-10 python folder (data_batch_1..5, test_batch)")
    files = [root / name for name in (*CIFAR_TRAIN, CIFAR_TEST)]
    for path in files:
        if not path.is_file():
            raise SpecError(str(path), ROOT, "file not found")
    return files


def _cifar10(root: Path, resolution: int) -> Dataset:
    """The python-pickle CIFAR-10 folder: data_batch_1..5 for training, test_batch for test."""
    parts = [_cifar_batch(path) for path in _cifar_files(root)]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    test = np.arange(len(x)) >= len(x) - len(parts[-1][0])
    return _split("cifar10", _resize(x, resolution), y, test, 10, flip=True)


def _images(folder: Path, classes: list[str]) -> list[tuple[Path, int]]:
    """(image file, label) for every class sub-folder present; labels index `classes`."""
    files = []
    for label, name in enumerate(classes):
        if not (folder / name).is_dir():
            continue
        found = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise SpecError(str(folder / name), ROOT, f"expected images ({', '.join(IMAGE_SUFFIXES)})")
        files += [(p, label) for p in found]
    return files


def _read_image(path: Path, resolution: int) -> np.ndarray:
    """An image file as uint8 (3, R, R): its centre square, resized to R.

    The square is cut in the file's own pixels before resizing, so a long thin image
    (a 2 KB PNG can be 1 x 1,000,000) never becomes a huge intermediate.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = _eight_bit(image).convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as e:
        raise SpecError(str(path), ROOT, f"cannot read image: {e}") from None
    w, h = rgb.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    box = (left, top, left + side, top + side)
    rgb = rgb.resize((resolution, resolution), Image.Resampling.BILINEAR, box=box)
    return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)


def _eight_bit(image):
    """16-bit grey (Pillow's modes I;16 and I) as 8-bit grey by its high byte: Pillow's own
    conversion clips at 255, so nearly every 16-bit pixel would turn white."""
    from PIL import Image

    if image.mode == "F":
        raise ValueError("floating-point pixels; expected 8- or 16-bit images")
    if image.mode.startswith("I"):
        high = np.asarray(image, dtype=np.int64) >> 8
        return Image.fromarray(high.clip(0, 255).astype(np.uint8))
    return image


def _read_images(root: Path, paths: list[Path], resolution: int) -> np.ndarray:
    """Every image as uint8 (N, 3, R, R), decoded on all cores (Pillow releases the GIL to decode)."""
    x = _image_array(str(root), len(paths), 3, resolution)
    pool = ThreadPoolExecutor(min(32, os.cpu_count() or 1))
    try:
        for i, image in enumerate(pool.map(_read_image, paths, itertools.repeat(resolution))):
            x[i] = image
    finally:  # the first unreadable image ends the load: stop decoding the others
        pool.shutdown(cancel_futures=True)
    return x


def _folder_classes(root: Path) -> list[str]:
    """The class names: train/'s sub-folders, sorted; val/ may lack some but has no others."""
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise SpecError(str(root / split), ROOT, FOLDER_LAYOUT)
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    if not classes:
        raise SpecError(str(root / "train"), ROOT, FOLDER_LAYOUT)
    unknown = sorted(p.name for p in (root / "val").iterdir() if p.is_dir() and p.name not in classes)
    if unknown:
        raise SpecError(str(root / "val" / unknown[0]), ROOT, "expected a class that train/ also has")
    return classes


def _folder(root: Path, resolution: int) -> Dataset:
    """The ImageNet layout: train/CLASS/*.png and val/CLASS/*.png, classes in sorted order."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise SpecError(OPTION, "folder", "needs Pillow: pip install 'specgen[train]'") from None
    classes = _folder_classes(root)
    train, val = _images(root / "train", classes), _images(root / "val", classes)
    if not val:
        raise SpecError(str(root / "val"), ROOT, FOLDER_LAYOUT)
    files = train + val
    x = torch.from_numpy(_read_images(root, [p for p, _ in files], resolution))
    y = [label for _, label in files]
    test = np.arange(len(files)) >= len(train)
    return _split(f"folder:{root}", x, y, test, len(classes), flip=True)
