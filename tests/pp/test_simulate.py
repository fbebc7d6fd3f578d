import anndata as ad
import numpy as np
import pytest
from scipy import sparse, stats

import sc_synth as ss
from sc_synth.pp import SimParams, _store


def _moment_dispersion(counts, lib):
    """Per-gene NB dispersion by moments with library-size offsets."""
    x = counts.toarray().astype(float)
    p = x.sum(0) / lib.sum()
    mu = lib[:, None] * p[None, :]
    return (((x - mu) ** 2 - mu).sum(0)) / (mu**2).sum(0), p


def test_output_layout():
    adata = ss.pp.simulate(150, 40, batch_cells=[100, 50], group_prob=[0.7, 0.3], seed=1)
    assert isinstance(adata.X, sparse.csr_matrix)
    assert adata.X.dtype == np.float32
    assert np.all(adata.X.data == np.round(adata.X.data))
    assert adata.X.data.min() > 0
    assert list(adata.obs_names[:2]) == ["Cell1", "Cell2"]
    assert list(adata.var_names[:2]) == ["Gene1", "Gene2"]
    assert list(adata.obs["batch"].cat.categories) == ["Batch1", "Batch2"]
    assert list(adata.obs["group"].cat.categories) == ["Group1", "Group2"]
    assert (adata.obs["batch"] == "Batch1").sum() == 100
    for col in ["base_gene_mean", "outlier_factor", "gene_mean", "bcv_factor"]:
        assert col in adata.var
    for col in ["batch_fac_Batch1", "batch_fac_Batch2", "de_fac_Group1", "de_fac_Group2"]:
        assert col in adata.var
    assert adata.var["de_Group1"].dtype == bool
    assert "true_counts" not in adata.layers
    record = adata.uns["simulate"]
    assert record["batch_cells"] == [100, 50]
    assert record["params"]["de_prob"] == 0.1
    assert record["seed"] == 1


def test_library_sizes_are_lognormal_and_drive_totals():
    adata = ss.pp.simulate(3000, 200, seed=2, lib_loc=9.0, lib_scale=0.3)
    exp_lib = adata.obs["exp_lib_size"].to_numpy()
    assert stats.kstest(np.log(exp_lib), stats.norm(9.0, 0.3).cdf).pvalue > 0.01
    totals = np.asarray(adata.X.sum(1)).ravel()
    assert np.corrcoef(np.log(totals), np.log(exp_lib))[0, 1] > 0.9
    assert abs(np.median(totals / exp_lib) - 1) < 0.05


def test_normal_library_sizes():
    adata = ss.pp.simulate(3000, 50, seed=3, lib_norm=True, lib_loc=5000.0, lib_scale=800.0)
    exp_lib = adata.obs["exp_lib_size"].to_numpy()
    assert stats.kstest(exp_lib, stats.norm(5000.0, 800.0).cdf).pvalue > 0.01


def test_outliers_relative_to_median_mean():
    adata = ss.pp.simulate(64, 20000, seed=4, out_prob=0.1)
    var = adata.var
    is_out = var["outlier_factor"] != 1
    assert abs(is_out.mean() - 0.1) < 0.01
    median = np.median(var["base_gene_mean"])
    assert np.allclose(var.loc[is_out, "gene_mean"], median * var.loc[is_out, "outlier_factor"])
    assert np.array_equal(var.loc[~is_out, "gene_mean"], var.loc[~is_out, "base_gene_mean"])
    assert np.all(var.loc[is_out, "outlier_factor"] > 1)


def test_de_fraction_direction_and_fold_changes():
    adata = ss.pp.simulate(
        2000, 5000, group_prob=[0.5, 0.5], seed=5, de_prob=[0.2, 0.1], de_down_prob=0.3,
        de_fac_loc=0.5, lib_loc=12.0,
    )  # fmt: skip
    var = adata.var
    assert abs(var["de_Group1"].mean() - 0.2) < 0.02
    assert abs(var["de_Group2"].mean() - 0.1) < 0.015
    de1 = var["de_Group1"].to_numpy()
    down = (var["de_fac_Group1"] < 1)[de1].mean()
    assert abs(down - 0.3) < 0.04
    # Group-mean log fold changes of well-expressed DE genes follow the true factors.
    g1 = (adata.obs["group"] == "Group1").to_numpy()
    x = adata.X
    m1 = np.asarray(x[g1].mean(0)).ravel()
    m2 = np.asarray(x[~g1].mean(0)).ravel()
    de = (de1 | var["de_Group2"].to_numpy()) & (m1 > 20) & (m2 > 20)
    observed = np.log(m1[de] / m2[de])
    truth = np.log(var["de_fac_Group1"] / var["de_fac_Group2"]).to_numpy()[de]
    slope, intercept, r, *_ = stats.linregress(truth, observed)
    assert r > 0.95
    assert 0.9 < slope < 1.1


def test_single_group_has_no_de_and_batches_have_factors():
    adata = ss.pp.simulate(400, 3000, batch_cells=[200, 200], seed=6, batch_fac_scale=0.3)
    assert not adata.var["de_Group1"].any()
    fac = adata.var[["batch_fac_Batch1", "batch_fac_Batch2"]].to_numpy()
    assert np.all(fac != 1)
    # Half of the batch factors go down, as Splatter draws them.
    assert abs((fac < 1).mean() - 0.5) < 0.03
    b1 = (adata.obs["batch"] == "Batch1").to_numpy()
    m1 = np.asarray(adata.X[b1].mean(0)).ravel()
    m2 = np.asarray(adata.X[~b1].mean(0)).ravel()
    keep = (m1 > 30) & (m2 > 30)
    r = np.corrcoef(np.log(m1[keep] / m2[keep]), np.log(fac[keep, 0] / fac[keep, 1]))[0, 1]
    assert r > 0.9
    removed = ss.pp.simulate(400, 3000, batch_cells=[200, 200], seed=6, batch_rm_effect=True)
    assert np.all(removed.var[["batch_fac_Batch1", "batch_fac_Batch2"]] == 1)


def test_bcv_of_high_mean_genes():
    bcv_common = 0.3
    adata = ss.pp.simulate(
        1500, 300, seed=7, bcv_common=bcv_common, bcv_df=np.inf, lib_scale=0.0, lib_loc=11.0,
        out_prob=0.0,
    )  # fmt: skip
    lib = adata.obs["exp_lib_size"].to_numpy()
    phi, p = _moment_dispersion(adata.X, lib)
    mu = lib[0] * p
    high = mu > 300
    assert high.sum() > 30
    expected = (bcv_common + 1 / np.sqrt(mu[high])) ** 2
    assert 0.9 < np.median(phi[high] / expected) < 1.1
    # With bcv_df finite, the per-gene spread of BCV factors follows df / chi2(df).
    factor = ss.pp.simulate(10, 20000, seed=7, bcv_df=20.0).var["bcv_factor"].to_numpy()
    assert stats.kstest(20.0 / factor**2, "chi2", args=(20.0,)).pvalue > 0.01


def test_dropout_follows_logistic():
    mid, shape = 3.0, -1.5
    adata = ss.pp.simulate(
        1500, 400, seed=8, dropout_type="experiment", dropout_mid=mid, dropout_shape=shape,
        bcv_common=0.05, bcv_df=np.inf, lib_scale=0.0, lib_loc=9.5, out_prob=0.0,
    )  # fmt: skip
    true = adata.layers["true_counts"]
    assert isinstance(true, sparse.csr_matrix)
    assert (adata.X > true).nnz == 0
    nonzero_true = np.asarray((true > 0).sum(0)).ravel()
    kept = np.asarray((adata.X > 0).sum(0)).ravel()
    mu = adata.obs["exp_lib_size"].iloc[0] * adata.var["gene_mean"] / adata.var["gene_mean"].sum()
    usable = (nonzero_true > 300) & (mu > 5)
    dropped = 1 - kept[usable] / nonzero_true[usable]
    expected = 1 / (1 + np.exp(-shape * (np.log(mu[usable]) - mid)))
    assert np.max(np.abs(dropped - expected)) < 0.06
    assert dropped.max() - dropped.min() > 0.5


def test_dropout_only_removes_counts():
    kwargs = {"seed": 10, "group_prob": [0.5, 0.5], "lib_loc": 12.0}
    plain = ss.pp.simulate(200, 3000, **kwargs)
    dropped = ss.pp.simulate(200, 3000, dropout_type="experiment", **kwargs)
    assert (dropped.layers["true_counts"] != plain.X).nnz == 0
    assert 0 < dropped.X.nnz < plain.X.nnz


@pytest.mark.parametrize(("dropout_type", "n"), [("batch", 2), ("group", 3), ("cell", 120)])
def test_dropout_per_unit(dropout_type, n):
    mids = np.linspace(-5, 8, n)
    adata = ss.pp.simulate(
        120, 300, batch_cells=[60, 60], group_prob=[0.3, 0.3, 0.4], seed=9,
        dropout_type=dropout_type, dropout_mid=mids, dropout_shape=[-1.0] * n, lib_loc=8.0,
    )  # fmt: skip
    lost = 1 - np.asarray(adata.X.getnnz(1) / adata.layers["true_counts"].getnnz(1))
    unit = {
        "batch": adata.obs["batch"].cat.codes,
        "group": adata.obs["group"].cat.codes,
        "cell": np.arange(120),
    }[dropout_type]
    # A higher midpoint drops more.
    assert stats.spearmanr(mids[np.asarray(unit)], lost)[0] > 0.6


def test_params_object_and_overrides():
    params = SimParams(de_prob=0.3, bcv_common=0.2)
    adata = ss.pp.simulate(50, 2000, group_prob=[0.5, 0.5], params=params, de_prob=0.05)
    assert adata.uns["simulate"]["params"]["de_prob"] == 0.05
    assert adata.uns["simulate"]["params"]["bcv_common"] == 0.2
    assert adata.var["de_Group1"].mean() < 0.1


def test_h5ad_round_trip(tmp_path):
    adata = ss.pp.simulate(
        100, 60, batch_cells=[50, 50], group_prob=[0.5, 0.5], seed=13,
        dropout_type="batch", dropout_mid=[0.0, 1.0], dropout_shape=[-1.0, -1.0],
    )  # fmt: skip
    adata.write_h5ad(tmp_path / "sim.h5ad")
    back = ad.read_h5ad(tmp_path / "sim.h5ad")
    assert (back.X != adata.X).nnz == 0
    assert (back.layers["true_counts"] != adata.layers["true_counts"]).nnz == 0
    assert back.obs.equals(adata.obs)
    assert back.var.equals(adata.var)
    assert back.uns["simulate"]["params"]["dropout_mid"].tolist() == [0.0, 1.0]
    assert back.uns["simulate"]["group_prob"].tolist() == [0.5, 0.5]


@pytest.mark.parametrize("zarr_chunk", [None, 100])
def test_zarr_out_matches_in_memory(tmp_path, monkeypatch, zarr_chunk):
    kwargs = {"group_prob": [0.5, 0.5], "seed": 14, "dropout_type": "experiment", "chunk_size": 64}
    if zarr_chunk is not None:
        # many whole zarr chunks per piece, and values held over from one piece to the next
        monkeypatch.setattr(_store, "_CHUNK", zarr_chunk)
    memory = ss.pp.simulate(200, 80, **kwargs)
    stored = ss.pp.simulate(200, 80, out=tmp_path / "sim.zarr", **kwargs)
    assert (sparse.csr_matrix(stored.X[:]) != memory.X).nnz == 0
    back = ad.read_zarr(tmp_path / "sim.zarr")
    assert (back.X != memory.X).nnz == 0
    assert (back.layers["true_counts"] != memory.layers["true_counts"]).nnz == 0
    assert back.obs.equals(memory.obs)
    with pytest.raises(ValueError, match="`out` must be a new path"):
        ss.pp.simulate(10, 10, out=tmp_path / "sim.zarr")


def test_reference_keeps_genes_and_is_unchanged(counts_adata):
    before = counts_adata.copy()
    adata = ss.pp.simulate(500, reference=counts_adata, seed=15)
    assert list(adata.var_names) == list(counts_adata.var_names)
    assert adata.uns["simulate"]["reference"] is True
    assert (counts_adata.X != before.X).nnz == 0
    assert counts_adata.obs.equals(before.obs)
    assert counts_adata.var.equals(before.var)
    real = np.asarray(counts_adata.X.mean(0)).ravel()
    simulated = np.asarray(adata.X.mean(0)).ravel()
    r = np.corrcoef(np.log1p(real / real.sum()), np.log1p(simulated / simulated.sum()))[0, 1]
    assert r > 0.95
    assert np.all(adata.var["outlier_factor"] == 1)


def _step_proportions(adata, cells):
    """Pooled counts of ``cells`` over their pooled expected library size, per gene."""
    lib = adata.obs["exp_lib_size"].to_numpy()[cells]
    return np.asarray(adata.X[cells].sum(0)).ravel() / lib.sum(), lib.sum()


@pytest.fixture(scope="module")
def two_batch_path():
    # Few steps, so that every step holds enough cells to measure its means; strong DE.
    return ss.pp.simulate(
        1600, 3000, batch_cells=[800, 800], method="paths", path_n_steps=5, seed=21,
        de_prob=0.3, de_fac_loc=0.5, path_nonlinear_prob=0.3, path_sigma_fac=2.0,
        batch_fac_scale=0.3, lib_loc=12.0,
    )  # fmt: skip


def test_path_starts_at_the_origin_and_ends_at_its_de_factors(two_batch_path):
    adata = two_batch_path
    var = adata.var
    step = adata.obs["step"].to_numpy()
    first = (adata.obs["batch"] == "Batch1").to_numpy()
    base = (var["gene_mean"] * var["batch_fac_Batch1"]).to_numpy()
    base /= base.sum()
    log_fac = np.log(var["de_fac_Path1"].to_numpy())
    slopes = {}
    for s in (1, 5):
        prop, lib = _step_proportions(adata, first & (step == s))
        usable = var["de_Path1"].to_numpy() & (base * lib > 2000)
        fit = stats.linregress(log_fac[usable], np.log(prop[usable] / base[usable]))
        slopes[s] = fit.slope
        if s == 5:
            assert fit.rvalue > 0.99
    # Log-fold changes from the gene means: none at the start, the DE factors at the end.
    assert abs(slopes[1]) < 0.05
    assert 0.95 < slopes[5] < 1.05


def test_cell_means_follow_the_path_factors_at_every_step(two_batch_path):
    # The documented recipe: a cell of batch b at step s has means ∝ gene_mean · batch_fac_b ·
    # path_fac[:, s - 1]; this checks it in both batches, for linear and non-linear genes.
    adata = two_batch_path
    var = adata.var
    path_fac = adata.varm["path_fac_Path1"]
    nonlinear = var["nonlinear_Path1"].to_numpy()
    assert path_fac.shape == (adata.n_vars, 5)
    # genes whose factor changes along the path, where a wrong step or path would show
    changing = np.abs(np.log(path_fac.max(1) / path_fac.min(1))) > 0.3
    for batch in ("Batch1", "Batch2"):
        in_batch = (adata.obs["batch"] == batch).to_numpy()
        for s in range(1, 6):
            prop, lib = _step_proportions(adata, in_batch & (adata.obs["step"] == s).to_numpy())
            expected = (var["gene_mean"] * var[f"batch_fac_{batch}"]).to_numpy()
            expected = expected * path_fac[:, s - 1]
            expected /= expected.sum()
            usable = changing & (expected * lib > 2000)
            assert usable.sum() > 100
            assert np.median(np.abs(prop[usable] / expected[usable] - 1)) < 0.03
    # Mid-path, non-linear genes depart from the straight line between their ends, and the
    # counts follow the bridge, not the line.
    line = (path_fac[:, 0] + path_fac[:, -1]) / 2
    cells = ((adata.obs["batch"] == "Batch1") & (adata.obs["step"] == 3)).to_numpy()
    prop, lib = _step_proportions(adata, cells)
    base = (var["gene_mean"] * var["batch_fac_Batch1"]).to_numpy()
    usable = nonlinear & (base * path_fac[:, 2] / (base * path_fac[:, 2]).sum() * lib > 2000)
    usable &= np.abs(np.log(path_fac[:, 2] / line)) > 0.3
    assert usable.sum() > 30
    on_bridge = np.log(prop[usable] / (base * path_fac[:, 2])[usable])
    on_line = np.log(prop[usable] / (base * line)[usable])
    assert np.std(on_bridge) < 0.1 < np.std(on_line)


def test_linear_genes_change_monotonically_along_the_path(two_batch_path):
    adata = two_batch_path
    var = adata.var
    step = adata.obs["step"].to_numpy()
    first = (adata.obs["batch"] == "Batch1").to_numpy()
    props = np.array([_step_proportions(adata, first & (step == s))[0] for s in range(1, 6)])
    log_fac = np.log(var["local_de_fac_Path1"].to_numpy())
    strong = ~var["nonlinear_Path1"].to_numpy() & (np.abs(log_fac) > 0.7)
    strong &= props.min(0) * adata.obs["exp_lib_size"].sum() / 10 > 500
    assert strong.sum() > 30
    rho = np.array([stats.spearmanr(np.arange(5), props[:, j])[0] for j in np.flatnonzero(strong)])
    # The mean moves from start to end in the direction of the DE factor.
    assert np.mean(rho * np.sign(log_fac[strong]) > 0.99) > 0.9


def test_path_factors_linear_and_bridged():
    adata = ss.pp.simulate(
        10, 10000, method="paths", path_n_steps=5, seed=22, path_nonlinear_prob=0.3, de_prob=0.3
    )
    var = adata.var
    fac = adata.varm["path_fac_Path1"]
    nonlinear = var["nonlinear_Path1"].to_numpy()
    assert abs(nonlinear.mean() - 0.3) < 0.015
    start, end = fac[:, 0], fac[:, -1]
    # An origin path starts at the gene means and ends at its DE factors.
    assert np.allclose(start, 1.0)
    assert np.allclose(end, var["de_fac_Path1"])
    assert np.array_equal(var["de_fac_Path1"], var["local_de_fac_Path1"])
    line = start[:, None] + np.linspace(0, 1, 5) * (end - start)[:, None]
    assert np.array_equal(fac[~nonlinear], line[~nonlinear])
    # With 5 steps, step 3 is the bridge's midpoint: relative to the mean of its ends m, its
    # departure from the line is N(0, σ²/4) with σ ~ U(0, path_sigma_fac · m), variance
    # path_sigma_fac² / 12.
    m = (start + end)[nonlinear] / 2
    z = (fac[nonlinear, 2] - m) / m
    assert abs(z.mean()) < 0.015
    assert abs(z.var() / (0.8**2 / 12) - 1) < 0.15


def test_steps_follow_path_skew():
    n_steps, skew = [10, 4, 3], [0.9, 0.2, 0.0]
    adata = ss.pp.simulate(
        30000, 5, group_prob=[0.4, 0.3, 0.3], method="paths", path_n_steps=n_steps,
        path_skew=skew, seed=23,
    )  # fmt: skip
    obs = adata.obs
    assert obs["step"].dtype == np.int64
    for k, (n, w) in enumerate(zip(n_steps, skew, strict=True)):
        steps = obs.loc[obs["group"] == f"Path{k + 1}", "step"].to_numpy()
        assert steps.min() >= 1
        assert steps.max() <= n
        observed = np.bincount(steps - 1, minlength=n)
        probs = np.linspace(w, 1 - w, n)
        probs /= probs.sum()
        if w == 0.0:
            assert observed[0] == 0
        keep = probs > 0
        chi2 = stats.chisquare(observed[keep], probs[keep] * steps.size)
        assert chi2.pvalue > 1e-3


def test_branching_path_starts_at_its_parents_end():
    adata = ss.pp.simulate(
        1600, 3000, group_prob=[0.5, 0.5], method="paths", path_from=[0, 1], path_n_steps=5,
        seed=24, de_prob=0.3, de_fac_loc=0.5, lib_loc=12.0,
    )  # fmt: skip
    var = adata.var
    assert list(adata.obs["group"].cat.categories) == ["Path1", "Path2"]
    assert np.array_equal(adata.varm["path_fac_Path2"][:, 0], var["de_fac_Path1"])
    assert np.allclose(var["de_fac_Path2"], var["de_fac_Path1"] * var["local_de_fac_Path2"])
    assert np.array_equal(var["de_Path2"], var["de_fac_Path2"] != 1)
    obs = adata.obs
    parent_end, parent_lib = _step_proportions(
        adata, ((obs["group"] == "Path1") & (obs["step"] == 5)).to_numpy()
    )
    log_local = np.log(var["local_de_fac_Path2"].to_numpy())
    slopes = {}
    for s in (1, 5):
        cells = ((obs["group"] == "Path2") & (obs["step"] == s)).to_numpy()
        prop, lib = _step_proportions(adata, cells)
        usable = var["de_Path2"].to_numpy() & (var["local_de_fac_Path2"] != 1).to_numpy()
        usable &= parent_end * min(lib, parent_lib) > 2000
        ratio = np.log(prop[usable] / parent_end[usable])
        slopes[s] = stats.linregress(log_local[usable], ratio).slope
    # Path 2 begins where path 1 ends and then changes by its own factors only.
    assert abs(slopes[1]) < 0.05
    assert 0.95 < slopes[5] < 1.05


def test_paths_share_groups_and_gene_draws_with_groups():
    kwargs = {"group_prob": [0.5, 0.5], "seed": 25, "de_prob": 0.2}
    groups = ss.pp.simulate(200, 500, **kwargs)
    paths = ss.pp.simulate(200, 500, method="paths", **kwargs)
    assert np.array_equal(groups.obs["group"].cat.codes, paths.obs["group"].cat.codes)
    for column in ("gene_mean", "bcv_factor"):
        assert np.array_equal(groups.var[column], paths.var[column])
    assert np.array_equal(groups.var["de_fac_Group2"], paths.var["local_de_fac_Path2"])
    # "groups" is the default, and with one group it is "single"; neither records steps.
    single = ss.pp.simulate(200, 500, seed=25, method="single")
    default = ss.pp.simulate(200, 500, seed=25)
    assert (single.X != default.X).nnz == 0
    assert "step" not in default.obs
    assert len(default.varm) == 0


def test_paths_same_counts_whatever_the_chunking():
    kwargs = {
        "batch_cells": [130, 170], "group_prob": [0.3, 0.3, 0.4], "method": "paths",
        "path_from": [0, 1, 1], "path_n_steps": [20, 7, 1], "dropout_type": "experiment",
    }  # fmt: skip
    base = ss.pp.simulate(300, 300, seed=26, **kwargs)
    assert np.all(base.obs.loc[base.obs["group"] == "Path3", "step"] == 1)
    for chunk_size in (1, 100, 1000):
        other = ss.pp.simulate(300, 300, seed=26, chunk_size=chunk_size, **kwargs)
        assert (base.X != other.X).nnz == 0
        assert (base.layers["true_counts"] != other.layers["true_counts"]).nnz == 0
        assert base.obs.equals(other.obs)
        assert base.var.equals(other.var)


def test_paths_h5ad_round_trip(tmp_path):
    adata = ss.pp.simulate(
        100, 60, group_prob=[0.5, 0.5], method="paths", path_from=[0, 1], path_n_steps=[7, 3],
        path_skew=[0.3, 0.6], seed=27,
    )  # fmt: skip
    adata.write_h5ad(tmp_path / "paths.h5ad")
    back = ad.read_h5ad(tmp_path / "paths.h5ad")
    assert (back.X != adata.X).nnz == 0
    assert back.obs.equals(adata.obs)
    assert back.var.equals(adata.var)
    assert set(back.varm) == {"path_fac_Path1", "path_fac_Path2"}
    for key, value in adata.varm.items():
        assert np.array_equal(back.varm[key], value)
    # The recorded parameters rebuild the same SimParams.
    params = SimParams(**back.uns["simulate"]["params"])
    assert params == SimParams(**adata.uns["simulate"]["params"])
    assert (params.method, params.path_from, params.path_n_steps) == ("paths", (0, 1), (7, 3))


def test_paths_zarr_out_keeps_steps_and_path_factors(tmp_path):
    kwargs = {"group_prob": [0.5, 0.5], "method": "paths", "path_n_steps": [4, 6], "seed": 28}
    memory = ss.pp.simulate(150, 40, **kwargs)
    stored = ss.pp.simulate(150, 40, out=tmp_path / "paths.zarr", **kwargs)
    back = ad.read_zarr(tmp_path / "paths.zarr")
    for adata in (stored, back):
        assert adata.obs.equals(memory.obs)
        assert adata.var.equals(memory.var)
        for key, value in memory.varm.items():
            assert np.array_equal(adata.varm[key], value)
    assert (back.X != memory.X).nnz == 0
