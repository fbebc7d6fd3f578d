import threading
import time

import numpy as np
import pytest

import sc_synth as ss
from sc_synth.pp import _dask
from sc_synth.pp._dask import computed_in_order


def test_results_come_in_order_with_the_shared_argument():
    shared = np.arange(5)
    results = list(computed_in_order(lambda s, k: int(s.sum()) + k, shared, range(23)))
    assert results == [10 + k for k in range(23)]


def test_at_most_two_windows_are_in_flight(monkeypatch):
    monkeypatch.setattr(_dask, "_scheduler_threads", lambda: 2)
    started = []
    lock = threading.Lock()

    def task(_, k):
        with lock:
            started.append(k)
        time.sleep(0.01)
        return k

    seen = []
    for k in computed_in_order(task, None, range(40)):
        # a window is four tasks: the one being read and the next may have started, no more
        with lock:
            assert max(started) < (k // 4 + 2) * 4
        seen.append(k)
    assert seen == list(range(40))


def test_simulation_runs_on_a_distributed_client(tmp_path):
    distributed = pytest.importorskip("distributed")
    kwargs = {"group_prob": [0.5, 0.5], "seed": 3, "chunk_size": 64}
    memory = ss.pp.simulate(500, 60, **kwargs)
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ):
        stored = ss.pp.simulate(500, 60, out=tmp_path / "sim.zarr", **kwargs)
        assert _dask._scheduler_threads() == 2
    assert (stored.X[:] != memory.X).nnz == 0
