"""Many processes: torchrun's process group, one device per process, and what only the main process does.

Outside torchrun every function here describes a single process, so the same code runs either way."""

import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def launched() -> bool:
    """Whether torchrun started this process (it sets LOCAL_RANK, RANK and WORLD_SIZE)."""
    return "LOCAL_RANK" in os.environ


def start(device: torch.device) -> torch.device:
    """Join torchrun's process group and return this process's device: the accelerator numbered LOCAL_RANK.

    The backend follows the device (gloo on the CPU, nccl on CUDA). Outside torchrun: `device`, unchanged."""
    device = torch.device(device)
    if not launched():
        return device
    if device.type != "cpu":
        device = torch.device(device.type, int(os.environ["LOCAL_RANK"]))
        torch.accelerator.set_device_index(device.index)
    if not dist.is_initialized():
        dist.init_process_group(dist.get_default_backend_for_device(device))
    return device


def end() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    """This process's number, 0 to world_size() - 1."""
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    """How many processes train together."""
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Whether this is the process that prints, shows progress and writes files."""
    return rank() == 0


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The model in DistributedDataParallel when several processes train it; the model itself otherwise."""
    if world_size() == 1:
        return model
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (its state_dict has no 'module.' prefix)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def all_sum(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` summed over every process, in place."""
    if world_size() > 1:
        dist.all_reduce(tensor)
    return tensor


def gather(value) -> list:
    """`value` from every process, in rank order (each must call this)."""
    if world_size() == 1:
        return [value]
    values = [None] * world_size()
    dist.all_gather_object(values, value)
    return values
