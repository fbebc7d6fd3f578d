import numpy as np
import pytest
from conftest import make_counts
from scipy import sparse

from sc_synth.tl import _gene_stats


@pytest.fixture
def two_halves():
    adata = make_counts(n_cells=600, seed=7)
    return adata.X[:300], adata.X[300:]


def test_gene_stats_agree_for_real_halves(two_halves):
    a, b = two_halves
    stats = _gene_stats.gene_stats(a, b)
    assert stats["gene_mean_corr"] > 0.95
    assert stats["gene_zero_frac_corr"] > 0.95
    assert stats["library_size_ks"] < 0.15


def test_gene_stats_flag_constant_library_sizes(two_halves):
    a, b = two_halves
    rng = np.random.default_rng(0)
    profile = np.asarray(b.sum(axis=0)).ravel() / b.sum()
    library = int(np.median(np.asarray(b.sum(axis=1))))
    same_size = sparse.csr_matrix(rng.multinomial(library, profile, size=300).astype(np.float32))
    stats = _gene_stats.gene_stats(a, same_size)
    assert stats["gene_mean_corr"] > 0.9  # the profile is right ...
    assert stats["library_size_ks"] > 0.4  # ... the library sizes are not
