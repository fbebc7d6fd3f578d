import numpy as np
import pytest
from scipy import sparse, stats

from sc_synth._core._negative_binomial import MAX_INVERSION_MEAN, draw_negative_binomial


def draw(mean, size, seed=0):
    """Counts of the compiled sampler as a dense array, one size row for every cell."""
    mean = np.ascontiguousarray(mean, dtype=np.float64)
    n_cells, n_genes = mean.shape
    data = np.empty(mean.size, dtype=np.float32)
    indices = np.empty(mean.size, dtype=np.int32)
    row_nnz = np.empty(n_cells, dtype=np.int64)
    size = np.ascontiguousarray(np.atleast_2d(size), dtype=np.float64)
    nnz = draw_negative_binomial(
        np.random.default_rng(seed), np.uint64(seed + 1), mean, size, np.zeros(n_cells, np.int64),
        data, indices, row_nnz,
    )  # fmt: skip
    indptr = np.r_[0, np.cumsum(row_nnz)]
    return sparse.csr_matrix((data[:nnz], indices[:nnz], indptr), shape=mean.shape).toarray()


@pytest.mark.parametrize("mean", [0.3, 4.0, 40.0, 3 * MAX_INVERSION_MEAN])
def test_infinite_size_draws_poisson_counts(mean):
    """Genes fitted without overdispersion (dispersion 0) have an infinite size: Poisson."""
    values = draw(np.full((400, 300), mean), np.full(300, np.inf)).ravel()
    assert np.isfinite(values).all()
    n = values.size
    assert abs(values.mean() - mean) <= 5 * np.sqrt(mean / n)
    # the variance of a Poisson count is its mean (standard error of the variance about
    # sqrt((2 mean² + mean) / n))
    assert abs(values.var() - mean) <= 5 * np.sqrt((2 * mean**2 + mean) / n)
    for k in np.round(mean + np.array([-1.0, 0.0, 1.0]) * np.sqrt(mean)).clip(0):
        expected = stats.poisson.pmf(k, mean)
        assert abs((values == k).mean() - expected) <= 5 * np.sqrt(expected * (1 - expected) / n)


def test_poisson_genes_leave_the_other_genes_alone():
    rng = np.random.default_rng(0)
    mean = rng.gamma(0.5, 6.0, size=(200, 50))
    size = rng.uniform(0.3, 4.0, size=50)
    poisson = size.copy()
    poisson[::5] = np.inf
    finite = draw(mean, size, seed=3)
    mixed = draw(mean, poisson, seed=3)
    # the uniforms are keyed by entry, so the genes of finite size draw the same counts
    kept = np.isfinite(poisson)
    np.testing.assert_array_equal(mixed[:, kept], finite[:, kept])
    np.testing.assert_array_equal(draw(mean, poisson, seed=3), mixed)
    assert not np.array_equal(draw(mean, poisson, seed=4), mixed)
