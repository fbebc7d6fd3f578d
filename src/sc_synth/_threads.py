"""Keep torch's thread count as the user set it across calls into scikit-learn and scanpy."""

from __future__ import annotations

import functools


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
