"""Threads: the one place that decides how many the package uses.

The count follows the scverse settings: ``scvi.settings.num_threads`` when set (scvi-tools' own
setting for torch), else ``scanpy.settings.n_jobs`` (default 1; ``-1`` means every core this
process may run on, ``-2`` all but one, as in joblib), never more than those cores.

One torch thread by default is deliberate. The models are small (minibatches of a few hundred
cells, layers of a few hundred units), so a second thread gains little on an idle machine, and
on a busy one each of the thousands of OpenMP parallel regions per epoch waits for the thread
that another process has pushed off its core: training with one thread per core ran 20 to 30
times slower beside a single competing process (see ``benchmarks/threads.py``).
"""

from __future__ import annotations

import contextlib
import functools
import os


def _affinity() -> int:
    """Cores this process may run on (its CPU affinity where the platform tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def n_threads() -> int:
    """Threads the package's work uses, from ``scvi.settings.num_threads`` or ``scanpy.settings.n_jobs``.

    Returns
    -------
    At least 1 and at most the cores this process may run on.
    """
    import scanpy as sc
    import scvi

    cores = _affinity()
    requested = scvi.settings.num_threads
    if requested is None:
        requested = sc.settings.n_jobs
        if requested < 0:
            requested = cores + 1 + requested
    return int(min(max(1, requested), cores))


def usable_cores() -> int:
    """Workers for chunked work: simulation and count sampling, a chunk per task.

    Chunks are large and the compiled samplers release the GIL, so these pools do not suffer
    the waits of torch's fine-grained threads and use every core this process may run on, unless
    dask's ``num_workers`` setting says otherwise (the same setting that sizes dask's own
    threaded scheduler, which runs the out-of-core simulation). Reading it loads neither torch
    nor scanpy, so simulating stays free of the learning stack.
    """
    import dask

    workers = dask.config.get("num_workers", None)
    return int(min(max(1, workers), _affinity())) if workers else _affinity()


@contextlib.contextmanager
def torch_threads():
    """Run torch with :func:`n_threads` intra-op threads inside the block, restore its count after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n_threads())
    try:
        yield
    finally:
        torch.set_num_threads(before)


def keeps_torch_threads(func):
    """Restore torch's intra-op thread count after ``func``.

    torch and scikit-learn load the same OpenMP runtime; scikit-learn's thread management (its
    PCA and random forest run under it) leaves that runtime at one thread per core, which torch
    then reads as its own count. A user who set one thread would find later work run on two,
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
