"""Devices: pick the accelerator when there is one, the CPU otherwise."""

import os

import torch
from torch.overrides import TorchFunctionMode

DEVICE_ENV = "COURSE_DEVICE"


def get_default_device() -> torch.device:
    """The device named by $COURSE_DEVICE, else the available accelerator, else the CPU."""
    forced = os.environ.get(DEVICE_ENV, "").strip()
    if forced:
        return checked_device(forced)
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    return accelerator if accelerator is not None else torch.device("cpu")


def checked_device(name: str, setting: str = DEVICE_ENV) -> torch.device:
    """Parse a device name given by `setting` (an environment variable or a flag) and make sure this machine has it."""
    instead = f"unset {DEVICE_ENV} to pick the best available device" if setting == DEVICE_ENV else \
        "leave it out to pick the best available device"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"{setting}={name!r} is not a device name. Use cpu, cuda, cuda:1 or mps, or {instead}.") \
            from None
    if device.type == "cpu":
        return device
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    available = accelerator is not None and accelerator.type == device.type
    if not available or (device.index is not None and device.index >= torch.accelerator.device_count()):
        count = torch.accelerator.device_count()
        found = "no accelerator" if accelerator is None else f"{count} {accelerator.type} device(s)"
        raise ValueError(f"{setting}={name!r}, but this machine has {found}. Use {setting}=cpu, or {instead}.")
    return device


def device_name(device: torch.device) -> str:
    """A readable name: the GPU's model for CUDA, else the device type."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type.upper() if device.type in ("cpu", "mps") else str(device)


def same_device(a: torch.device, b: torch.device) -> bool:
    """True when a and b are the same device ('cuda' and 'cuda:0' count as one when 0 is current)."""
    a, b = torch.device(a), torch.device(b)
    if a.type != b.type:
        return False
    if a.type == "cpu" or a.index == b.index:
        return True
    current = torch.accelerator.current_device_index()
    return (current if a.index is None else a.index) == (current if b.index is None else b.index)


_READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.numpy, torch.Tensor.__bool__, torch.Tensor.__float__,
          torch.Tensor.__int__, torch.Tensor.__index__}


class HostReads(TorchFunctionMode):
    """Counts, inside a `with` block, the reads of tensor values into Python (item(), tolist(), numpy(), float(),
    int(), bool(), indexing with a tensor): on an accelerator each one waits until the work queued before it
    is done."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += func in _READS
        return func(*args, **(kwargs or {}))
