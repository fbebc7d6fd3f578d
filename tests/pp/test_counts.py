import numpy as np
import pytest
from scipy import sparse, stats

from sc_synth.pp._counts import simulate_cells
from sc_synth.pp._splat import Expression


def _draw_entries(mean, phi, n_cells=128, n_genes=4000, seed=0, dropout=None):
    """Counts (and counts before dropout) of entries that all have this mean and BCV²."""
    table = np.full((1, n_genes), 1.0 / n_genes)
    # with bcv_common = 0 the BCV is factor / sqrt(mean)
    genes = Expression(table, 1.0 / np.sqrt(table), 0.0, np.full(n_genes, np.sqrt(phi * mean)))
    lib = np.full(n_cells, mean * n_genes)
    pieces = simulate_cells(seed, 0, lib, np.zeros(n_cells, dtype=int), genes, dropout)

    def dense(piece):
        x = sparse.csr_matrix(
            (piece.data, piece.indices, np.r_[0, np.cumsum(piece.row_nnz)]),
            shape=(n_cells, n_genes),
        )
        return x.toarray().ravel()

    return [None if piece is None else dense(piece) for piece in pieces]


# (mean, BCV²): tiny to large means, strong to negligible overdispersion; means above 100 and
# gamma scales mean·BCV² above 64 take the gamma-Poisson path, the others CDF inversion.
NB_CASES = [(0.05, 4.0), (1.0, 0.7), (3.0, 0.5), (10.0, 1e-8), (39.0, 1.5), (90.0, 0.3),
            (150.0, 0.02), (5.0, 20.0)]  # fmt: skip


@pytest.mark.parametrize(("mean", "phi"), NB_CASES)
def test_counts_are_negative_binomial(mean, phi):
    counts, _ = _draw_entries(mean, phi)
    dist = stats.nbinom(1 / phi, 1 / (1 + mean * phi))
    m, v, _, kurtosis = dist.stats(moments="mvsk")
    n = counts.size
    assert abs(counts.mean() - m) < 5 * np.sqrt(v / n)
    assert abs(counts.var() - v) < 5 * np.sqrt((kurtosis + 2) * v**2 / n)
    p0 = dist.pmf(0)
    assert abs((counts == 0).mean() - p0) < 5 * np.sqrt(p0 * (1 - p0) / n) + 1e-12
    # Chi-squared goodness of fit, bins with fewer than 20 expected counts pooled.
    observed = np.bincount(counts.astype(int))
    expected = dist.pmf(np.arange(observed.size)) * n
    big = expected >= 20
    observed = np.r_[observed[big], observed[~big].sum()]
    expected = np.r_[expected[big], n - expected[big].sum()]
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, observed.size - 1) > 1e-3


@pytest.mark.parametrize(
    ("mean", "phi", "values"),
    [(4.0, 0.3, [1, 3, 6]), (60.0, 0.05, [55, 60]), (150.0, 0.02, [140, 150])],
)
def test_dropout_given_count_matches_gamma_poisson(mean, phi, values):
    # Splat drops a count with a probability set by its gamma mean λ; the sampler draws λ after
    # the count, from its law given the count, which must give the same drop rates per count.
    mid, shape = 1.0, -0.3
    n_cells = 256
    dropout = (np.full(n_cells, mid), np.full(n_cells, shape))
    kept, true = _draw_entries(mean, phi, n_cells=n_cells, dropout=dropout)
    assert np.all((kept == true) | (kept == 0))
    rng = np.random.default_rng(1)
    lam = rng.gamma(1 / phi, mean * phi, 4 * true.size)
    reference = rng.poisson(lam)
    drop_prob = 1 / (1 + np.exp(-shape * (np.log(lam) - mid)))
    for y in values:
        ours = (kept[true == y] == 0).mean()
        theirs = drop_prob[reference == y].mean()
        se = np.sqrt(theirs * (1 - theirs) * (1 / (true == y).sum() + 1 / (reference == y).sum()))
        assert abs(ours - theirs) < 5 * se
