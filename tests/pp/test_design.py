import hashlib

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import sc_synth as ss
from sc_synth.pp import SimParams
from sc_synth.pp._design import check_design
from sc_synth.pp._splat import draw_genes, gene_stream


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
    # digest of this call's X, obs and var before sample designs existed
    adata = ss.pp.simulate(
        300, 150, batch_cells=[100, 200], group_prob=[0.5, 0.3, 0.2],
        dropout_type="experiment", seed=7,
    )  # fmt: skip
    assert _digest(adata) == "e6b948b773f283789d86c4d0aa28d10f23f13bca19535187e9d395a96382cb1e"
    assert "sample" not in adata.obs
    assert not adata.varm
    assert "design" not in adata.uns["simulate"]


def test_design_truth_is_recorded():
    adata = ss.pp.simulate(
        400, 80, n_samples=4, condition_prob=[0.5, 0.5], group_prob=[0.6, 0.4],
        batch_cells=[200, 200], seed=1,
    )  # fmt: skip
    obs = adata.obs
    assert list(obs["sample"].cat.categories) == ["Sample1", "Sample2", "Sample3", "Sample4"]
    assert (obs["sample"].value_counts() == 100).all()
    # conditions spread over the sample order, so each batch holds both
    assert obs.groupby("sample", observed=True)["condition"].first().tolist() == [
        "Condition1", "Condition2", "Condition1", "Condition2",
    ]  # fmt: skip
    assert (obs.groupby("batch", observed=True)["condition"].nunique() == 2).all()
    for group in ("Group1", "Group2"):
        fac = adata.var[f"cond_de_fac_Condition2_{group}"]
        assert (adata.var[f"cond_de_Condition2_{group}"] == (fac != 1)).all()
    assert not any(c.startswith("cond_de_fac_Condition1") for c in adata.var)
    assert adata.varm["sample_fac"].shape == (80, 4)
    design = adata.uns["simulate"]["design"]
    assert design["sample_condition"] == ["Condition1", "Condition2"] * 2
    np.testing.assert_allclose(design["composition"].sum(axis=1), 1.0)
    assert list(design["composition"].columns) == ["Group1", "Group2"]


def test_design_is_chunk_invariant_and_writes_zarr(tmp_path):
    kwargs = {"sample_cells": [100, 150, 50], "condition_prob": [0.7, 0.3], "seed": 3}
    kwargs |= {"group_prob": [0.5, 0.5], "batch_cells": [120, 180]}
    default = ss.pp.simulate(300, 60, **kwargs)
    small = ss.pp.simulate(300, 60, chunk_size=64, **kwargs)
    assert (default.X != small.X).nnz == 0
    stored = ss.pp.simulate(300, 60, chunk_size=128, out=tmp_path / "d.zarr", **kwargs)
    assert (sparse.csr_matrix(stored.X[:]) != default.X).nnz == 0
    assert ad.read_zarr(tmp_path / "d.zarr").obs.equals(default.obs)
    pd.testing.assert_frame_equal(
        stored.uns["simulate"]["design"]["composition"],
        default.uns["simulate"]["design"]["composition"],
    )
    default.write_h5ad(tmp_path / "d.h5ad")
    back = ad.read_h5ad(tmp_path / "d.h5ad")
    assert back.uns["simulate"]["design"]["sample_condition"].tolist() == [
        "Condition1", "Condition2", "Condition1",
    ]  # fmt: skip


def test_design_leaves_other_draws_and_earlier_samples_as_they_were():
    plain = ss.pp.simulate(200, 50, seed=5)
    three = ss.pp.simulate(200, 50, n_samples=3, condition_prob=[0.4, 0.6], seed=5)
    four = ss.pp.simulate(200, 50, n_samples=4, condition_prob=[0.5, 0.5], seed=5)
    np.testing.assert_array_equal(plain.obs["exp_lib_size"], three.obs["exp_lib_size"])
    pd.testing.assert_frame_equal(plain.var, three.var[plain.var.columns])
    np.testing.assert_array_equal(three.varm["sample_fac"], four.varm["sample_fac"][:, :3])
    pd.testing.assert_series_equal(
        three.var["cond_de_fac_Condition2_Group1"], four.var["cond_de_fac_Condition2_Group1"]
    )


def test_sample_condition_names_conditions_by_first_appearance():
    adata = ss.pp.simulate(
        120, 30, n_samples=4, seed=0,
        sample_condition={"Sample1": "stim", "Sample2": "ctrl", "Sample3": "stim", "Sample4": "ctrl"},
    )  # fmt: skip
    assert list(adata.obs["condition"].cat.categories) == ["stim", "ctrl"]
    assert "cond_de_fac_ctrl_Group1" in adata.var
    listed = ss.pp.simulate(120, 30, n_samples=4, sample_condition=["stim", "ctrl"] * 2, seed=0)
    assert (listed.X != adata.X).nnz == 0


def test_cond_de_share_and_shared_response():
    # gene draws only matter here: many genes, few cells
    n_genes, probs = 20_000, (0.1, 0.4)
    adata = ss.pp.simulate(
        64, n_genes, n_samples=2, condition_prob=[0.5, 0.5], group_prob=[0.5, 0.5],
        cond_de_prob=list(probs), cond_de_down_prob=0.3, seed=2,
    )  # fmt: skip
    for group, p in zip(("Group1", "Group2"), probs, strict=True):
        flags = adata.var[f"cond_de_Condition2_{group}"]
        assert abs(flags.mean() - p) < 4 * np.sqrt(p * (1 - p) / n_genes)
        down = (adata.var.loc[flags, f"cond_de_fac_Condition2_{group}"] < 1).mean()
        assert abs(down - 0.3) < 4 * np.sqrt(0.21 / flags.sum())
    # type-specific responses: DE genes of one group are DE in the other at its own rate only
    both = adata.var["cond_de_Condition2_Group1"] & adata.var["cond_de_Condition2_Group2"]
    assert abs(both.mean() - probs[0] * probs[1]) < 4 * np.sqrt(0.04 / n_genes)
    shared = ss.pp.simulate(
        64, 500, n_samples=2, condition_prob=[0.5, 0.5], group_prob=[0.5, 0.5],
        cond_de_shared=True, seed=2,
    )  # fmt: skip
    np.testing.assert_array_equal(
        shared.var["cond_de_fac_Condition2_Group1"], shared.var["cond_de_fac_Condition2_Group2"]
    )


def test_within_sample_correlation_matches_sample_fac_scale():
    # constant library sizes and BCV factors, so that the intra-class correlation of a gene's
    # counts has a closed form given its mean m: donor means M = m F with F ~ LogNormal(0, σ),
    # between-donor variance m² (e^{2σ²} - e^{σ²}), within-donor variance
    # E[M + (b M + √M)²] for the BCV (b + 1/√M) of the model
    sigma, b, n_samples, per_sample = 0.3, 0.1, 40, 30
    adata = ss.pp.simulate(
        n_samples * per_sample, 150, n_samples=n_samples, sample_fac_scale=sigma,
        bcv_common=b, bcv_df=np.inf, lib_loc=np.log(3000), lib_scale=0.0, out_prob=0.0, seed=4,
    )  # fmt: skip
    x = adata.X.toarray().reshape(n_samples, per_sample, -1)
    means = x.mean(axis=1)
    msb = per_sample * means.var(axis=0, ddof=1)
    msw = x.var(axis=1, ddof=1).mean(axis=0)
    with np.errstate(invalid="ignore"):  # genes without counts, left out below
        icc = (msb - msw) / (msb + (per_sample - 1) * msw)

    gene_mean = adata.var["gene_mean"].to_numpy()
    norm = (gene_mean[:, None] * adata.varm["sample_fac"]).sum(axis=0).mean() / gene_mean.sum()
    m = np.exp(np.log(3000)) * gene_mean / gene_mean.sum() / norm
    e1, e15, e2 = (np.exp(k * k * sigma**2 / 2) for k in (1.0, 1.5, 2.0))
    between = m**2 * (e2 - e1**2)
    within = 2 * m * e1 + b**2 * m**2 * e2 + 2 * b * m**1.5 * e15
    implied = between / (between + within)

    keep = m > 2  # genes whose estimate is not dominated by counting noise
    diff = icc[keep] - implied[keep]
    assert keep.sum() > 50
    assert abs(diff.mean()) < 4 * diff.std(ddof=1) / np.sqrt(keep.sum())
    assert implied[keep].mean() > 0.1  # the check has power: without sample factors ICC ≈ 0


def test_pseudobulk_fold_changes_track_the_condition_factors():
    n_samples, per_sample = 8, 150
    adata = ss.pp.simulate(
        n_samples * per_sample, 300, n_samples=n_samples, condition_prob=[0.5, 0.5],
        cond_de_prob=0.3, cond_de_fac_scale=0.8, sample_fac_scale=0.1, out_prob=0.0, seed=6,
    )  # fmt: skip
    condition = adata.obs["condition"].cat.codes.to_numpy()
    bulk = np.vstack([np.asarray(adata.X[condition == c].sum(axis=0)).ravel() for c in (0, 1)])
    cpm = bulk / bulk.sum(axis=1, keepdims=True) * 1e6
    truth = np.log(adata.var["cond_de_fac_Condition2_Group1"].to_numpy())
    de = adata.var["cond_de_Condition2_Group1"].to_numpy() & (cpm.min(axis=0) > 500)
    lfc = np.log(cpm[1, de] / cpm[0, de])
    fit = np.polyfit(truth[de], lfc, 1, full=False, cov=True)
    slope, se = fit[0][0], np.sqrt(fit[1][0, 0])
    assert de.sum() > 30
    assert abs(slope - 1) < 4 * se
    assert se < 0.1  # the check has power: no condition effect gives slope 0


def test_composition_follows_the_dirichlet_concentration():
    prob, conc, n_samples, per_sample = np.array([0.5, 0.3, 0.2]), 20.0, 300, 40
    adata = ss.pp.simulate(
        n_samples * per_sample, 5, n_samples=n_samples, group_prob=list(prob),
        sample_group_conc=conc, seed=8,
    )  # fmt: skip
    comp = adata.uns["simulate"]["design"]["composition"].to_numpy()
    # each share is Beta(α, β) with α = conc·p, β = conc·(1 - p)
    a, b = conc * prob, conc * (1 - prob)
    var = prob * (1 - prob) / (conc + 1)
    kurt = (
        6 * ((a - b) ** 2 * (a + b + 1) - a * b * (a + b + 2)) / (a * b * (a + b + 2) * (a + b + 3))
    )
    se = var * np.sqrt((kurt + 2) / n_samples)
    np.testing.assert_array_less(np.abs(comp.mean(axis=0) - prob), 4 * np.sqrt(var / n_samples))
    np.testing.assert_array_less(np.abs(comp.var(axis=0, ddof=1) - var), 4 * se)
    # cells follow their sample's composition: Pearson's statistic on all samples
    counts = pd.crosstab(adata.obs["sample"], adata.obs["group"]).to_numpy()
    expected = comp * per_sample
    chi2 = ((counts - expected) ** 2 / expected).sum()
    dof = n_samples * (len(prob) - 1)
    assert abs(chi2 - dof) < 4 * np.sqrt(2 * dof)
    fixed = ss.pp.simulate(60, 5, n_samples=3, group_prob=list(prob), sample_group_conc=np.inf)
    np.testing.assert_allclose(fixed.uns["simulate"]["design"]["composition"], [prob] * 3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sample_cells": [50, 40]}, ValueError, r"`sample_cells` must add up to `n_cells` \(100\)"),
        ({"n_samples": 101}, ValueError, r"`n_samples` must be at most `n_cells`"),
        ({"n_samples": 0}, ValueError, r"`n_samples` must be an integer >= 1"),
        ({"n_samples": 2, "sample_cells": [50, 50]}, ValueError, "`n_samples` or `sample_cells`"),
        ({"n_samples": 4, "condition_prob": [0.9, 0.1]}, ValueError, "without samples"),
        ({"n_samples": 4, "condition_prob": [0.5, 0.4]}, ValueError, "`condition_prob` must sum to 1"),
        ({"n_samples": 4, "sample_fac_scale": -0.1}, ValueError, "`sample_fac_scale` must be"),
        ({"n_samples": 4, "sample_group_conc": 0}, ValueError, "`sample_group_conc` must be"),
        ({"n_samples": 2, "sample_condition": {"Sample1": "a", "Sample3": "b"}}, ValueError,
         r"unknown samples \['Sample3'\]"),
        ({"n_samples": 2, "sample_condition": {"Sample1": "a"}}, ValueError, "missing"),
        ({"n_samples": 2, "sample_condition": ["a"]}, ValueError, "one condition per sample"),
        ({"n_samples": 2, "sample_condition": "a"}, TypeError, "`sample_condition` must be"),
        ({"condition_prob": [0.5, 0.5]}, ValueError, "`condition_prob` needs samples"),
        ({"n_samples": 2, "condition_prob": [0.5, 0.5], "sample_condition": ["a", "b"]},
         ValueError, "not both"),
        ({"n_samples": 2, "method": "paths"}, ValueError, "method='paths'"),
        ({"n_samples": 2, "group_prob": [0.5, 0.5], "cond_de_shared": True,
          "cond_de_prob": [0.1, 0.2]}, ValueError, "`cond_de_prob` must be a single number"),
        ({"n_samples": 2, "group_prob": [0.5, 0.5], "cond_de_fac_loc": [0.1, 0.2, 0.3]},
         ValueError, "`cond_de_fac_loc` must be one number or one per group"),
        ({"n_samples": 2, "cond_prop_fac": 0}, ValueError, "`cond_prop_fac` must be"),
    ],
)  # fmt: skip
def test_bad_design_raises_before_any_work(kwargs, error, match, tmp_path):
    out = tmp_path / "never.zarr"
    with pytest.raises(error, match=match):
        ss.pp.simulate(100, 20, out=out, **kwargs)
    assert not out.exists()


def test_params_show_design_section():
    text = repr(SimParams(sample_fac_scale=0.5))
    assert "# samples and conditions" in text
    assert "sample_fac_scale=0.5*" in text


def test_cell_profiles_multiply_every_factor():
    params = SimParams(de_prob=0.5, cond_de_prob=0.5, batch_fac_scale=0.5)
    design = check_design(200, None, [50, 100, 50], [0.5, 0.5], None, params, 2)
    truth = draw_genes(gene_stream(0), 40, params, 2, 2)
    drawn = design.draw(0, params, 40, [0.5, 0.5])
    batch, group = np.repeat([0, 1], 100), drawn.cell_groups()
    table, index = drawn.profiles(truth, batch, group)

    sample = np.repeat([0, 1, 2], [50, 100, 50])
    condition = design.sample_condition[sample]
    expected = (
        truth.gene_mean * truth.batch_fac[batch] * truth.de_fac[group]
        * drawn.sample_fac[sample] * drawn.cond_de_fac[condition, group]
    )  # fmt: skip
    np.testing.assert_allclose(table[index], expected / expected.sum(axis=1, keepdims=True))
    # rows only for the (batch, sample, group) combinations that cells fall in
    assert len(table) == len(set(zip(batch, sample, group, strict=True)))


def test_differential_proportion_shifts_the_conditions_compositions():
    prob = [0.5, 0.3, 0.2]
    adata = ss.pp.simulate(
        3000, 5, n_samples=6, condition_prob=[0.5, 0.5], group_prob=prob,
        cond_prop_fac=[3, 1, 1], sample_group_conc=np.inf, seed=0,
    )  # fmt: skip
    design = adata.uns["simulate"]["design"]
    shifted = np.array([1.5, 0.3, 0.2]) / 2.0
    np.testing.assert_allclose(design["condition_group_prob"].to_numpy(), [prob, shifted])
    # samples 2, 4 and 6 are in Condition2
    np.testing.assert_allclose(design["composition"].to_numpy()[1::2], [shifted] * 3)
    cells = adata.obs[adata.obs["condition"] == "Condition2"]
    share = (cells["group"] == "Group1").mean()
    assert abs(share - shifted[0]) < 4 * np.sqrt(shifted[0] * (1 - shifted[0]) / len(cells))
