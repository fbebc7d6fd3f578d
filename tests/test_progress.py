"""Progress bars of large simulations, generations and evaluations, as scanpy shows progress."""

import sys

import pytest
import scanpy as sc
from conftest import make_counts
from scipy import sparse

import sc_synth as ss
from sc_synth import _progress
from sc_synth.tl import _generate


@pytest.fixture
def terminal(capsys, monkeypatch):
    """Make pytest's captured stderr read as a terminal, where tqdm draws (not on pipes, files).

    Call it in the test: pytest swaps the captured stream between setup and call.
    """

    def as_terminal():
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
        return capsys

    return as_terminal


@pytest.fixture
def settings():
    before = sc.settings.verbosity
    yield sc.settings
    sc.settings.verbosity = before


def _counts(adata):
    x = adata.X
    return sparse.csr_matrix(x if sparse.issparse(x) else x.to_memory())


@pytest.mark.parametrize(
    ("out", "reference"),
    [(None, False), ("cells.zarr", False), (None, True), ("cells.zarr", True)],
    ids=["in memory", "zarr", "labelled reference", "labelled reference to zarr"],
)
def test_simulating_many_chunks_shows_a_bar_from_info_on(
    terminal, settings, tmp_path, out, reference
):
    terminal = terminal()
    kwargs = {"reference": make_counts(), "labels_key": "cell_type"} if reference else {}

    def simulate(name):
        return ss.pp.simulate(640, 40, chunk_size=64, seed=0, out=out and tmp_path / name, **kwargs)

    settings.verbosity = "info"
    shown = simulate("a.zarr")  # ten chunks of 64 cells
    err = terminal.readouterr().err
    assert "simulate: 100%" in err
    assert "10/10" in err
    settings.verbosity = "warning"
    quiet = simulate("b.zarr")
    assert terminal.readouterr().err == ""
    assert (_counts(shown) != _counts(quiet)).nnz == 0


def test_few_chunks_show_no_bar(terminal, settings):
    terminal = terminal()
    settings.verbosity = "info"
    ss.pp.simulate(64 * (_progress.FROM_CHUNKS - 1), 40, chunk_size=64, seed=0)
    assert terminal.readouterr().err == ""


def test_generating_many_chunks_shows_a_bar_from_info_on(
    trained_vae, terminal, settings, tmp_path, monkeypatch
):
    terminal = terminal()
    # 37 cells a chunk: 300 cells make nine
    monkeypatch.setattr(_generate, "_CHUNK_ENTRIES", 37 * trained_vae.n_vars)
    settings.verbosity = "info"
    ss.tl.generate(trained_vae, n_cells=300, seed=3, out=tmp_path / "a.zarr", chunk_size=1)
    err = terminal.readouterr().err
    assert "generate: 100%" in err
    assert "9/9" in err
    settings.verbosity = "warning"
    ss.tl.generate(trained_vae, n_cells=300, seed=3, out=tmp_path / "b.zarr", chunk_size=1)
    assert terminal.readouterr().err == ""


@pytest.mark.parametrize("total", [5, None], ids=["known total", "total set later"])
def test_counting_shows_a_bar_from_its_size_and_info_on(terminal, settings, total):
    terminal = terminal()

    def count(size):
        with _progress.counting("work", "row", size=size, from_size=10, total=total) as bar:
            if bar.total is None:
                bar.reset(total=5)
            for _ in range(5):
                bar.update()
        assert bar.n == (5 if _progress.shown(size, 10) else 0)
        assert bar.total == 5
        return terminal.readouterr().err

    settings.verbosity = "info"
    err = count(10)
    assert "work: 100%" in err
    assert "5/5" in err
    assert count(9) == ""  # below the size of a bar
    settings.verbosity = "warning"
    assert count(10) == ""


def test_counting_draws_only_on_a_terminal(capsys, settings):
    settings.verbosity = "info"
    with _progress.counting("work", "row", size=10, from_size=0, total=3) as bar:
        for _ in range(3):
            bar.update()
    assert capsys.readouterr().err == ""  # captured stderr is no terminal
