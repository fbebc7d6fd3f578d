import pytest
import scanpy as sc
import scvi
import torch

from sc_synth import _threads


@pytest.fixture
def settings():
    """scanpy's settings, restored after the test."""
    n_jobs, verbosity = sc.settings.n_jobs, sc.settings.verbosity
    yield sc.settings
    sc.settings.n_jobs, sc.settings.verbosity = n_jobs, verbosity


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(_threads, "_affinity", lambda: 4)
    # The private attribute: scvi-tools' setter would also set torch's count, and cannot unset.
    monkeypatch.setattr(scvi.settings, "_num_threads", None)


@pytest.mark.parametrize(
    ("n_jobs", "expected"), [(1, 1), (3, 3), (8, 4), (-1, 4), (-2, 3), (-10, 1)]
)
def test_thread_count_follows_scanpy_n_jobs_within_the_cores(
    four_cores, settings, n_jobs, expected
):
    settings.n_jobs = n_jobs
    assert _threads.n_threads() == expected


@pytest.mark.parametrize(("num_workers", "expected"), [(None, 4), (1, 1), (3, 3), (16, 4)])
def test_chunk_workers_follow_dask_within_the_cores(four_cores, num_workers, expected):
    import dask

    with dask.config.set(num_workers=num_workers):
        assert _threads.usable_cores() == expected


def test_scvi_num_threads_takes_precedence(four_cores, settings, monkeypatch):
    settings.n_jobs = 1
    monkeypatch.setattr(scvi.settings, "_num_threads", 3)
    assert _threads.n_threads() == 3


def test_torch_threads_sets_the_count_inside_and_restores_it(four_cores, settings):
    settings.n_jobs = 2
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        with _threads.torch_threads():
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
