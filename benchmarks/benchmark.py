"""Epoch time and memory of training loops on the same model, data, seed and batch size.

    make bench                                   # CPU, and CUDA too when a GPU is present
    python benchmarks/benchmark.py --epochs 10 --device cpu
    python benchmarks/benchmark.py --profile 8   # instead: where one epoch of each loop spends its time
    python benchmarks/benchmark.py --scaling benchmarks/scaling.png   # instead: epoch time against size

(a) a plain hand-written loop over in-memory tensors: the floor;
(b) helpers.fit on the in-memory path (TensorLoader);
(c) helpers.fit on torchvision's MNIST through a DataLoader;
(d) the classic template: torchvision's MNIST with per-item v2 transforms through a DataLoader,
    loss.item() every batch, TorchMetrics' MulticlassAccuracy with its defaults;
(e) with --compile: (b) with torch.compile(model);
(f) PyTorch Lightning's Trainer and (g) PyTorch-Ignite's engines, on (b)'s in-memory loaders, when the
    optional `bench` extra is installed.
Each epoch trains on the 4,000 training images and evaluates on the 1,000 test images, with loss and
accuracy for both. The loops take turns, a block of epochs each (one `fit` call per block for (b), (c)
and (f), as in real use), so a change in the machine's speed during the run affects them alike. The
epoch time is the median over the blocks after the first (a warm-up), and "x (a)" the median of each
round's ratio to the floor's time. Memory: on a GPU, the peak a block allocates above what was already
allocated; everywhere, how much the process's resident memory grew over the blocks after the first
(flat is 0), and at the end the process's peak resident memory.
"""

import argparse
import cProfile
import importlib.util
import logging
import os
import pstats
import resource
import statistics
import time
import warnings
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
            x, y = train_x.index_select(0, index), train_y.index_select(0, index)  # as TensorLoader gathers
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
    if in_memory:
        train_loader, test_loader = in_memory_loaders(device)
    else:
        generator = helpers.set_seed(0)
        train_loader = DataLoader(helpers.mnist(), BATCH, shuffle=True, generator=generator)
        test_loader = DataLoader(helpers.mnist(train=False), BATCH)
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


def in_memory_loaders(device: torch.device) -> tuple[helpers.TensorLoader, helpers.TensorLoader]:
    """The training and test images on `device`, batched by index, as (b) and the peers take them."""
    generator = helpers.set_seed(0)
    return (helpers.TensorLoader(*helpers.as_tensors(helpers.mnist(), device), batch_size=BATCH, shuffle=True,
                                 generator=generator),
            helpers.TensorLoader(*helpers.as_tensors(helpers.mnist(train=False), device), batch_size=BATCH))


def lightning_trainer(device: torch.device) -> Callable[[int], None]:
    """(f) PyTorch Lightning's Trainer, progress bar, logger, checkpointing and model summary off; the epoch's
    loss and accuracy logged with on_epoch=True, as Lightning's examples do."""
    import lightning.pytorch as pl

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # its tips and notices, not the timing
    warnings.filterwarnings("ignore", module=r"lightning\.")
    train_loader, test_loader = in_memory_loaders(device)

    class Classifier(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model, self.loss_fn = helpers.mnist_mlp(), nn.CrossEntropyLoss()
            self.accuracy = nn.ModuleDict({f"{phase}_accuracy": MulticlassAccuracy(num_classes=10, average="micro")
                                           for phase in ("train", "val")})

        def step(self, batch, phase: str) -> torch.Tensor:
            x, y = batch
            logits = self.model(x)
            loss = self.loss_fn(logits, y)
            accuracy = self.accuracy[f"{phase}_accuracy"]
            accuracy(logits, y)
            self.log(f"{phase}_loss", loss, on_step=False, on_epoch=True)
            self.log(f"{phase}_accuracy", accuracy, on_step=False, on_epoch=True)
            return loss

        def training_step(self, batch, batch_index: int) -> torch.Tensor:
            return self.step(batch, "train")

        def validation_step(self, batch, batch_index: int) -> None:
            self.step(batch, "val")

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.05)

    module = Classifier()

    def run(epochs: int) -> None:
        trainer = pl.Trainer(max_epochs=epochs, accelerator=device.type, devices=1, logger=False,
                             enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
                             num_sanity_val_steps=0)
        trainer.fit(module, train_loader, test_loader)

    return run


def ignite_engines(device: torch.device) -> Callable[[int], None]:
    """(g) PyTorch-Ignite: create_supervised_trainer, and an evaluator with its Accuracy and Loss run after
    every epoch."""
    from ignite.engine import Events, create_supervised_evaluator, create_supervised_trainer
    from ignite.metrics import Accuracy, Loss

    train_loader, test_loader = in_memory_loaders(device)
    model = helpers.mnist_mlp().to(device)
    loss_fn = nn.CrossEntropyLoss()
    trainer = create_supervised_trainer(model, torch.optim.SGD(model.parameters(), lr=0.05), loss_fn, device=device)
    evaluator = create_supervised_evaluator(model, {"accuracy": Accuracy(), "loss": Loss(loss_fn)}, device=device)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda engine: evaluator.run(test_loader))

    def run(epochs: int) -> None:
        trainer.run(train_loader, max_epochs=trainer.state.epoch + epochs)

    return run


def fastai_learner(device: torch.device) -> Callable[[int], None]:
    """(h) fastai's Learner with its accuracy metric, logging off (and no progress bar)."""
    with warnings.catch_warnings():  # fastai's imports warn about torch features it uses
        warnings.simplefilter("ignore")
        from fastai.data.core import DataLoaders
        from fastai.learner import Learner
        from fastai.metrics import accuracy
        from fastai.optimizer import SGD

    train_loader, test_loader = in_memory_loaders(device)
    learner = Learner(DataLoaders(train_loader, test_loader, device=device), helpers.mnist_mlp().to(device),
                      loss_func=nn.CrossEntropyLoss(), opt_func=SGD, metrics=accuracy)

    def run(epochs: int) -> None:
        with learner.no_logging():  # no progress bar either: fastai.callback.progress is not imported
            learner.fit(epochs, lr=0.05)

    return run


VARIANTS = {
    "(a) plain loop, in memory": plain_loop,
    "(b) helpers.fit, in memory": lambda device: helpers_fit(device, in_memory=True),
    "(c) helpers.fit, DataLoader": lambda device: helpers_fit(device, in_memory=False),
    "(d) classic template": classic_template,
}
PEERS = {  # from the optional `bench` extra: pip install -e ".[bench]"
    "(f) Lightning Trainer": ("lightning", lightning_trainer),
    "(g) Ignite engines": ("ignite", ignite_engines),
    "(h) fastai Learner": ("fastai", fastai_learner),
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


def seconds_per_epoch(device: torch.device, images: torch.Tensor, labels: torch.Tensor, test: helpers.TensorLoader,
                      copies: int, batch_size: int, repeats: int = 5) -> float:
    """The fastest of `repeats` helpers.fit epochs (in memory) over `copies` times the training images, in batches
    of `batch_size`, validating on `test`, after one warm-up epoch: the least disturbed by other programs."""
    loader = helpers.TensorLoader(images.repeat(copies, 1, 1, 1), labels.repeat(copies), batch_size=batch_size,
                                  shuffle=True, generator=helpers.set_seed(0))
    model = helpers.mnist_mlp().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        helpers.fit(model, loader, test, nn.CrossEntropyLoss(), optimizer, epochs=1, device=device, progress=False,
                    metrics=helpers.classification_metrics())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return min(times[1:])


def scaling(device: torch.device, plot: str) -> None:
    """How helpers.fit's epoch time grows with the number of samples (batch 64) and with the batch size (4,000
    samples): printed, and drawn to `plot`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, test = in_memory_loaders(device)
    images, labels = train.dataset.tensors
    sizes = {copies * 4000: seconds_per_epoch(device, images, labels, test, copies, BATCH) for copies in (1, 4, 16)}
    batches = {batch: seconds_per_epoch(device, images, labels, test, 1, batch) for batch in (16, 64, 256, 1024)}
    print(f"\n{helpers.device_name(device)}: helpers.fit in memory, seconds per epoch "
          "(the fastest of 5 after a warm-up)")
    for samples, seconds in sizes.items():
        print(f"{samples:6d} samples, batch {BATCH}: {seconds:7.4f} s, {seconds / samples * 1e6:6.1f} us per sample")
    for batch, seconds in batches.items():
        print(f"  4000 samples, batch {batch:4d}: {seconds:7.4f} s, {seconds / 4000 * 1e6:6.1f} us per sample")
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.loglog(list(sizes), list(sizes.values()), "o-", label="helpers.fit")
    first = next(iter(sizes))
    left.loglog(list(sizes), [sizes[first] * n / first for n in sizes], "--", label="linear in samples")
    left.set(xlabel="training samples per epoch", ylabel="seconds per epoch", title=f"batch {BATCH}")
    left.set_xticks(list(sizes), [f"{n:,}" for n in sizes], minor=False)
    left.set_xticks([], minor=True)
    left.legend()
    right.semilogx(list(batches), [s / 4000 * 1e6 for s in batches.values()], "o-", base=2)
    right.set(xlabel="batch size", ylabel="microseconds per sample", title="4,000 samples", ylim=(0, None))
    figure.suptitle(f"helpers.fit, in memory, on {helpers.device_name(device)}")
    figure.tight_layout()
    figure.savefig(plot, dpi=100)
    print(f"plot written to {plot}")


def profile(device: torch.device, variants: dict, top: int) -> None:
    """The `top` functions by own time in one epoch of each loop (after a warm-up epoch), with cProfile."""
    for label, make in variants.items():
        run = make(device)
        run(1)
        profiler = cProfile.Profile()
        profiler.runcall(run, 1)
        print(f"\n{label}: one epoch, top {top} by own time")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def available_variants(compile: bool) -> dict:
    """The loops to measure: (a) to (d), (e) when asked, and the peers that are installed."""
    variants = dict(VARIANTS)
    if compile:
        variants["(e) helpers.fit, compiled model"] = lambda device: helpers_fit(device, True, compile=True)
    for label, (package, make) in PEERS.items():
        if importlib.util.find_spec(package) is None:
            print(f"{label}: skipped, {package} is not installed (pip install -e '.[bench]')")
        else:
            variants[label] = make
    return variants


def report(device: torch.device, blocks: int, epochs: int, variants: dict) -> None:
    """Measure the loops on `device` and print one row each."""
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    print(f"\n{helpers.device_name(device)}{threads}: MLP 784-128-10, batch {BATCH}, 4,000 training + "
          f"1,000 test images per epoch, {blocks} blocks of {epochs} epochs (median of blocks 2-{blocks})")
    print(f"{'loop':32} {'epoch s':>8} {'x (a)':>7} {'GPU peak MiB':>13} {'RSS growth MiB':>15} {'first block s':>14}")
    for label, (seconds, ratio, peak, growth, first) in measure(device, blocks, epochs, variants).items():
        print(f"{label:32} {seconds:8.4f} {ratio:7.2f} {peak:13.1f} {growth:15.1f} {first:14.4f}")
    print(f"peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=8, help="blocks per loop; the first is a warm-up")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per block")
    parser.add_argument("--device", action="append", help="cpu, cuda, ... (default: cpu, and cuda when present)")
    parser.add_argument("--compile", action="store_true", help="add (e): (b) with torch.compile (slow to start)")
    parser.add_argument("--profile", type=int, metavar="N", help="instead: the top N functions of one epoch of "
                                                                  "each loop, by own time")
    parser.add_argument("--scaling", metavar="PNG", help="instead: helpers.fit's epoch time against samples and "
                                                         "batch size, plotted to PNG")
    args = parser.parse_args()
    if args.blocks < 2 or args.epochs < 1:
        parser.error("need --blocks 2 or more (the first is a warm-up) and --epochs 1 or more")
    for name in args.device or ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        device = torch.device(name)
        if args.scaling:
            scaling(device, args.scaling)
        elif args.profile:
            profile(device, available_variants(args.compile), args.profile)
        else:
            report(device, args.blocks, args.epochs, available_variants(args.compile))


if __name__ == "__main__":
    main()
