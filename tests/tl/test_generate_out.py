"""``generate(out=...)``: generated cells written to a zarr store chunk by chunk."""

import anndata as ad
import pytest
from anndata.abc import CSRDataset
from scipy import sparse

import sc_synth as ss
from sc_synth.pp import _store
from sc_synth.tl import _generate


@pytest.fixture
def small_units(trained_vae, monkeypatch):
    """Draw 37 cells at a time, so that a few hundred cells span several units."""
    monkeypatch.setattr(_generate, "_CHUNK_ENTRIES", 37 * trained_vae.n_vars)


def _same(a, b) -> bool:
    return (sparse.csr_matrix(a) != sparse.csr_matrix(b)).nnz == 0


def test_counts_do_not_depend_on_chunk_size_or_out(trained_vae, small_units, tmp_path):
    whole = ss.tl.generate(trained_vae, n_cells=300, seed=3)
    chunked = ss.tl.generate(trained_vae, n_cells=300, seed=3, chunk_size=50)
    stored = ss.tl.generate(
        trained_vae, n_cells=300, seed=3, out=tmp_path / "cells.zarr", chunk_size=1
    )
    assert _same(chunked.X, whole.X)
    assert isinstance(stored.X, CSRDataset)
    assert _same(stored.X.to_memory(), whole.X)
    assert stored.obs.equals(whole.obs)
    assert stored.uns["sc_synth"] == whole.uns["sc_synth"]
    back = ad.read_zarr(tmp_path / "cells.zarr")
    assert _same(back.X, whole.X)
    assert back.obs.equals(whole.obs)
    assert list(back.var_names) == list(trained_vae.var_names)
    other = ss.tl.generate(trained_vae, n_cells=300, seed=4, chunk_size=50)
    assert not _same(other.X, whole.X)


def test_existing_out_is_refused_unless_overwrite(trained_vae, tmp_path):
    target = tmp_path / "cells.zarr"
    ss.tl.generate(trained_vae, n_cells=20, seed=0, out=target)
    with pytest.raises(ValueError, match=r"`out` must be a new path.*overwrite=True"):
        ss.tl.generate(trained_vae, n_cells=30, seed=1, out=target)
    assert ad.read_zarr(target).n_obs == 20
    replaced = ss.tl.generate(trained_vae, n_cells=30, seed=1, out=target, overwrite=True)
    assert replaced.n_obs == 30
    assert ad.read_zarr(target).n_obs == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.zarr"]


def test_interrupted_write_leaves_nothing_at_out(trained_vae, small_units, tmp_path, monkeypatch):
    target = tmp_path / "cells.zarr"
    ss.tl.generate(trained_vae, n_cells=20, seed=0, out=target)
    append = _store.CSRWriter.append
    calls = []

    def fail_on_second(self, piece):
        # each call below fails at its second chunk
        calls.append(piece)
        if len(calls) % 2 == 0:
            raise KeyboardInterrupt
        append(self, piece)

    monkeypatch.setattr(_store.CSRWriter, "append", fail_on_second)
    with pytest.raises(KeyboardInterrupt):
        ss.tl.generate(trained_vae, n_cells=300, out=tmp_path / "new.zarr")
    with pytest.raises(KeyboardInterrupt):
        ss.tl.generate(trained_vae, n_cells=300, out=target, overwrite=True)
    # no partial store beside the targets, and the earlier store is whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.zarr"]
    assert ad.read_zarr(target).n_obs == 20


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"out": 3}, TypeError, r"`out` must be a path"),
        ({"out": "x.zarr", "overwrite": "yes"}, TypeError, r"`overwrite` must be True or False"),
        ({"chunk_size": 0}, ValueError, r"`chunk_size` must be a positive integer or None"),
        ({"chunk_size": 2.5}, ValueError, r"`chunk_size` must be a positive integer or None"),
    ],
)
def test_bad_options_are_refused(trained_vae, options, error, match):
    with pytest.raises(error, match=match):
        ss.tl.generate(trained_vae, n_cells=10, **options)
