"""Read the MNIST data set from its original IDX ``.gz`` files or a Keras ``mnist.npz``.

Training, evaluation and the accuracy tests all read MNIST through this module, so
the same validation (magic numbers, counts, truncation) and the same checksums apply
everywhere. Nothing is downloaded: the files must already be in the folder.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recognizer.recognition.images import IMAGE_SIDE

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
NPZ_FILE = "mnist.npz"

# IDX magic numbers: 0x00000803 (unsigned byte, 3 dimensions) and 0x00000801 (1 dimension).
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
# The sizes of the real data set; anything else means the wrong or a damaged file.
TRAIN_COUNT = 60_000
TEST_COUNT = 10_000


class MnistDataError(Exception):
    """The MNIST folder is missing, or a file in it is damaged or not MNIST."""


@dataclass(frozen=True)
class MnistData:
    x_train: np.ndarray  # (60000, 28, 28) uint8, white digit on black
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray  # (10000,) uint8
    source: str  # "idx" or "npz"
    checksums: dict[str, str] = field(default_factory=dict)  # file name -> sha256


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_gzip(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise MnistDataError(f"{path} is missing.") from None
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a cut-off file raises EOFError.
        raise MnistDataError(f"{path} is not a readable gzip file ({exc}).") from None


def _parse_idx(raw: bytes, path: Path, magic: int, expected_count: int) -> np.ndarray:
    dims = 3 if magic == IMAGES_MAGIC else 1
    header_size = 4 + 4 * dims
    if len(raw) < header_size:
        raise MnistDataError(f"{path} is too short to be an IDX file.")
    found_magic = struct.unpack(">i", raw[:4])[0]
    if found_magic != magic:
        raise MnistDataError(
            f"{path} has the wrong magic number {found_magic} (expected {magic}): "
            "it is not the MNIST file its name says."
        )
    shape = struct.unpack(f">{dims}i", raw[4:header_size])
    if shape[0] != expected_count:
        raise MnistDataError(f"{path} holds {shape[0]} items, expected {expected_count}.")
    if dims == 3 and shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise MnistDataError(f"{path} holds {shape[1]}x{shape[2]} images, expected 28x28.")
    expected_bytes = int(np.prod(shape))
    body = raw[header_size:]
    if len(body) != expected_bytes:
        raise MnistDataError(
            f"{path} has {len(body)} bytes of data, expected {expected_bytes}: it is truncated "
            "or has trailing data."
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _check_labels(labels: np.ndarray, path: Path) -> None:
    if labels.size and labels.max() > 9:
        raise MnistDataError(f"{path} has labels outside 0-9.")


def _load_idx(folder: Path) -> MnistData:
    arrays: dict[str, np.ndarray] = {}
    checksums: dict[str, str] = {}
    for key, name in IDX_FILES.items():
        path = folder / name
        is_images = key.endswith("images")
        count = TRAIN_COUNT if key.startswith("train") else TEST_COUNT
        raw = _read_gzip(path)
        arrays[key] = _parse_idx(raw, path, IMAGES_MAGIC if is_images else LABELS_MAGIC, count)
        if not is_images:
            _check_labels(arrays[key], path)
        checksums[name] = sha256_file(path)
    return MnistData(
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
        source="idx",
        checksums=checksums,
    )


def _load_npz(path: Path) -> MnistData:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as exc:
        raise MnistDataError(f"{path} lacks the array {exc}.") from None
    except (OSError, ValueError, zlib.error, EOFError) as exc:
        raise MnistDataError(f"{path} is not a readable .npz file ({exc}).") from None
    expected = {
        "x_train": (TRAIN_COUNT, IMAGE_SIDE, IMAGE_SIDE),
        "y_train": (TRAIN_COUNT,),
        "x_test": (TEST_COUNT, IMAGE_SIDE, IMAGE_SIDE),
        "y_test": (TEST_COUNT,),
    }
    for key, shape in expected.items():
        if arrays[key].shape != shape or arrays[key].dtype != np.uint8:
            raise MnistDataError(
                f"{path}: {key} is {arrays[key].dtype} {arrays[key].shape}, expected uint8 {shape}."
            )
    _check_labels(arrays["y_train"], path)
    _check_labels(arrays["y_test"], path)
    return MnistData(**arrays, source="npz", checksums={NPZ_FILE: sha256_file(path)})


def load_mnist(folder: Path | str) -> MnistData:
    """Load MNIST from ``folder``: the four IDX ``.gz`` files, or else ``mnist.npz``.

    Raises MnistDataError with a message fit for a user when the folder or a file is
    missing, or a file is damaged (bad gzip, wrong magic number, wrong counts, truncated).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MnistDataError(
            f"MNIST data folder {folder} does not exist: pass --data DIR or set MNIST_DATA."
        )
    present = [name for name in IDX_FILES.values() if (folder / name).exists()]
    if not present and (folder / NPZ_FILE).is_file():
        return _load_npz(folder / NPZ_FILE)
    if len(present) < len(IDX_FILES):
        missing = sorted(set(IDX_FILES.values()) - set(present))
        raise MnistDataError(
            f"MNIST data folder {folder} lacks {', '.join(missing)} "
            f"(it needs the four IDX .gz files or {NPZ_FILE})."
        )
    return _load_idx(folder)
