"""Seeding: one call that makes a run repeatable."""

import os
import random

import numpy as np
import torch


def set_seed(
    seed: int = 42, *, deterministic: bool = True, benchmark: bool = False, warn_only: bool = True
) -> torch.Generator:
    """Seed Python, NumPy and torch (every device), pick deterministic kernels, return a seeded generator."""
    seed = _checked_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA and MPS device
    if deterministic:
        # cuBLAS picks a deterministic reduction only with a fixed workspace (read when CUDA starts).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = benchmark
    return torch.Generator().manual_seed(seed)


def _checked_seed(seed) -> int:
    """The seed as a Python int, checked so that every generator takes it (or none is seeded): 0..2**32 - 1."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer such as 42, got {type(seed).__name__} {seed!r}.")
    if not 0 <= seed <= 2**32 - 1:
        raise ValueError(f"seed must be between 0 and 2**32 - 1 (the range NumPy accepts), got {seed}.")
    return int(seed)
