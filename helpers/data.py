"""Data: the bundled MNIST subset, a seeded split, a fast in-memory loader, and two data sets the course makes."""

import hashlib
import math
from pathlib import Path

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset, TensorDataset, random_split
from torchvision.datasets import MNIST
from torchvision.transforms import v2

from . import distributed
from .devices import get_default_device

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
FULL_MNIST_DIR = Path.home() / ".cache" / "pytorch-training-loop-course"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
CHECKSUMS = {  # SHA-256 of each file in data/MNIST/raw
    "t10k-images-idx3-ubyte": "661b9be9d66bbdec4fdea0720f1e9836bc6594070cb44db09fbd6b9b8f3b60e2",
    "t10k-images-idx3-ubyte.gz": "916878d099f99c55fe9304fe7c4d266f3494a6b7abce38e54c7b1abe46489019",
    "t10k-labels-idx1-ubyte": "9f9f83403fa89036e5960042fa3fdded854d1e4a5602fe4b476f8ff0e7865ff8",
    "t10k-labels-idx1-ubyte.gz": "7a3e2b81e941703f15d8c19d40605d5d86ce4ee6cee3fec8880c2b7a877a144f",
    "train-images-idx3-ubyte": "1e9078310c567ba67f27a599ba4b3d500ec700a6e7c642714aeba14d0af99cb1",
    "train-images-idx3-ubyte.gz": "a96d7c78eb9ade0e926b65e8b9ba3c142e5e1336d5f9c10cb2dd218f0be15302",
    "train-labels-idx1-ubyte": "daf1c61ba276c5ec7656a0a9c541c2f61cb96d7af3a019906cdb4cf08ef09728",
    "train-labels-idx1-ubyte.gz": "588fd70c0d2dc4725ae7718f331fe88cff7986b2cfd16a7b350da1709badbf27",
}
PAD = 0  # the token that pads sequences to a batch's longest; never a real token or target


def mnist_transform() -> v2.Compose:
    """Image to float tensor in [0, 1], then normalised with MNIST's mean and std."""
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize([MNIST_MEAN], [MNIST_STD])])


def mnist(train: bool = True, *, download: bool = False, root: str | Path | None = None) -> MNIST:
    """The bundled MNIST subset (4,000 train / 1,000 test), checked against its checksums; download=True fetches
    all 70,000 images."""
    root = Path(root) if root is not None else (FULL_MNIST_DIR if download else DATA_DIR)
    raw = root / "MNIST" / "raw"
    if root == DATA_DIR:
        _check_bundled(raw, "train" if train else "t10k")
    try:
        return MNIST(root, train=train, transform=mnist_transform(), download=download)
    except RuntimeError as error:
        if "Dataset not found" in str(error):
            missing = [name for name in CHECKSUMS if not name.endswith(".gz") and not (raw / name).is_file()]
            found = "No MNIST files" if len(missing) == 4 else f"No {', '.join(missing)}"
            raise FileNotFoundError(f"{found} in {raw}. The course ships them in data/: restore them with "
                                    "`git checkout -- data`, or pass download=True for the full dataset.") from None
        problem = error
    except (AssertionError, ValueError) as error:  # torchvision's parser on a damaged file
        problem = error
    raise ValueError(f"The MNIST files in {raw} cannot be read ({str(problem) or 'not in the MNIST format'}): "
                     "delete them and pass download=True to fetch them again.")


def _check_bundled(raw: Path, split: str) -> None:
    """Refuse a bundled file that is not the one the course ships (damaged, truncated or changed)."""
    for name in (f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"):
        path = raw / name
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() != CHECKSUMS[name]:
            raise ValueError(f"{path} is not the file the course ships (its checksum differs: damaged, truncated or "
                             "changed). Restore it with `git checkout -- data` in the course's folder.")


def train_val_split(dataset: Dataset, val_size: int, generator: torch.Generator) -> tuple[Subset, Subset]:
    """Shuffle and split with its own generator, so other random calls cannot move the split."""
    if not 0 < val_size < len(dataset):
        raise ValueError(f"val_size must be between 1 and {len(dataset) - 1} for {len(dataset)} samples, "
                         f"got {val_size}.")
    train, val = random_split(dataset, [len(dataset) - val_size, val_size], generator=generator)
    return train, val


def as_tensors(dataset: MNIST | Subset, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """All images and labels of an MNIST dataset (or a Subset of one), transformed as one batch, on `device`."""
    base, indices = (dataset.dataset, dataset.indices) if isinstance(dataset, Subset) else (dataset, slice(None))
    images = base.transform(base.data[indices].unsqueeze(1))
    return images.as_subclass(torch.Tensor).to(device), base.targets[indices].to(device)


class ShardSampler(DistributedSampler):
    """DistributedSampler without its padding: each process takes every world_size()-th sample of the
    epoch's order, and every sample is seen exactly once (so shards differ in length by at most one)."""

    def __init__(self, dataset: Dataset, *, shuffle: bool, seed: int = 0, num_replicas: int | None = None,
                 rank: int | None = None) -> None:
        """Shard for this process of torchrun's group unless `num_replicas` and `rank` are given."""
        super().__init__(dataset, num_replicas=num_replicas if num_replicas is not None else distributed.world_size(),
                         rank=rank if rank is not None else distributed.rank(), shuffle=shuffle, seed=seed)

    def __iter__(self):
        n = len(self.dataset)
        order = (torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
                 if self.shuffle else torch.arange(n))
        return iter(order[self.rank::self.num_replicas].tolist())

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))


def _rows(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """tensor[index], through index_select where that gives the same tensor (contiguous, index on its device):
    on a CPU several times quicker for a batch of images."""
    if tensor.is_contiguous() and tensor.device == index.device:
        return tensor.index_select(0, index)
    return tensor[index]  # keeps a channels_last layout; takes an index from another device


class TensorLoader:
    """Batches of in-memory tensors, indexed in the order a DataLoader would draw them.

    Under torchrun each process takes every world_size()-th sample of that order, as ShardSampler does."""

    def __init__(self, *tensors: torch.Tensor, batch_size: int = 64, shuffle: bool = False,
                 generator: torch.Generator | None = None, drop_last: bool = False) -> None:
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError(f"TensorLoader needs tensors of one length, got {[len(t) for t in tensors]}.")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number of samples, 1 or more; got {batch_size!r}.")
        self.dataset = TensorDataset(*tensors)
        self.batch_size, self.shuffle, self.generator, self.drop_last = batch_size, shuffle, generator, drop_last
        self.rank, self.shards = distributed.rank(), distributed.world_size()

    def __len__(self) -> int:
        n = len(range(self.rank, len(self.dataset), self.shards))  # this process's share
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        """Draw from the generator exactly as DataLoader and its RandomSampler do, so both agree."""
        n, tensors = len(self.dataset), self.dataset.tensors
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)  # DataLoader's worker base seed
        if self.shuffle:
            seed = torch.empty((), dtype=torch.int64)
            generator = self.generator or torch.Generator().manual_seed(int(seed.random_().item()))
            order = torch.randperm(n, generator=generator).to(tensors[0].device)
        elif self.shards > 1:
            order = torch.arange(n, device=tensors[0].device)
        indexed = self.shuffle or self.shards > 1
        if self.shards > 1:
            order = order[self.rank::self.shards]
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            # Shuffled or sharded batches gather their rows; the others are slices: views, no copy.
            if indexed:
                index = order[start:start + self.batch_size]
                yield tuple(_rows(t, index) for t in tensors)
            else:
                yield tuple(t[start:start + self.batch_size] for t in tensors)
        if self.shuffle:
            torch.randperm(n, generator=generator)  # RandomSampler draws one more, empty-sliced, per epoch


def mnist_loaders(batch_size: int = 64, *, generator: torch.Generator, val_size: int = 1000,
                  in_memory: bool = True, device: torch.device | None = None) -> tuple:
    """Training and validation loaders over the bundled training images (in memory, on `device`, by default)."""
    train_set, val_set = train_val_split(mnist(train=True), val_size, generator)
    if not in_memory and distributed.world_size() > 1:  # every process draws the same seed, so all shuffle alike
        seed = int(torch.randint(2**31, (), generator=generator))
        return (DataLoader(train_set, batch_size, sampler=ShardSampler(train_set, shuffle=True, seed=seed)),
                DataLoader(val_set, batch_size, sampler=ShardSampler(val_set, shuffle=False)))
    if not in_memory:
        return (DataLoader(train_set, batch_size, shuffle=True, generator=generator),
                DataLoader(val_set, batch_size))
    device = device if device is not None else get_default_device()
    return (TensorLoader(*as_tensors(train_set, device), batch_size=batch_size, shuffle=True, generator=generator),
            TensorLoader(*as_tensors(val_set, device), batch_size=batch_size))


def noisy_wave(n: int, *, generator: torch.Generator, noise: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs x uniform in [-3, 3] and targets sin(2x) + x / 3 plus Gaussian noise of std `noise`, both (n, 1).

    The noise cannot be learned: no model's mean squared error on fresh samples beats noise ** 2."""
    x = torch.rand(n, 1, generator=generator) * 6 - 3
    return x, torch.sin(2 * x) + x / 3 + noise * torch.randn(n, 1, generator=generator)


def running_sum(n: int, *, generator: torch.Generator, tokens: int = 8, classes: int = 3,
                lengths: tuple[int, int] = (2, 24)) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`n` sequences of random tokens 1..`tokens`, each of a length drawn from `lengths`, as (tokens, targets)
    pairs: each token's target is the sum of its sequence so far modulo `classes`, plus one (class 0 is PAD)."""
    sizes = torch.randint(lengths[0], lengths[1] + 1, (n,), generator=generator).tolist()
    sequences = [torch.randint(1, tokens + 1, (size,), generator=generator) for size in sizes]
    return [(sequence, sequence.cumsum(dim=0) % classes + 1) for sequence in sequences]


def pad_batch(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """A DataLoader's collate_fn for sequences: tokens and targets padded with PAD to the batch's longest, (N, T)."""
    tokens, targets = zip(*pairs)
    return (pad_sequence(tokens, batch_first=True, padding_value=PAD),
            pad_sequence(targets, batch_first=True, padding_value=PAD))
