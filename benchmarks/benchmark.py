"""Epoch time and memory of four training loops on the same model, data, seed and batch size.

    make bench                                   # CPU, and CUDA too when a GPU is present
    python benchmarks/benchmark.py --epochs 10 --device cpu

(a) a plain hand-written loop over in-memory tensors: the floor;
(b) helpers.fit on the in-memory path (TensorLoader);
(c) helpers.fit on torchvision's MNIST through a DataLoader;
(d) the classic template: torchvision's MNIST with per-item v2 transforms through a DataLoader,
    loss.item() every batch, TorchMetrics' MulticlassAccuracy with its defaults.
Each epoch trains on the 4,000 training images and evaluates on the 1,000 test images. The loops take
turns, a block of epochs each (one `fit` call for (b) and (c), as in real use), so a change in the
machine's speed during the run affects them alike. The epoch time is the median over the blocks after
the first (a warm-up), and "x (a)" the median of each round's ratio to the floor's time. Memory: on a
GPU, the peak a block allocates above what was already allocated;
everywhere, how much the process's resident memory grew over the blocks after the first (flat is 0).
"""

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassAccuracy

import helpers

BATCH = 64


def plain_loop(device: torch.device) -> Callable[[int], None]:
    """(a) The floor: in-memory tensors, loss and accuracy summed on the device, one read-back per pass."""
    generator = helpers.set_seed(0)
    train_x, train_y = helpers.as_tensors(helpers.mnist(train=True), device)
    test_x, test_y = helpers.as_tensors(helpers.mnist(train=False), device)
    model = helpers.mnist_mlp().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()

    def epoch() -> None:
        model.train()
        total, correct = torch.zeros((), device=device), torch.zeros((), device=device)
        order = torch.randperm(len(train_x), generator=generator).to(device)
        for index in order.split(BATCH):
            x, y = train_x[index], train_y[index]
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
        (total / len(train_x)).item(), (correct / len(train_x)).item()  # the pass's one read-back, as in (b)
        model.eval()
        total, correct = torch.zeros((), device=device), torch.zeros((), device=device)
        with torch.inference_mode():
            for x, y in zip(test_x.split(BATCH), test_y.split(BATCH)):
                logits = model(x)
                total += loss_fn(logits, y) * len(y)
                correct += (logits.argmax(1) == y).sum()
        (total / len(test_x)).item(), (correct / len(test_x)).item()  # likewise for evaluation

    return lambda epochs: [epoch() for _ in range(epochs)]


def helpers_fit(device: torch.device, in_memory: bool, compile: bool = False) -> Callable[[int], None]:
    """(b), (c) and (e): helpers.fit on the in-memory or the DataLoader path, the model compiled or not."""
    generator = helpers.set_seed(0)
    test = helpers.mnist(train=False)
    if in_memory:
        train_loader = helpers.TensorLoader(*helpers.as_tensors(helpers.mnist(), device),
                                            batch_size=BATCH, shuffle=True, generator=generator)
        test_loader = helpers.TensorLoader(*helpers.as_tensors(test, device), batch_size=BATCH)
    else:
        train_loader = DataLoader(helpers.mnist(), BATCH, shuffle=True, generator=generator)
        test_loader = DataLoader(test, BATCH)
    model = helpers.mnist_mlp().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    metrics = helpers.classification_metrics()
    if compile:
        model = torch.compile(model)

    def run(epochs: int) -> None:
        helpers.fit(model, train_loader, test_loader, nn.CrossEntropyLoss(), optimizer, epochs=epochs,
                    metrics=metrics, device=device, progress=False)

    return run


def classic_template(device: torch.device) -> Callable[[int], None]:
    """(d) The classic template: per-item transforms, a DataLoader, loss.item() every batch."""
    generator = helpers.set_seed(0)
    train_loader = DataLoader(helpers.mnist(), BATCH, shuffle=True, generator=generator)
    test_loader = DataLoader(helpers.mnist(train=False), BATCH)
    model = helpers.mnist_mlp().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    train_acc, test_acc = MulticlassAccuracy(num_classes=10).to(device), MulticlassAccuracy(num_classes=10).to(device)

    def epoch() -> None:
        model.train()
        train_acc.reset()
        running = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            logits = model(x)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(y)
            train_acc.update(logits, y)
        train_acc.compute()
        model.eval()
        test_acc.reset()
        running = 0.0
        with torch.inference_mode():
            for x, y in test_loader:
                x, y = x.to(device), y.to(device)
                logits = model(x)
                running += loss_fn(logits, y).item() * len(y)
                test_acc.update(logits, y)
        test_acc.compute()

    return lambda epochs: [epoch() for _ in range(epochs)]


VARIANTS = {
    "(a) plain loop, in memory": plain_loop,
    "(b) helpers.fit, in memory": lambda device: helpers_fit(device, in_memory=True),
    "(c) helpers.fit, DataLoader": lambda device: helpers_fit(device, in_memory=False),
    "(d) classic template": classic_template,
}


def resident_mib() -> float:
    """The process's resident memory (Linux), in MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed_block(run: Callable[[int], None], epochs: int, device: torch.device) -> tuple[float, float, float]:
    """Seconds per epoch over a block of epochs, the peak memory the block added (GPU only), and the
    resident memory it left behind."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    baseline, resident = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0, resident_mib()
    start = time.perf_counter()
    run(epochs)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - start) / epochs
    peak = (torch.cuda.max_memory_allocated(device) - baseline) / 2**20 if device.type == "cuda" else float("nan")
    return seconds, peak, resident_mib() - resident


def measure(device: torch.device, blocks: int, epochs: int, variants: dict) -> dict[str, tuple[float, ...]]:
    """Each loop runs a block of `epochs` epochs in turn, `blocks` rounds. Per loop, over the rounds after the
    first (a warm-up): the median seconds per epoch; the median of its time divided by the floor's in the
    same round (neighbours in time, so a drift in the machine's speed cancels); the median GPU peak; the
    resident-memory growth summed over those rounds; and the first round's seconds per epoch."""
    loops = {label: make(device) for label, make in variants.items()}
    rounds = [{label: timed_block(run, epochs, device) for label, run in loops.items()} for _ in range(blocks)]
    floor = next(iter(loops))
    return {label: (statistics.median(r[label][0] for r in rounds[1:]),
                    statistics.median(r[label][0] / r[floor][0] for r in rounds[1:]),
                    statistics.median(r[label][1] for r in rounds[1:]),
                    sum(r[label][2] for r in rounds[1:]), rounds[0][label][0]) for label in loops}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=8, help="blocks per loop; the first is a warm-up")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per block")
    parser.add_argument("--device", action="append", help="cpu, cuda, ... (default: cpu, and cuda when present)")
    parser.add_argument("--compile", action="store_true", help="add (e): (b) with torch.compile (slow to start)")
    args = parser.parse_args()
    if args.blocks < 2 or args.epochs < 1:
        parser.error("need --blocks 2 or more (the first is a warm-up) and --epochs 1 or more")
    for name in args.device or ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        device = torch.device(name)
        threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
        print(f"\n{helpers.device_name(device)}{threads}: MLP 784-128-10, batch {BATCH}, 4,000 training + "
              f"1,000 test images per epoch, {args.blocks} blocks of {args.epochs} epochs (median of blocks 2-{args.blocks})")
        print(f"{'loop':32} {'epoch s':>8} {'x (a)':>7} {'GPU peak MiB':>13} {'RSS growth MiB':>15} {'first block s':>14}")
        variants = dict(VARIANTS)
        if args.compile:
            variants["(e) helpers.fit, compiled model"] = lambda device: helpers_fit(device, True, compile=True)
        results = measure(device, args.blocks, args.epochs, variants)
        for label, (seconds, ratio, peak, growth, first) in results.items():
            print(f"{label:32} {seconds:8.4f} {ratio:7.2f} {peak:13.1f} {growth:15.1f} {first:14.4f}")


if __name__ == "__main__":
    main()
