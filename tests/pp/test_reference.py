import hashlib

import anndata
import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse, stats

import sc_synth as ss
from sc_synth.pp._copula import MAX_FACTORS


def _params(n_genes=60, loading=0.8, block=20, labels=("A", "B"), zero_inflation=0.0):
    """Hand-made parameters: label A's first ``block`` genes share one copula factor."""
    n_labels = len(labels)
    rng = np.random.default_rng(0)
    profile = rng.gamma(2.0, 1.0, (n_labels, n_genes))
    profile /= profile.sum(axis=1, keepdims=True)
    factors = np.zeros((n_labels, n_genes, MAX_FACTORS))
    factors[0, :block, 0] = loading
    zi = np.zeros((n_labels, n_genes))
    zi[:, -5:] = zero_inflation
    return ss.pp.ReferenceParams(
        labels=list(labels),
        batches=["Batch1"],
        gene_names=[f"g{j}" for j in range(n_genes)],
        labels_key="cell_type",
        batch_key=None,
        group_prob=np.full(n_labels, 1 / n_labels),
        batch_prob=np.ones((n_labels, 1)),
        base_profile=profile.mean(axis=0),
        profile=profile,
        batch_factor=np.ones((1, n_genes)),
        dispersion=np.full((n_labels, n_genes), 0.2),
        zero_inflation=zi,
        log_lib_quantiles=np.broadcast_to(
            np.log(2000.0) + 0.2 * stats.norm.ppf(np.linspace(0.001, 0.999, 101)),
            (n_labels, 1, 101),
        ),
        factors=factors,
    )


def _log_corr(x: sparse.spmatrix) -> np.ndarray:
    """Gene-gene correlation of log1p counts per 10,000, free of library-size effects."""
    dense = x.toarray()
    dense = np.log1p(dense / np.maximum(dense.sum(axis=1, keepdims=True), 1) * 1e4)
    return np.corrcoef(dense, rowvar=False)


@pytest.fixture(scope="module")
def labelled():
    adata = ss.pp.simulate(600, 150, group_prob=[0.5, 0.3, 0.2], de_prob=0.3, seed=3)
    adata.obs["cell_type"] = adata.obs["group"].astype(str)
    return adata


def test_simulate_keeps_truth_and_composition():
    params = _params()
    adata = ss.pp.simulate(2000, params=params, seed=1)
    assert sparse.isspmatrix_csr(adata.X)
    assert adata.X.dtype == np.float32
    assert list(adata.obs["cell_type"].cat.categories) == ["A", "B"]
    assert abs((adata.obs["cell_type"] == "A").mean() - 0.5) < 0.05
    assert adata.varm["mean"].shape == (60, 2)
    assert adata.varm["dispersion"].shape == (60, 2)
    np.testing.assert_allclose(adata.var["de_fac_A"], params.profile[0] / params.base_profile)
    # counts follow the marginals: mean share of each gene within label A
    in_a = (adata.obs["cell_type"] == "A").to_numpy()
    share = np.asarray(adata.X[in_a].sum(axis=0)).ravel() / adata.X[in_a].sum()
    assert np.corrcoef(share, params.profile[0])[0, 1] > 0.98
    again = ss.pp.ReferenceParams.from_dict(adata.uns["simulate"]["params"])
    np.testing.assert_array_equal(again.factors, params.factors)
    assert again.labels == params.labels
    assert again.batch_key is None


def test_copula_correlates_the_block_only_with_correlation():
    params = _params()
    with_copula = ss.pp.simulate(1500, params=params, group_prob=[1.0, 0.0], seed=2)
    without = ss.pp.simulate(1500, params=params, group_prob=[1.0, 0.0], seed=2, correlation=False)
    upper = np.triu_indices(20, k=1)
    block = _log_corr(with_copula.X)[:20, :20][upper]
    outside = _log_corr(with_copula.X)[20:, 20:][np.triu_indices(40, k=1)]
    assert block.mean() > 0.3
    assert abs(outside.mean()) < 0.03
    assert abs(_log_corr(without.X)[:20, :20][upper].mean()) < 0.03


def test_same_counts_whatever_the_chunks(tmp_path):
    params = _params()
    small = ss.pp.simulate(300, params=params, seed=4, chunk_size=64)
    large = ss.pp.simulate(300, params=params, seed=4, chunk_size=1000)
    assert (small.X != large.X).nnz == 0
    other = ss.pp.simulate(300, params=params, seed=5)
    assert (small.X != other.X).nnz > 0
    stored = ss.pp.simulate(300, params=params, seed=4, chunk_size=128, out=tmp_path / "x.zarr")
    assert (sparse.csr_matrix(stored.X[:]) != small.X).nnz == 0
    back = anndata.read_zarr(tmp_path / "x.zarr")
    np.testing.assert_array_equal(back.varm["mean"], small.varm["mean"])


def test_zero_inflation_adds_zeros_keeping_the_mean():
    params = _params(zero_inflation=0.5)
    adata = ss.pp.simulate(3000, params=params, group_prob=[0.0, 1.0], seed=6)
    plain = ss.pp.simulate(3000, params=_params(zero_inflation=0.0), group_prob=[0.0, 1.0], seed=6)
    zeros = 1 - (adata.X[:, -5:] > 0).mean(axis=0)
    plain_zeros = 1 - (plain.X[:, -5:] > 0).mean(axis=0)
    assert np.all(zeros > plain_zeros + 0.3)
    ratio = adata.X[:, -5:].sum(axis=0) / plain.X[:, -5:].sum(axis=0)
    np.testing.assert_allclose(np.asarray(ratio).ravel(), 1.0, rtol=0.15)


def test_fit_recovers_what_it_simulated():
    truth = _params(n_genes=80, loading=0.85, labels=("A",))
    truth.zero_inflation[0, -5:] = 0.6
    adata = ss.pp.simulate(1500, params=truth, seed=7)
    fitted = ss.pp.estimate_params(adata, labels_key="cell_type")
    assert fitted.labels == ["A"]
    np.testing.assert_allclose(fitted.profile[0], truth.profile[0], rtol=0.2, atol=1e-3)
    assert abs(np.median(fitted.dispersion[0, :-5]) - 0.2) < 0.05
    assert np.all(fitted.zero_inflation[0, -5:] > 0.4)
    assert np.mean(fitted.zero_inflation[0, :-5] > 0) < 0.05
    implied = fitted.factors[0] @ fitted.factors[0].T
    assert implied[:20, :20][np.triu_indices(20, k=1)].mean() > 0.4
    assert abs(implied[20:-5, 20:-5][np.triu_indices(55, k=1)]).mean() < 0.05
    assert abs(fitted.log_lib_quantiles[0, 0, 50] - np.log(2000.0)) < 0.05


def test_one_call_with_a_reference(labelled):
    before = labelled.copy()
    adata = ss.pp.simulate(400, reference=labelled, labels_key="cell_type", seed=0)
    assert adata.var_names.equals(labelled.var_names)
    assert set(adata.obs["cell_type"].cat.categories) == {"Group1", "Group2", "Group3"}
    assert adata.uns["simulate"]["mode"] == "reference"
    assert labelled.obs.equals(before.obs)
    assert (labelled.X != before.X).nnz == 0
    assert list(labelled.var.columns) == list(before.var.columns)


@pytest.mark.parametrize("labels_key", [None, "cell_type"])
def test_layer_holds_the_reference_counts(labelled, labels_key):
    expected = ss.pp.simulate(200, reference=labelled, labels_key=labels_key, seed=0)
    moved = labelled.copy()
    moved.layers["counts"] = moved.X.copy()
    moved.X = moved.X.multiply(0.5).tocsr()  # not counts: would be refused as `X`
    adata = ss.pp.simulate(200, reference=moved, layer="counts", labels_key=labels_key, seed=0)
    assert (adata.X != expected.X).nnz == 0
    with pytest.raises(ValueError, match="non-integer"):
        ss.pp.simulate(200, reference=moved, labels_key=labels_key, seed=0)


def test_layer_needs_a_reference():
    with pytest.raises(ValueError, match="`layer` names the counts of `reference`"):
        ss.pp.simulate(100, layer="counts")
    with pytest.raises(ValueError, match="`layer` names the counts of `reference`"):
        ss.pp.simulate(100, params=_params(), layer="counts")


def test_group_prob_sets_the_composition(labelled):
    fitted = ss.pp.estimate_params(labelled, labels_key="cell_type")
    adata = ss.pp.simulate(500, params=fitted, group_prob=[0.0, 0.0, 1.0], seed=0)
    assert (adata.obs["cell_type"] == "Group3").all()


def test_never_expressed_gene_stays_zero(labelled):
    reference = labelled.copy()
    counts = reference.X.tolil()
    counts[:, 0] = 0
    reference.X = counts.tocsr()
    adata = ss.pp.simulate(300, reference=reference, labels_key="cell_type", seed=0)
    assert adata.X[:, 0].nnz == 0
    assert adata.var["de_fac_Group1"].iloc[0] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"labels_key": "missing"}, KeyError, "labels_key='missing'"),
        ({"labels_key": "cell_type", "group_prob": [1.0]}, ValueError, "one probability per"),
        ({"labels_key": "cell_type", "de_prob": 0.2}, TypeError, "do not apply"),
        ({"labels_key": "cell_type", "batch_cells": [200, 200]}, ValueError, "batch_cells"),
        ({"labels_key": "cell_type", "correlation": "yes"}, TypeError, "correlation"),
        ({"correlation": True}, ValueError, "reference mode only"),
        (
            {"labels_key": "cell_type", "sample_cells": [200, 100]},
            ValueError,
            r"`sample_cells` must add up to `n_cells` \(400\)",
        ),
        (
            {"labels_key": "cell_type", "n_samples": 4, "condition_prob": [0.9, 0.1]},
            ValueError,
            "without samples",
        ),
        (
            {"labels_key": "cell_type", "n_samples": 4, "condition_prob": [0.5, 0.4]},
            ValueError,
            "`condition_prob` must sum to 1",
        ),
        (
            {"labels_key": "cell_type", "n_samples": 4, "sample_fac_scale": -0.1},
            ValueError,
            "`sample_fac_scale` must be",
        ),
        (
            {"labels_key": "cell_type", "n_samples": 2, "sample_condition": {"Sample3": "b"}},
            ValueError,
            r"unknown samples \['Sample3'\]",
        ),
        (
            {"labels_key": "cell_type", "n_samples": 2, "cond_de_fac_loc": [0.1, 0.2]},
            ValueError,
            r"`cond_de_fac_loc` must be one number or one per label \(3\)",
        ),
        ({"labels_key": "cell_type", "cond_de_prob": 0.2}, ValueError, "need samples"),
    ],
)
def test_bad_arguments_fail_before_work(labelled, kwargs, error, match):
    before = labelled.copy()
    with pytest.raises(error, match=match):
        ss.pp.simulate(400, reference=labelled, **kwargs)
    assert labelled.obs.equals(before.obs)
    assert (labelled.X != before.X).nnz == 0


def test_labels_need_a_reference_or_params():
    with pytest.raises(ValueError, match="need `reference`"):
        ss.pp.simulate(100, labels_key="cell_type")
    with pytest.raises(ValueError, match="not both"):
        ss.pp.simulate(100, params=_params(), labels_key="cell_type")


def test_params_are_checked():
    good = _params()
    with pytest.raises(ValueError, match="dispersion"):
        ss.pp.ReferenceParams(**{**good.__dict__, "dispersion": np.zeros((3, 60))})
    with pytest.raises(ValueError, match="must not decrease"):
        ss.pp.ReferenceParams(
            **{**good.__dict__, "log_lib_quantiles": good.log_lib_quantiles[..., ::-1]}
        )


def test_record_survives_h5ad(tmp_path):
    adata = ss.pp.simulate(100, params=_params(), seed=0)
    adata.write_h5ad(tmp_path / "x.h5ad")
    back = anndata.read_h5ad(tmp_path / "x.h5ad")
    again = ss.pp.ReferenceParams.from_dict(back.uns["simulate"]["params"])
    np.testing.assert_array_equal(again.log_lib_quantiles, _params().log_lib_quantiles)
    assert again.labels_key == "cell_type"
    assert again.batch_key is None
    resimulated = ss.pp.simulate(100, params=again, seed=0)
    assert (resimulated.X != adata.X).nnz == 0


def test_existing_store_refused(tmp_path):
    (tmp_path / "x.zarr").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        ss.pp.simulate(10, params=_params(), out=tmp_path / "x.zarr")


def test_batches_get_factors_and_library_sizes():
    rng = np.random.default_rng(0)
    n, n_genes = 800, 100
    profile = rng.gamma(2.0, 1.0, n_genes)
    effect = np.exp(rng.normal(0, 0.7, n_genes))
    batch = np.repeat(["b1", "b2"], n // 2)
    lib = np.where(batch == "b1", 1000.0, 3000.0)
    means = lib[:, None] * np.where(batch[:, None] == "b1", profile, profile * effect)
    means /= means.sum(axis=1, keepdims=True) / lib[:, None]
    counts = rng.poisson(means).astype(np.float32)
    obs = pd.DataFrame({"donor": batch}, index=[f"c{i}" for i in range(n)])
    adata = AnnData(sparse.csr_matrix(counts), obs=obs)
    fitted = ss.pp.estimate_params(adata, batch_key="donor")
    assert fitted.batches == ["b1", "b2"]
    ratio = np.log(fitted.batch_factor[1] / fitted.batch_factor[0])
    assert np.corrcoef(ratio, np.log(effect))[0, 1] > 0.9
    median = fitted.log_lib_quantiles[0, :, 50]
    assert abs(median[1] - median[0] - np.log(3.0)) < 0.05
    sim = ss.pp.simulate(600, params=fitted, seed=0)
    assert set(sim.obs["donor"].cat.categories) == {"b1", "b2"}
    assert "batch_fac_b2" in sim.var


def _digest(adata) -> str:
    """The counts and labels exactly; the truth's floats to 10 significant digits.

    The truth comes through ``np.exp``, whose float64 loops differ in the last bit between numpy
    releases and CPUs (1.26 and 2.x on AVX-512, say); the counts do not.
    """
    h = hashlib.sha256()
    for a in (adata.X.data, adata.X.indices, adata.X.indptr):
        h.update(np.ascontiguousarray(a).tobytes())
    for frame in (adata.obs, adata.var):
        floats = frame.select_dtypes("floating")
        frame = frame.assign(**{c: floats[c].map("{:.10g}".format) for c in floats})
        h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


def test_no_design_leaves_the_output_as_before():
    # digest of this call's X, obs and var before designs applied to a labelled reference
    adata = ss.pp.simulate(
        300, params=_params(labels=("A", "B", "C")), group_prob=[0.5, 0.3, 0.2], seed=7
    )
    assert _digest(adata) == "ae9d7c3fe9c0d63205526612a88773670e273edc889caa95384bffa55f28f69b"
    assert "sample" not in adata.obs
    assert "design" not in adata.uns["simulate"]


def test_design_on_a_reference_draws_as_the_splat_model_does(tmp_path):
    params, probs = _params(labels=("A", "B", "C")), [0.5, 0.3, 0.2]
    design = {"n_samples": 4, "condition_prob": [0.5, 0.5], "cond_de_prob": 0.3, "seed": 3}
    adata = ss.pp.simulate(400, params=params, group_prob=probs, chunk_size=64, **design)
    splat = ss.pp.simulate(400, 60, group_prob=probs, **design)
    # the same seed gives the same design draws, the reference's labels standing for groups
    np.testing.assert_array_equal(adata.varm["sample_fac"], splat.varm["sample_fac"])
    for group, label in zip(("Group1", "Group2", "Group3"), params.labels, strict=True):
        fac = adata.var[f"cond_de_fac_Condition2_{label}"].to_numpy()
        np.testing.assert_array_equal(fac, splat.var[f"cond_de_fac_Condition2_{group}"])
        assert (adata.var[f"cond_de_Condition2_{label}"] == (fac != 1)).all()
    record = adata.uns["simulate"]["design"]
    np.testing.assert_array_equal(
        record["composition"], splat.uns["simulate"]["design"]["composition"]
    )
    assert list(record["composition"].columns) == ["A", "B", "C"]
    assert record["params"]["cond_de_prob"] == 0.3
    pd.testing.assert_series_equal(adata.obs["sample"], splat.obs["sample"])
    pd.testing.assert_series_equal(adata.obs["condition"], splat.obs["condition"])
    np.testing.assert_array_equal(adata.obs["cell_type"].cat.codes, splat.obs["group"].cat.codes)
    # chunks and the store change nothing
    whole = ss.pp.simulate(400, params=params, group_prob=probs, chunk_size=1000, **design)
    assert (whole.X != adata.X).nnz == 0
    stored = ss.pp.simulate(400, params=params, group_prob=probs, out=tmp_path / "x.zarr", **design)
    assert (sparse.csr_matrix(stored.X[:]) != adata.X).nnz == 0
    back = anndata.read_zarr(tmp_path / "x.zarr")
    np.testing.assert_array_equal(back.varm["sample_fac"], adata.varm["sample_fac"])


def test_design_in_one_call_with_a_reference(labelled):
    adata = ss.pp.simulate(
        300, reference=labelled, labels_key="cell_type", sample_cells=[100, 200],
        sample_condition=["ctrl", "stim"], seed=0,
    )  # fmt: skip
    assert adata.obs["sample"].value_counts().to_dict() == {"Sample2": 200, "Sample1": 100}
    assert {"cond_de_fac_stim_Group1", "cond_de_stim_Group3"} <= set(adata.var.columns)
    assert adata.varm["sample_fac"].shape == (labelled.n_vars, 2)


def test_pseudobulk_fold_changes_track_the_condition_factors_on_a_reference():
    n_samples, per_sample = 8, 150
    adata = ss.pp.simulate(
        n_samples * per_sample, params=_params(n_genes=200), group_prob=[1.0, 0.0],
        n_samples=n_samples, condition_prob=[0.5, 0.5], cond_de_prob=0.3, cond_de_fac_scale=0.8,
        sample_fac_scale=0.1, seed=6,
    )  # fmt: skip
    condition = adata.obs["condition"].cat.codes.to_numpy()
    bulk = np.vstack([np.asarray(adata.X[condition == c].sum(axis=0)).ravel() for c in (0, 1)])
    cpm = bulk / bulk.sum(axis=1, keepdims=True) * 1e6
    truth = np.log(adata.var["cond_de_fac_Condition2_A"].to_numpy())
    de = adata.var["cond_de_Condition2_A"].to_numpy() & (cpm.min(axis=0) > 500)
    lfc = np.log(cpm[1, de] / cpm[0, de])
    fit = np.polyfit(truth[de], lfc, 1, full=False, cov=True)
    slope, se = fit[0][0], np.sqrt(fit[1][0, 0])
    assert de.sum() > 30
    assert abs(slope - 1) < 4 * se
    assert se < 0.1  # the check has power: no condition effect gives slope 0


def _icc(x: np.ndarray, n_samples: int) -> np.ndarray:
    """One-way intra-class correlation of each gene's counts, cells grouped by sample."""
    x = x.reshape(n_samples, -1, x.shape[1])
    per_sample = x.shape[1]
    msb = per_sample * x.mean(axis=1).var(axis=0, ddof=1)
    msw = x.var(axis=1, ddof=1).mean(axis=0)
    return (msb - msw) / (msb + (per_sample - 1) * msw)


def test_sample_factors_make_cells_of_a_sample_alike():
    n_samples, per_sample, sigma = 30, 40, 0.3
    params = _params(n_genes=100)
    adata = ss.pp.simulate(
        n_samples * per_sample, params=params, group_prob=[1.0, 0.0], n_samples=n_samples,
        sample_fac_scale=sigma, seed=4,
    )  # fmt: skip
    x = adata.X.toarray()
    # sample pseudo-bulks move with the drawn factors, once each sample's and gene's scale is
    # taken out (the normalisation of the proportions, the gene's mean)
    bulk = x.reshape(n_samples, per_sample, -1).sum(axis=1)
    keep = bulk.min(axis=0) > 200
    observed, drawn = np.log(bulk[:, keep]), np.log(adata.varm["sample_fac"][keep].T)
    observed, drawn = (
        v - v.mean(axis=0) - v.mean(axis=1, keepdims=True) + v.mean() for v in (observed, drawn)
    )
    fit = np.polyfit(drawn.ravel(), observed.ravel(), 1, cov=True)
    assert keep.sum() > 50
    assert abs(fit[0][0] - 1) < 4 * np.sqrt(fit[1][0, 0])

    # Intra-class correlation of each gene: with F ~ LogNormal(0, σ) per sample, library sizes
    # of relative variance v and dispersion φ, a gene of mean a at F = 1 has between-sample
    # variance a² (e^{2σ²} - e^{σ²}) and within-sample variance a e^{σ²/2} + a² e^{2σ²}
    # (φ (1 + v) + v); the proportions' normalisation makes a = lib · p / e^{σ²/2}.
    lib = adata.obs["exp_lib_size"].to_numpy()
    v, phi = lib.var() / lib.mean() ** 2, params.dispersion[0]
    a = lib.mean() * params.profile[0] / np.exp(sigma**2 / 2)
    between = a**2 * (np.exp(2 * sigma**2) - np.exp(sigma**2))
    within = a * np.exp(sigma**2 / 2) + a**2 * np.exp(2 * sigma**2) * (phi * (1 + v) + v)
    implied = between / (between + within)
    diff = (_icc(x, n_samples) - implied)[a > 2]
    assert diff.size > 50
    assert abs(diff.mean()) < 4 * diff.std(ddof=1) / np.sqrt(diff.size)
    assert implied[a > 2].mean() > 0.1  # the check has power: without sample factors ICC ≈ 0
