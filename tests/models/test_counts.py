import numpy as np
import pytest
from scipy import stats

from sc_synth.models import _counts
from sc_synth.models._counts import negative_binomial_counts


@pytest.mark.parametrize(("mean", "size"), [(0.5, 0.05), (5.0, 2.0), (30.0, 0.5), (300.0, 4.0)])
def test_counts_follow_the_negative_binomial(mean, size):
    n_cells, n_genes = 300, 400
    counts = negative_binomial_counts(
        np.full((n_cells, n_genes), mean), np.full(n_genes, size), np.zeros(n_cells, int),
        np.random.default_rng(0),
    )  # fmt: skip
    values = counts.toarray().ravel()
    assert counts.dtype == np.float32
    np.testing.assert_array_equal(values, np.round(values))
    # Frequencies of the smallest counts and the mean, within five standard errors.
    p = size / (size + mean)
    for k in range(3):
        expected = stats.nbinom.pmf(k, size, p)
        error = 5 * np.sqrt(expected * (1 - expected) / values.size)
        assert abs((values == k).mean() - expected) <= error
    assert abs(values.mean() - mean) <= 5 * np.sqrt(mean * (1 + mean / size) / values.size)


def test_each_cell_uses_the_size_row_it_is_given():
    n_cells, n_genes = 2000, 50
    size = np.array([np.full(n_genes, 1e6), np.full(n_genes, 0.5)])
    which = np.arange(n_cells) % 2
    counts = negative_binomial_counts(
        np.full((n_cells, n_genes), 8.0), size, which, np.random.default_rng(1)
    ).toarray()
    # Poisson variance (8) for the first size, 8 + 8²/0.5 = 136 for the second.
    assert counts[which == 0].var() == pytest.approx(8.0, rel=0.1)
    assert counts[which == 1].var() == pytest.approx(136.0, rel=0.15)


def test_zero_means_give_no_counts_and_rows_keep_their_order():
    mean = np.zeros((700, 30))
    mean[::7, 3] = 50.0
    counts = negative_binomial_counts(
        mean, np.ones(30), np.zeros(700, int), np.random.default_rng(2)
    )
    rows, cols = counts.nonzero()
    assert set(cols) == {3}
    assert set(rows) <= set(range(0, 700, 7))


def test_same_rng_same_counts_whatever_the_number_of_threads(monkeypatch):
    rng = np.random.default_rng(3)
    mean = rng.gamma(0.5, 4.0, size=(1500, 60))
    size = rng.uniform(0.2, 5.0, size=(3, 60))
    which = rng.integers(3, size=1500)
    monkeypatch.setattr(_counts, "usable_cores", lambda: 1)
    one = negative_binomial_counts(mean, size, which, np.random.default_rng(4))
    monkeypatch.setattr(_counts, "usable_cores", lambda: 3)
    three = negative_binomial_counts(mean, size, which, np.random.default_rng(4))
    assert (one != three).nnz == 0
    other = negative_binomial_counts(mean, size, which, np.random.default_rng(5))
    assert (one != other).nnz > 0


def test_float32_means_draw_the_counts_of_the_same_values_in_float64():
    rng = np.random.default_rng(6)
    # small means (inversion), large ones (gamma-Poisson) and an infinite size (Poisson)
    mean = rng.gamma(0.3, 30.0, size=(1100, 50)).astype(np.float32)
    size = rng.uniform(0.1, 5.0, size=(2, 50))
    size[1, :5] = np.inf
    which = rng.integers(2, size=1100)
    single = negative_binomial_counts(mean, size, which, np.random.default_rng(7))
    double = negative_binomial_counts(
        mean.astype(np.float64), size, which, np.random.default_rng(7)
    )
    assert single.dtype == double.dtype == np.float32
    for a, b in [(single.data, double.data), (single.indices, double.indices)]:
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(single.indptr, double.indptr)
    assert (single.data > 100).any()
