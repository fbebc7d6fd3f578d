import numpy as np
from conftest import make_counts
from scipy import sparse

import sc_synth as ss
from sc_synth.tl._baseline import _draw, fit, nb_per_label


def test_nb_per_label_keeps_labels_profiles_and_is_seeded():
    adata = make_counts(n_cells=900, seed=3)
    labels = adata.obs["cell_type"].astype(str).to_numpy()
    drawn = nb_per_label(adata.X, labels, seed=0)
    assert drawn.shape == adata.shape
    assert np.all(drawn.data == np.round(drawn.data))
    assert drawn.min() >= 0
    for label in np.unique(labels):
        rows = labels == label
        real_profile = np.asarray(adata.X[rows].mean(axis=0)).ravel()
        drawn_profile = np.asarray(drawn[rows].mean(axis=0)).ravel()
        assert np.corrcoef(real_profile, drawn_profile)[0, 1] > 0.98
        # library sizes are resampled from the label's own cells
        assert abs(drawn[rows].sum() / adata.X[rows].sum() - 1) < 0.1
    assert (nb_per_label(adata.X, labels, seed=0) != drawn).nnz == 0
    assert (nb_per_label(adata.X, labels, seed=1) != drawn).nnz > 0


def _per_batch_profile_corr(real, drawn, batches):
    """Per batch: correlation over genes of the log mean counts of drawn and real cells."""
    out = []
    for batch in np.unique(batches):
        rows = batches == batch
        mean_real = np.log1p(np.asarray(real[rows].mean(axis=0)).ravel())
        mean_drawn = np.log1p(np.asarray(drawn[rows].mean(axis=0)).ravel())
        out.append(np.corrcoef(mean_real, mean_drawn)[0, 1])
    return np.array(out)


def test_nb_per_label_and_batch_matches_each_batch():
    adata = ss.pp.simulate(
        n_cells=800, n_genes=300, batch_cells=[400, 400], group_prob=[0.5, 0.5], lib_loc=8.3,
        batch_fac_loc=0.5, batch_fac_scale=0.5,
    )  # fmt: skip
    labels = adata.obs["group"].astype(str).to_numpy()
    batches = adata.obs["batch"].astype(str).to_numpy()
    blind = _per_batch_profile_corr(adata.X, nb_per_label(adata.X, labels, 0), batches)
    aware = _per_batch_profile_corr(adata.X, nb_per_label(adata.X, labels, 0, batches), batches)
    # each batch scales every gene by a factor of its own; blind draws average the two batches
    assert (aware > 0.999).all()
    assert (blind < 0.98).all()


def test_tiny_label_batch_draws_from_its_label():
    adata = make_counts(n_cells=300, seed=4)
    labels = adata.obs["cell_type"].astype(str).to_numpy()
    batches = np.where(np.arange(300) < 297, "batch_0", "batch_1")
    deep = adata.X.copy().tolil()
    deep[297:] = deep[297:] * 20  # three cells of batch_1 with 20 times the counts
    deep = deep.tocsr()
    drawn = nb_per_label(deep, labels, 0, batches)
    assert (nb_per_label(deep, labels, 0, batches) != drawn).nnz == 0
    # too few to fit on their own, they draw library sizes from all cells of their labels
    assert drawn[297:].sum() < 0.5 * deep[297:].sum()
    assert abs(drawn[:297].sum() / deep[:297].sum() - 1) < 0.1


def test_draws_have_the_moments_of_the_fitted_negative_binomial():
    x = make_counts(n_cells=600, n_genes=60, seed=5).X.toarray()
    # genes whose counts follow the library size exactly underdisperse: fitted as Poisson
    x[:, :4] = np.round(np.outer(x.sum(axis=1), [0.002, 0.01, 0.03, 0.05]))
    library, profile, phi = fit(x)
    assert (phi[:4] == 0).all()
    assert (phi[4:] > 0).all()
    n = 20_000
    drawn = sparse.vstack(_draw(x, n, np.random.default_rng(0))).toarray()
    # library sizes are resampled, then Y | L ~ NB(L p, phi):
    # E[Y] = E[L] p and Var[Y] = E[L] p + phi p² E[L²] + p² Var[L]
    lib_mean, lib_square = library.mean(), (library**2).mean()
    mean = lib_mean * profile
    var = mean + phi * profile**2 * lib_square + profile**2 * library.var()
    z = (drawn.mean(axis=0) - mean) / np.sqrt(var / n)
    assert np.abs(z).max() < 5
    observed = mean > 0.5
    np.testing.assert_allclose(drawn.var(axis=0)[observed], var[observed], rtol=0.1)
    assert observed[:4].all()
