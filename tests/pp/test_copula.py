import warnings

import anndata
import numpy as np
import pytest
from scipy import stats

import sc_synth as ss
from sc_synth.pp._copula import (
    MAX_FACTORS,
    attenuation,
    factor_normals,
    fit_factors,
    normal_scores,
    pick_cells,
)


def _clumped_scores(n_cells=400, n_genes=100, seed=0):
    """Normal scores of cells in two sub-types: one factor at -1 or +1 on the first 30 genes."""
    rng = np.random.default_rng(seed)
    truth = rng.choice([-1.0, 1.0], n_cells)
    z = rng.standard_normal((n_cells, n_genes))
    z[:, :30] = 0.8 * truth[:, None] + 0.6 * z[:, :30]
    return z, truth


def test_fit_factors_returns_standardised_scores_of_the_cells():
    z, truth = _clumped_scores()
    loadings, scores = fit_factors(z)
    assert loadings.shape == (100, MAX_FACTORS)
    assert scores.shape[0] == 400
    assert scores.shape[1] == (np.abs(loadings).sum(axis=0) > 0).sum() >= 1
    np.testing.assert_allclose(scores.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(scores.var(axis=0), 1.0, rtol=1e-10)
    assert abs(np.corrcoef(scores[:, 0], truth)[0, 1]) > 0.95


def test_factor_normals_keep_unit_variance_and_the_scores_clumps():
    rng = np.random.default_rng(1)
    scores = np.zeros((200, 3))
    scores[:, 0] = np.repeat([-1.0, 1.0], 100)
    score_labels = np.zeros(200, dtype=np.int64)
    label = np.repeat([0, 1], 20_000)
    normals = rng.standard_normal((40_000, 3))
    n_factors = np.array([1, 0])
    picked, bandwidth = pick_cells(rng.random(40_000), label, score_labels, n_factors)
    assert np.all(picked[20_000:] == -1)
    assert np.all(bandwidth[20_000:] == 0)
    out = factor_normals(normals, picked, bandwidth, label, scores, n_factors)
    drawn = out[:20_000, 0]
    assert abs(drawn.var() - 1.0) < 0.03
    # two clumps: few values near 0, where a standard normal puts a quarter of its draws
    assert np.mean(np.abs(drawn) < 0.3) < 0.08
    # only the label's factors are resampled; other labels and columns keep their normals
    np.testing.assert_array_equal(out[:, 1:], normals[:, 1:])
    np.testing.assert_array_equal(out[20_000:], normals[20_000:])


def _one_label(loadings: np.ndarray) -> dict:
    """Fields of a ReferenceParams of one label, 100 genes and these loadings."""
    return {
        "labels": ["A"], "batches": ["Batch1"], "gene_names": [f"g{j}" for j in range(100)],
        "labels_key": "cell_type", "batch_key": None, "group_prob": np.ones(1),
        "batch_prob": np.ones((1, 1)), "base_profile": np.full(100, 0.01),
        "profile": np.full((1, 100), 0.01), "batch_factor": np.ones((1, 100)),
        "dispersion": np.full((1, 100), 0.2), "zero_inflation": np.zeros((1, 100)),
        "log_lib_quantiles": np.log(np.linspace(1000, 3000, 101))[None, None],
        "factors": loadings[None],
    }  # fmt: skip


def test_scores_are_checked():
    base = _one_label(fit_factors(_clumped_scores()[0])[0])
    scores = np.zeros((5, MAX_FACTORS))
    with pytest.raises(ValueError, match="given together"):
        ss.pp.ReferenceParams(**base, factor_scores=scores)
    with pytest.raises(ValueError, match="factor_scores must be a finite array"):
        ss.pp.ReferenceParams(**base, factor_scores=scores[:, :3], score_labels=np.zeros(5, int))
    with pytest.raises(ValueError, match=r"score_labels must lie in \[0, 1\)"):
        ss.pp.ReferenceParams(**base, factor_scores=scores, score_labels=np.ones(5, int))


def test_fitted_scores_travel_with_the_record(tmp_path):
    loadings = np.zeros((100, MAX_FACTORS))
    loadings[:30, 0] = 0.8
    reference = ss.pp.simulate(600, params=ss.pp.ReferenceParams(**_one_label(loadings)), seed=0)
    fitted = ss.pp.estimate_params(reference, labels_key="cell_type")
    assert fitted.factor_scores.shape == (600, MAX_FACTORS)
    assert np.all(fitted.score_labels == 0)
    assert np.abs(fitted.factor_scores[:, 0]).sum() > 0
    adata = ss.pp.simulate(200, params=fitted, seed=0)
    adata.write_h5ad(tmp_path / "x.h5ad")
    record = anndata.read_h5ad(tmp_path / "x.h5ad").uns["simulate"]["params"]
    again = ss.pp.ReferenceParams.from_dict(record)
    np.testing.assert_array_equal(again.factor_scores, fitted.factor_scores)
    assert (ss.pp.simulate(200, params=again, seed=0).X != adata.X).nnz == 0
    # a record written before factor scores existed draws standard normal factors
    np.testing.assert_array_equal(again.score_lib_ranks, fitted.score_lib_ranks)
    older = {k: v for k, v in record.items() if not k.startswith(("factor_scores", "score_"))}
    assert ss.pp.ReferenceParams.from_dict(older).factor_scores is None
    # one written before the library-size ranks existed draws sizes apart from the factors
    ranks = {k: v for k, v in record.items() if k != "score_lib_ranks"}
    assert ss.pp.ReferenceParams.from_dict(ranks).score_lib_ranks is None
    assert ss.pp.simulate(200, params=ss.pp.ReferenceParams.from_dict(ranks), seed=0).n_obs == 200


def test_attenuation_matches_the_scores_correlation_with_their_latent_normal():
    rng = np.random.default_rng(2)
    latent = rng.standard_normal((200_000, 1))
    cases = [
        (0.1, 0.5, 0.0),
        (1.0, 0.0, 0.0),
        (2.0, 0.3, 0.4),
        (1e4, 0.1, 0.0),
        (1e3, 5.0, 0.0),
        (30, 2, 0.2),
    ]
    for mu, phi, pi in cases:
        counts = (
            stats.nbinom.ppf(stats.norm.cdf(latent), 1 / phi, 1 / (1 + mu * phi))
            if phi
            else (stats.poisson.ppf(stats.norm.cdf(latent), mu))
        )
        if pi:
            u = stats.norm.cdf(latent)
            counts = np.where(
                u <= pi,
                0.0,
                stats.nbinom.ppf((u - pi) / (1 - pi), 1 / phi, 1 / (1 + mu / (1 - pi) * phi)),
            )
        args = (np.full((1, 1), mu), np.full(1, phi), np.full(1, pi))
        scores = normal_scores(counts, *(np.broadcast_to(a, counts.shape) for a in args), rng)
        expected = np.mean(latent * scores)
        assert abs(attenuation(*args)[0] - expected) < 0.01, (mu, phi, pi)


def test_sparse_genes_recover_their_latent_loadings():
    # 20 genes detected in ~10 % of the cells and 20 well-expressed ones, all loading 0.8 on one
    # latent factor: the sparse genes' scores load about half as much, the others nearly fully
    rng = np.random.default_rng(3)
    n, p = 3000, 40
    latent = 0.8 * rng.standard_normal((n, 1)) + 0.6 * rng.standard_normal((n, p))
    mu = np.repeat([[0.12, 20.0]], 20, axis=1).repeat(n, axis=0)
    phi, pi = np.full(p, 0.2), np.zeros(p)
    counts = stats.nbinom.ppf(stats.norm.cdf(latent), 1 / phi, 1 / (1 + mu * phi))
    z = normal_scores(counts, mu, phi, pi, rng)
    b = attenuation(mu[:1], phi, pi)
    assert np.all(b[:20] < 0.5)
    assert np.all(b[20:] > 0.95)
    sparse = slice(0, 20)
    plain = np.sqrt((fit_factors(z)[0] ** 2).sum(axis=1))
    latent_loadings = np.sqrt((fit_factors(z, attenuation=b)[0] ** 2).sum(axis=1))
    assert plain[sparse].mean() < 0.5
    assert abs(latent_loadings[sparse].mean() - 0.8) < 0.1
    assert abs(latent_loadings[20:].mean() - 0.8) < 0.05
    # never past the cap that leaves each gene a share of its own
    assert latent_loadings.max() <= np.sqrt(0.95) + 1e-12


def test_genes_without_counts_get_no_loadings_and_no_warning():
    z, _ = _clumped_scores()
    b = np.ones(z.shape[1])
    b[:5] = 0.0  # genes never expressed in the label
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loadings, _ = fit_factors(z, attenuation=b)
        assert attenuation(np.zeros((2, 3)), np.full(3, 0.2), np.zeros(3)).tolist() == [0, 0, 0]
    assert not loadings[:5].any()
    assert loadings[5:30].any()


def test_library_sizes_go_with_the_factor_coordinates_when_ranked():
    # one factor on the first 30 genes; reference cells whose coordinate is their depth's rank
    loadings = np.zeros((100, MAX_FACTORS))
    loadings[:30, 0] = 0.9
    ranks = (np.arange(400) + 0.5) / 400
    scores = np.zeros((400, MAX_FACTORS))
    scores[:, 0] = stats.norm.ppf(ranks)
    scores[:, 0] /= scores[:, 0].std()
    fields = {**_one_label(loadings), "factor_scores": scores, "score_labels": np.zeros(400, int)}

    def block_share_against_depth(params):
        adata = ss.pp.simulate(3000, params=params, seed=1)
        share = np.asarray(adata.X[:, :30].sum(axis=1)).ravel() / adata.X.sum(axis=1).A1
        return np.corrcoef(share, np.log(adata.obs["exp_lib_size"]))[0, 1]

    coupled = ss.pp.ReferenceParams(**fields, score_lib_ranks=ranks)
    assert block_share_against_depth(coupled) > 0.5
    assert abs(block_share_against_depth(ss.pp.ReferenceParams(**fields))) < 0.1
    # the sizes keep their distribution, and chunks change nothing
    small = ss.pp.simulate(3000, params=coupled, seed=1, chunk_size=64)
    large = ss.pp.simulate(3000, params=coupled, seed=1, chunk_size=2000)
    assert (small.X != large.X).nnz == 0
    drawn = np.log(small.obs["exp_lib_size"])
    expected = coupled.log_lib_quantiles[0, 0]
    assert (
        stats.ks_2samp(
            drawn,
            np.interp(np.random.default_rng(0).random(3000), np.linspace(0, 1, 101), expected),
        ).pvalue
        > 0.01
    )
    with pytest.raises(ValueError, match="score_lib_ranks must be an array"):
        ss.pp.ReferenceParams(**fields, score_lib_ranks=ranks[:5])
    with pytest.raises(ValueError, match="needs factor_scores"):
        ss.pp.ReferenceParams(**_one_label(loadings), score_lib_ranks=ranks)
