import numpy as np
import pytest
import torch

from modlib import data
from modlib.data import MnistError, idx_bytes, load_mnist, raw_dir
from tests.conftest import needs_mnist


def write_small_mnist(root, n_train=12, n_test=7, seed=0):
    """Tiny idx files in torchvision's layout; returns their checksums and arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    sums = {}
    for name, array in arrays.items():
        blob = idx_bytes(array)
        (raw_dir(root)).mkdir(parents=True, exist_ok=True)
        (raw_dir(root) / name).write_bytes(blob)
        sums[name] = data.sha256(blob)
    return sums, arrays


def test_loader_reads_idx_files_in_order(tmp_path):
    sums, arrays = write_small_mnist(tmp_path)
    images, labels = load_mnist("test", root=tmp_path, checksums=sums)
    assert images.dtype == torch.uint8 and images.shape == (7, 28, 28)
    assert labels.dtype == torch.int64 and labels.shape == (7,)
    assert np.array_equal(images.numpy(), arrays["t10k-images-idx3-ubyte"])
    assert np.array_equal(labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    images, _ = load_mnist("train", root=tmp_path, checksums=sums)
    assert np.array_equal(images.numpy(), arrays["train-images-idx3-ubyte"])


def test_corrupted_file_raises_error_naming_it(tmp_path):
    sums, _ = write_small_mnist(tmp_path, seed=1)
    victim = raw_dir(tmp_path) / "t10k-images-idx3-ubyte"
    blob = bytearray(victim.read_bytes())
    blob[100] ^= 0xFF
    victim.write_bytes(bytes(blob))
    with pytest.raises(MnistError, match="t10k-images-idx3-ubyte.*Delete it"):
        load_mnist("test", root=tmp_path, checksums=sums)


def test_truncated_file_is_caught_by_checksum(tmp_path):
    sums, _ = write_small_mnist(tmp_path, seed=2)
    victim = raw_dir(tmp_path) / "train-labels-idx1-ubyte"
    victim.write_bytes(victim.read_bytes()[:-3])
    with pytest.raises(MnistError, match="train-labels-idx1-ubyte"):
        load_mnist("train", root=tmp_path, checksums=sums)


def test_bad_split_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist("validation", root=tmp_path)


def test_unreachable_sources_give_one_error_listing_them(tmp_path, monkeypatch):
    def offline(root):
        raise OSError("network unreachable")

    monkeypatch.setattr(data, "SOURCES", {"mirror A": offline, "mirror B": offline})
    with pytest.raises(MnistError, match="mirror A.*mirror B") as info:
        data.ensure_mnist(tmp_path)
    assert "MODLIB_DATA" in str(info.value)
    assert not list(raw_dir(tmp_path).glob("*")) if raw_dir(tmp_path).exists() else True


def test_atomic_write_leaves_no_partial_file(tmp_path):

    target = tmp_path / "f.bin"
    with pytest.raises(TypeError):
        data.write_atomic(target, object())  # fails mid-write
    assert list(tmp_path.iterdir()) == []


def test_idx_header_is_big_endian_with_magic():
    blob = idx_bytes(np.zeros((3, 2, 5), dtype=np.uint8))
    assert blob[:4] == bytes([0, 0, 8, 3])
    assert blob[4:16] == np.array([3, 2, 5], dtype=">u4").tobytes()
    assert len(blob) == 16 + 30


OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_mnist
def test_real_test_split_has_official_counts():
    images, labels = load_mnist("test")
    assert images.shape == (10000, 28, 28)
    assert torch.bincount(labels, minlength=10).tolist() == OFFICIAL_TEST_COUNTS
    train_images, train_labels = load_mnist("train")
    assert train_images.shape == (60000, 28, 28) and train_labels[:5].tolist() == [5, 0, 4, 1, 9]
