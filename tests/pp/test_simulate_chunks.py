import sc_synth as ss
from sc_synth._core._negative_binomial import TILE
from sc_synth.pp import _simulate_chunks


def test_same_seed_same_counts_whatever_the_chunking():
    kwargs = {"group_prob": [0.5, 0.5], "batch_cells": [130, 170], "dropout_type": "experiment"}
    # more genes than a tile of the sampler, and a depth at which some means take the
    # gamma-Poisson path
    n_genes = TILE + 500
    base = ss.pp.simulate(300, n_genes, seed=11, **kwargs)
    for chunk_size in (1, 100, 1000):
        other = ss.pp.simulate(300, n_genes, seed=11, chunk_size=chunk_size, **kwargs)
        assert (base.X != other.X).nnz == 0
        assert (base.layers["true_counts"] != other.layers["true_counts"]).nnz == 0
        assert base.obs.equals(other.obs)
    different = ss.pp.simulate(300, n_genes, seed=12, **kwargs)
    assert (base.X != different.X).nnz > 0


def test_same_counts_whatever_the_threads(monkeypatch):
    kwargs = {"group_prob": [0.5, 0.5], "dropout_type": "experiment", "chunk_size": 64, "seed": 3}
    monkeypatch.setattr(_simulate_chunks, "usable_cores", lambda: 1)
    one = ss.pp.simulate(500, 60, **kwargs)
    monkeypatch.setattr(_simulate_chunks, "usable_cores", lambda: 3)
    three = ss.pp.simulate(500, 60, **kwargs)
    assert (one.X != three.X).nnz == 0
    assert (one.layers["true_counts"] != three.layers["true_counts"]).nnz == 0
