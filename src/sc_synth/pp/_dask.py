"""Run independent tasks through dask's active scheduler, a window at a time, results in order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._threads import usable_cores


def _scheduler_threads() -> int:
    """Threads of the active dask.distributed client, else the cores of this machine."""
    try:
        from distributed import default_client

        return max(1, sum(default_client().nthreads().values()))
    except (ImportError, ValueError):
        return usable_cores()


def computed_in_order(
    func: Callable[[Any, Any], Any], shared: Any, args: Sequence
) -> Iterator[Any]:
    """Yield ``func(shared, arg)`` for each of ``args``, in order, computed by dask.

    Tasks run on dask's active scheduler: the threaded one by default, or a cluster when a
    ``dask.distributed`` client is active, which receives ``shared`` once rather than with
    every task. Tasks are computed a window (two per scheduler thread) at a time, the next
    window while the caller consumes the results of the last: memory stays bounded however
    many tasks there are, and writing the results out overlaps computing them.
    """
    import dask

    shared = dask.delayed(shared, traverse=False)
    task = dask.delayed(func, pure=True)
    window = 2 * _scheduler_threads()

    def compute(first: int) -> tuple:
        return dask.compute(*(task(shared, arg) for arg in args[first : first + window]))

    with ThreadPoolExecutor(1) as ahead:
        pending = ahead.submit(compute, 0)
        for first in range(0, len(args), window):
            results = pending.result()
            if first + window < len(args):
                pending = ahead.submit(compute, first + window)
            yield from results
