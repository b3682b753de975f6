import pytest
import torch

from helpers import DEVICE_ENV, HostReads, device_name, get_default_device
from helpers.devices import same_device


@pytest.fixture
def no_override(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)


def fake_accelerator(monkeypatch, device: str | None, count: int = 1) -> None:
    found = torch.device(device) if device else None
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: found)
    monkeypatch.setattr(torch.accelerator, "device_count", lambda: count if device else 0)


def test_cpu_when_no_accelerator(monkeypatch, no_override):
    fake_accelerator(monkeypatch, None)
    assert get_default_device() == torch.device("cpu")


def test_accelerator_when_present(monkeypatch, no_override):
    fake_accelerator(monkeypatch, "mps")
    assert get_default_device() == torch.device("mps")


def test_asks_torch_to_check_availability(monkeypatch, no_override):
    seen = []
    monkeypatch.setattr(torch.accelerator, "current_accelerator",
                        lambda check_available=False: seen.append(check_available))
    assert get_default_device() == torch.device("cpu")
    assert seen == [True]


def test_override_forces_the_cpu(monkeypatch):
    fake_accelerator(monkeypatch, "cuda")
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert get_default_device() == torch.device("cpu")


def test_override_picks_an_available_accelerator(monkeypatch):
    fake_accelerator(monkeypatch, "cuda", count=2)
    monkeypatch.setenv(DEVICE_ENV, "cuda:1")
    assert get_default_device() == torch.device("cuda:1")


def test_override_with_a_name_that_is_no_device(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "gpu0")
    with pytest.raises(ValueError, match=rf"{DEVICE_ENV}='gpu0' is not a device name.*cpu"):
        get_default_device()


def test_override_with_a_device_this_machine_lacks(monkeypatch):
    fake_accelerator(monkeypatch, None)
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    with pytest.raises(ValueError, match=rf"{DEVICE_ENV}='cuda', but this machine has no accelerator.*=cpu"):
        get_default_device()


def test_override_with_an_index_past_the_last_device(monkeypatch):
    fake_accelerator(monkeypatch, "cuda", count=1)
    monkeypatch.setenv(DEVICE_ENV, "cuda:3")
    with pytest.raises(ValueError, match=r"1 cuda device\(s\)"):
        get_default_device()


def test_same_device(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "current_device_index", lambda: 0)
    assert same_device("cpu", torch.device("cpu"))
    assert same_device("cuda", "cuda:0")
    assert not same_device("cuda", "cuda:1")
    assert not same_device("cpu", "cuda")


def test_device_name():
    assert device_name(torch.device("cpu")) == "CPU"


def test_host_reads_counts_every_read_of_a_value_into_python():
    x = torch.arange(6.0)
    with HostReads() as reads:
        x.sum().item(), float(x[0]), int(x[1]), bool(x[2] > 0), x.tolist(), x.numpy(), [0, 1][x.long()[1]], x * 2
    assert reads.count == 7
