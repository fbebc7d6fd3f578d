"""Threads: how many cores this process may use, and torch's count kept across other libraries."""

from __future__ import annotations

import functools
import os


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def keeps_torch_threads(func):
    """Restore torch's intra-op thread count after ``func``.

    torch and scikit-learn load the same OpenMP runtime; scikit-learn's thread management (its
    PCA and random forest run under it) leaves that runtime at one thread per core, which torch
    then reads as its own count. A user who set one thread would find later training run on two,
    and far slower on a busy machine.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import torch

        threads = torch.get_num_threads()
        try:
            return func(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return wrapper
