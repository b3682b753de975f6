"""Many processes: sharding in one process (by pretending to be each rank), then real torchrun runs with gloo."""

import json
import os
import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.utils.data import DistributedSampler

import helpers.loop
from conftest import make_mlp
from helpers import TensorLoader, distributed, train_one_epoch
from helpers.data import ShardSampler


def as_rank(monkeypatch, rank: int, world: int) -> None:
    """Make the loaders see this process as `rank` of `world` processes."""
    monkeypatch.setattr(distributed, "rank", lambda: rank)
    monkeypatch.setattr(distributed, "world_size", lambda: world)


def test_outside_torchrun_everything_is_one_process():
    model = make_mlp()
    assert not distributed.launched() and distributed.rank() == 0 and distributed.world_size() == 1
    assert distributed.is_main() and distributed.start(torch.device("cpu")) == torch.device("cpu")
    assert distributed.wrap(model, torch.device("cpu")) is model and distributed.unwrap(model) is model
    assert distributed.gather(3) == [3] and distributed.all_sum(torch.tensor(2.0)).item() == 2.0


@pytest.mark.parametrize("shuffle", [True, False])
def test_shards_hold_every_sample_exactly_once(shuffle):
    shards = []
    for rank in range(3):
        sampler = ShardSampler(range(10), shuffle=shuffle, seed=5, num_replicas=3, rank=rank)
        sampler.set_epoch(2)
        shards.append(list(sampler))
        assert len(sampler) == len(shards[-1])
    assert sorted(sum(shards, [])) == list(range(10)) and [len(s) for s in shards] == [4, 3, 3]
    padded = [list(DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=shuffle, seed=5)) for r in range(3)]
    assert len(sum(padded, [])) == 12  # the stock sampler repeats two samples to make the shards even


def test_each_epoch_is_shuffled_differently_and_alike_in_every_process(monkeypatch):
    orders = {}
    for rank in range(2):
        as_rank(monkeypatch, rank, 2)
        sampler = ShardSampler(range(20), shuffle=True, seed=0)
        for epoch in (1, 2):
            sampler.set_epoch(epoch)
            orders[rank, epoch] = list(sampler)
    assert orders[0, 1] != orders[0, 2]
    assert sorted(orders[0, 1] + orders[1, 1]) == list(range(20)) == sorted(orders[0, 2] + orders[1, 2])


@pytest.mark.parametrize("shuffle", [True, False])
def test_tensor_loader_shards_match_one_process_with_a_larger_batch_batch_by_batch(monkeypatch, shuffle):
    x = torch.arange(10)
    single = [b[0].tolist() for b in TensorLoader(x, x, batch_size=6, shuffle=shuffle,
                                                  generator=torch.Generator().manual_seed(0))]
    per_rank = []
    for rank in range(3):
        as_rank(monkeypatch, rank, 3)
        loader = TensorLoader(x, x, batch_size=2, shuffle=shuffle, generator=torch.Generator().manual_seed(0))
        per_rank.append([b[0].tolist() for b in loader])
        assert len(loader) == len(per_rank[-1]) == 2
    for k, batch in enumerate(single):
        assert sorted(sum((shard[k] for shard in per_rank), [])) == sorted(batch)


def test_several_processes_need_a_wrapped_model(monkeypatch, toy_loader):
    monkeypatch.setattr(helpers.loop, "world_size", lambda: 2)
    model = make_mlp()
    with pytest.raises(ValueError, match="2 processes train this model, but it is not wrapped in "
                                         r"DistributedDataParallel.*helpers.distributed.wrap\(model, device\)"):
        train_one_epoch(model, toy_loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                        helpers.Accuracy(), torch.device("cpu"))


# Real runs: torchrun with gloo on the CPU. Process start-up dominates, so a few short runs share results.

def train(tmp_path, name: str, processes: int, *flags: str) -> list[dict]:
    """Run helpers.train (under torchrun when processes > 1) and return its history."""
    out = tmp_path / f"{name}.json"
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
                if processes > 1 else [sys.executable])
    done = subprocess.run([*launcher, "-m", "helpers.train", "--device", "cpu", "--history-json", str(out), *flags],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def assert_same(a: list[dict], b: list[dict], tolerance: float) -> None:
    assert len(a) == len(b) and all(set(x) == set(y) for x, y in zip(a, b))
    worst = max(abs(x[key] - y[key]) for x, y in zip(a, b) for key in x)
    assert worst <= tolerance, f"largest difference {worst:.2e}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def test_two_processes_of_32_train_as_one_of_64_and_resume_exactly(runs):
    one = train(runs, "one", 1, "--epochs", "4", "--batch-size", "64")
    two = train(runs, "two", 2, "--epochs", "4", "--batch-size", "32")
    assert_same(one, two, 1e-5)
    checkpoint = str(runs / "two.ckpt")
    assert len(train(runs, "half", 2, "--epochs", "2", "--batch-size", "32", "--checkpoint", checkpoint)) == 2
    resumed = train(runs, "resumed", 2, "--epochs", "4", "--batch-size", "32", "--checkpoint", checkpoint)
    assert resumed == two  # every process's random state and the optimizer came back: the same run


def test_three_processes_of_20_train_as_one_of_60_and_validate_each_image_once(runs):
    # 2,990 training images end with a batch of 50 (17, 17, 16 per process), and 1,010 validation images do
    # not divide by 3 either: a padded sampler would count two of them twice.
    flags = ("--epochs", "1", "--val-size", "1010")
    assert_same(train(runs, "one60", 1, *flags, "--batch-size", "60"),
                train(runs, "three", 3, *flags, "--batch-size", "20"), 1e-5)


def test_a_checkpoint_in_use_stops_every_process_with_one_line(runs):
    path = runs / "busy.ckpt"
    other = subprocess.Popen([sys.executable, "-c", "import sys, helpers\nwith helpers.checkpoint.held(sys.argv[1]):\n"
                              "    print('held', flush=True)\n    sys.stdin.read()", str(path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert other.stdout.readline() == "held\n"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m",
                           "helpers.train", "--device", "cpu", "--epochs", "1", "--checkpoint", str(path)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    other.communicate("")
    errors = [line for line in done.stderr.splitlines() if "helpers.train: error" in line]
    assert done.returncode != 0 and errors == [f"python -m helpers.train: error: {path} is in use by another run "
                                               f"(process {other.pid}): two runs saving to one file would overwrite "
                                               "each other's epochs. Wait for that run to end (or stop it), or point "
                                               "checkpoint= at another file."]


def test_processes_with_different_numbers_of_batches_are_refused(monkeypatch, toy_loader):
    model = make_mlp()
    monkeypatch.setattr(helpers.loop, "world_size", lambda: 2)
    monkeypatch.setattr(helpers.loop, "DistributedDataParallel", type(model))  # stands in for the wrapper
    monkeypatch.setattr(helpers.loop, "gather", lambda count: [count, count - 1])
    with pytest.raises(ValueError, match="The processes hold 3, 2 training batches: each optimizer step needs a "
                                         "batch from every process"):
        train_one_epoch(model, toy_loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                        helpers.Accuracy(), torch.device("cpu"))
