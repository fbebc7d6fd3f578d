import numpy as np
from conftest import make_counts

from sc_synth.tl import _space
from sc_synth.tl._inputs import log_normalised


def test_covariance_pca_matches_arpack(monkeypatch):
    x = log_normalised(make_counts(n_cells=300, seed=3).X)
    parts = [(x, np.arange(0, 300, 2), "half"), (x, np.arange(1, 300, 2), None)]
    cache = {}
    loadings, center = _space.pca(parts, 10, 0, cache)
    assert "half" in cache  # the Gram matrix of the first part is kept for the next call
    again = _space.pca(parts, 10, 0, cache)
    np.testing.assert_array_equal(again[0], loadings)
    monkeypatch.setattr(_space, "MAX_GRAM_GENES", 1)
    arpack, arpack_center = _space.pca(parts, 10, 0)
    # the same components, signed alike: the largest loading of each is positive
    np.testing.assert_allclose(loadings, arpack, atol=1e-5)
    np.testing.assert_allclose(center, arpack_center, atol=1e-5)


def test_shared_space_places_equal_cells_alike():
    x = log_normalised(make_counts(n_cells=200, seed=4).X)
    real, cand = _space.shared_space(x, x[:50], np.arange(100), 5, 0)
    assert real.shape == (200, 5)
    assert cand.shape == (50, 5)
    np.testing.assert_array_equal(real[:50], cand)
