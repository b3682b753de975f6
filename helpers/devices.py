"""Devices: pick the accelerator when there is one, the CPU otherwise."""

import os

import torch

DEVICE_ENV = "COURSE_DEVICE"


def get_default_device() -> torch.device:
    """The device named by $COURSE_DEVICE, else the available accelerator, else the CPU."""
    forced = os.environ.get(DEVICE_ENV, "").strip()
    if forced:
        return _checked_device(forced)
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    return accelerator if accelerator is not None else torch.device("cpu")


def _checked_device(name: str) -> torch.device:
    """Parse a device name from $COURSE_DEVICE and make sure this machine has it."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(
            f"{DEVICE_ENV}={name!r} is not a device name. Use cpu, cuda, cuda:1 or mps, "
            f"or unset {DEVICE_ENV} to pick the best available device."
        ) from None
    if device.type == "cpu":
        return device
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    available = accelerator is not None and accelerator.type == device.type
    if not available or (device.index is not None and device.index >= torch.accelerator.device_count()):
        count = torch.accelerator.device_count()
        found = "no accelerator" if accelerator is None else f"{count} {accelerator.type} device(s)"
        raise ValueError(
            f"{DEVICE_ENV}={name!r}, but this machine has {found}. "
            f"Set {DEVICE_ENV}=cpu, or unset it to pick the best available device."
        )
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
