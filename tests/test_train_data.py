"""Data sources: the CIFAR-10 python batches and the ImageNet folder layout, written here in tiny
form, and one clear line (exit 2) for every missing or malformed data path."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from specgen.cli import main
from specgen.errors import SpecError
from specgen.train.data import CIFAR_TEST, CIFAR_TRAIN, load_data


def write_cifar(root, per_batch=4):
    """The CIFAR-10 python format: pickled dicts with bytes keys, data N x 3072 uint8 (RGB planes)."""
    root.mkdir()
    rng = np.random.default_rng(0)
    for i, name in enumerate((*CIFAR_TRAIN, CIFAR_TEST)):
        batch = {
            b"batch_label": name.encode(),
            b"labels": [(i + j) % 10 for j in range(per_batch)],
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"filenames": [f"{name}_{j}.png".encode() for j in range(per_batch)],
        }
        with (root / name).open("wb") as f:
            pickle.dump(batch, f, protocol=2)
    with (root / "batches.meta").open("wb") as f:
        pickle.dump({b"label_names": [f"c{k}".encode() for k in range(10)]}, f, protocol=2)
    return root


def write_folder(root, classes=("cat", "dog", "eel"), per_class=3):
    for split in ("train", "val"):
        for k, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for j in range(per_class if split == "train" else 1):
                pixels = np.full((12, 20, 3), 40 * k + j, dtype=np.uint8)
                pixels[:, :, 1] = 255 - 40 * k  # a colour per class
                Image.fromarray(pixels).save(folder / f"{j}.png")
    return root


def test_cifar10_batches_load_in_order(tmp_path):
    root = write_cifar(tmp_path / "cifar")
    data = load_data(f"cifar10:{root}", 32)
    assert data.train_x.shape == (20, 3, 32, 32) and data.test_x.shape == (4, 3, 32, 32)
    assert data.num_classes == 10 and data.flip
    with (root / "data_batch_1").open("rb") as f:
        first = pickle.load(f, encoding="bytes")
    assert np.array_equal(data.train_x[0].numpy().reshape(-1), first[b"data"][0])
    assert data.train_y[:4].tolist() == first[b"labels"]
    assert load_data(f"cifar10:{root}", 16).train_x.shape == (20, 3, 16, 16)


def test_image_folder_reads_classes_in_sorted_order(tmp_path):
    root = write_folder(tmp_path / "imagenet")
    data = load_data(f"folder:{root}", 8)
    assert data.train_x.shape == (9, 3, 8, 8) and data.test_x.shape == (3, 3, 8, 8)
    assert data.train_y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2] and data.test_y.tolist() == [0, 1, 2]
    assert data.num_classes == 3
    assert data.test_x[2, 1].unique().tolist() == [255 - 80]  # a flat image keeps its colour


def test_an_image_is_cut_to_its_centre_square_before_it_is_resized(tmp_path, monkeypatch):
    """A 2 KB PNG of 1 x 100,000 pixels must not become a 64 x 6,400,000 intermediate."""
    root = write_folder(tmp_path / "images")
    wide = np.zeros((1, 100_000, 3), dtype=np.uint8)
    wide[0, 49_990:50_010] = 200  # around the centre pixel, which is all that is kept
    Image.fromarray(wide).save(root / "train" / "cat" / "wide.png")
    sizes, resize = [], Image.Image.resize
    monkeypatch.setattr(
        Image.Image, "resize", lambda im, size, *a, **k: sizes.append(size) or resize(im, size, *a, **k)
    )
    data = load_data(f"folder:{root}", 64)
    assert set(sizes) == {(64, 64)}
    assert data.train_x[3].unique().tolist() == [200]  # cat's 4th image, sorted after 0-2.png


def test_sixteen_bit_grey_images_keep_their_contrast(tmp_path):
    root = write_folder(tmp_path / "images")
    levels = np.array([[30_000, 1_000]], dtype=np.uint16).repeat(2, axis=0)
    Image.fromarray(levels).save(root / "train" / "cat" / "deep.png")  # Pillow's mode I;16
    data = load_data(f"folder:{root}", 2)
    assert Image.open(root / "train" / "cat" / "deep.png").mode == "I;16"
    assert data.train_x[3, :, 0].tolist() == [[117, 3]] * 3  # 30,000 >> 8, 1,000 >> 8; was all 255


def test_floating_point_images_are_one_line(tmp_path):
    root = write_folder(tmp_path / "images")
    Image.fromarray(np.ones((4, 4), dtype=np.float32)).save(root / "train" / "cat" / "float.tif")
    with pytest.raises(SpecError) as error:
        load_data(f"folder:{root}", 8)
    assert str(error.value) == (
        f"{root}/train/cat/float.tif: $: cannot read image: "
        "floating-point pixels; expected 8- or 16-bit images"
    )


def test_synthetic_data_has_the_requested_size(tmp_path):
    data = load_data("synthetic:50", 12)
    assert data.train_x.shape == (50, 3, 12, 12) and len(data.test_y) == 10
    assert torch.equal(load_data("synthetic:50", 12).train_x, data.train_x)


def _bad_cifar_pickle(root):
    write_cifar(root)
    with (root / "data_batch_3").open("wb") as f:
        pickle.dump({b"data": [1, 2, 3], b"labels": [0]}, f)
    return f"cifar10:{root}", "data_batch_3: $: expected a CIFAR-10 python batch"


def _code_in_pickle(root):
    write_cifar(root)
    (root / "test_batch").write_bytes(pickle.dumps(print))
    return f"cifar10:{root}", "test_batch: $: expected a CIFAR-10 python batch"


def _nested_labels(root):
    write_cifar(root)
    with (root / "test_batch").open("rb") as f:
        batch = pickle.load(f, encoding="bytes")
    batch[b"labels"] = np.zeros((len(batch[b"data"]), 1), dtype=np.int64)  # a column, not a list
    with (root / "test_batch").open("wb") as f:
        pickle.dump(batch, f, protocol=2)
    return f"cifar10:{root}", "test_batch: labels: expected a list of integers from 0 to 9"


def _missing_batch(root):
    write_cifar(root)
    (root / "data_batch_5").unlink()
    return f"cifar10:{root}", "data_batch_5: $: file not found"


def _not_an_image(root):
    write_folder(root)
    (root / "train" / "dog" / "9.png").write_bytes(b"not a png")
    return f"folder:{root}", "9.png: $: cannot read image"


def _no_val(root):
    write_folder(root)
    for p in (root / "val").rglob("*.png"):
        p.unlink()
    for p in sorted((root / "val").iterdir()):
        p.rmdir()
    return f"folder:{root}", "val: $: expected a folder with one sub-folder of images per class"


def _unknown_val_class(root):
    write_folder(root)
    (root / "val" / "fox").mkdir()
    return f"folder:{root}", "fox: $: expected a class that train/ also has"


CASES = {
    "missing cifar folder": lambda root: (f"cifar10:{root}", "cifar: $: expected the CIFAR-10 python folder"),
    "missing image folder": lambda root: (f"folder:{root}", "train: $: expected a folder with one"),
    "unknown source": lambda root: ("mnist", "--data: $: expected digits, synthetic:N, cifar10:PATH or"),
    "bad synthetic count": lambda root: ("synthetic:lots", "--data: synthetic: expected a count of images"),
    "non-ASCII digit": lambda root: ("synthetic:1²", "--data: synthetic: expected a count of images"),
    "malformed batch": _bad_cifar_pickle,
    "code in a pickle": _code_in_pickle,
    "missing batch": _missing_batch,
    "labels in a column": _nested_labels,
    "not an image": _not_an_image,
    "empty val": _no_val,
    "unknown val class": _unknown_val_class,
}


@pytest.mark.parametrize("case", CASES)
def test_bad_data_is_one_line_and_exit_2(case, tmp_path):
    source, expected = CASES[case](tmp_path / "cifar")
    with pytest.raises(SpecError) as error:
        load_data(source, 16)
    assert expected in str(error.value)
    spec = tmp_path / "tiny.json"
    spec.write_text('{"kind": "anynet", "name": "t", "stages": [{"depth": 1, "width": 8, "group_width": 8}]}')
    args = ["train", str(spec), "--data", source, "--epochs", "1", "--resolution", "16"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip() == str(error.value) and "\n" not in result.stderr.strip()


def test_an_image_too_large_to_decode_safely_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the 12 x 20 test images are then bombs
    with pytest.raises(SpecError, match=r"0\.png: \$: cannot read image"):
        load_data(f"folder:{write_folder(tmp_path / 'images')}", 16)


def test_images_that_do_not_fit_in_memory_are_one_line(tmp_path, monkeypatch):
    root = write_folder(tmp_path / "images")

    def no_memory(shape, dtype):
        raise MemoryError

    monkeypatch.setattr("specgen.train.data.np.empty", no_memory)
    with pytest.raises(SpecError) as error:
        load_data(f"folder:{root}", 2048)
    assert str(error.value) == f"{root}: $: 12 images at 2048 px need 0.1 GiB of memory"


def test_float_work_on_images_goes_a_chunk_at_a_time_with_the_same_result(monkeypatch):
    whole = load_data("digits", 12)
    x = whole.train_x.double()
    mean, std = whole.mean_std()
    assert torch.allclose(mean, x.mean(dim=(0, 2, 3)).float()) and torch.allclose(
        std, x.std(dim=(0, 2, 3)).float()
    )
    monkeypatch.setattr("specgen.train.data.CHUNK_BYTES", 8 * 12 * 12 * 5)  # five images a chunk
    chunked = load_data("digits", 12)
    assert torch.equal(chunked.train_x, whole.train_x) and torch.equal(chunked.test_x, whole.test_x)
    assert all(torch.allclose(a, b, rtol=1e-6) for a, b in zip(chunked.mean_std(), (mean, std), strict=True))


def test_images_too_many_for_memory_at_that_resolution_are_one_line(monkeypatch):
    empty = np.empty

    def no_memory(shape, dtype=float):
        if isinstance(shape, tuple) and shape[-2:] == (2048, 2048):  # the images, not sklearn's arrays
            raise MemoryError
        return empty(shape, dtype)

    monkeypatch.setattr("specgen.train.data.np.empty", no_memory)
    with pytest.raises(SpecError) as error:
        load_data("digits", 2048)
    assert str(error.value) == "--data: $: 1,797 images at 2048 px need 7.0 GiB of memory"
