import warnings

import numpy as np
import pytest
from scipy import sparse

import sc_synth as ss


@pytest.fixture(scope="module")
def simulated():
    """Strong DE between three groups; the first half plays real cells, the second fresh ones."""
    adata = ss.pp.simulate(
        n_cells=1200, n_genes=300, group_prob=[0.34, 0.33, 0.33], de_prob=0.2, de_fac_loc=1.0,
        seed=3,
    )  # fmt: skip
    return adata[:600].copy(), adata[600:].copy()


def halved(adata, seed=0):
    """Cells whose expression moves half as far (in log) from the base as the simulated DE says."""
    rng = np.random.default_rng(seed)
    factor = np.stack([adata.var[f"de_fac_{g}"].to_numpy() for g in adata.obs["group"].astype(str)])
    counts = rng.poisson(adata.X.toarray() * factor**-0.5)
    out = adata.copy()
    out.X = sparse.csr_matrix(counts.astype(np.float32))
    return out


def test_de_slope_kept_attenuated_and_lost(simulated):
    real, fresh = simulated
    shuffled = fresh.copy()
    shuffled.obs["group"] = np.random.default_rng(0).permutation(shuffled.obs["group"].to_numpy())
    df = ss.tl.evaluate(
        real, {"fresh": fresh, "halved": halved(fresh), "shuffled": shuffled}, groupby="group",
        metrics="de",
    )  # fmt: skip
    assert list(df.columns[6:-1]) == [
        "de_slope", "de_r", "de_jaccard", "de_genes", "de_auroc", "de_auroc_real",
    ]  # fmt: skip
    for name in ("real (reference)", "fresh"):
        assert 0.9 < df.loc[name, "de_slope"] < 1.1
        assert df.loc[name, "de_r"] > 0.9
        assert df.loc[name, "de_jaccard"] > 0.5
    assert 0.4 < df.loc["halved", "de_slope"] < 0.6
    # halving keeps the order of the changes
    assert df.loc["halved", "de_r"] > 0.9
    assert abs(df.loc["shuffled", "de_slope"]) < 0.2
    assert df.loc["shuffled", "de_jaccard"] < 0.2
    # the ground truth of the simulation: found from fresh cells as from real ones, not from noise
    assert df.loc["fresh", "de_auroc"] > 0.75
    assert abs(df.loc["fresh", "de_auroc"] - df.loc["fresh", "de_auroc_real"]) < 0.05
    assert df.loc["shuffled", "de_auroc"] < 0.6
    for group in ("Group1", "Group2", "Group3"):
        row = df.loc[f"halved | {group}"]
        assert 0.35 < row["de_slope"] < 0.65
        assert row["de_genes"] > 10
    assert (df["note"] == "").all()


def test_de_skips_a_label_with_a_handful_of_cells(simulated):
    real, fresh = simulated
    group3 = np.flatnonzero(fresh.obs["group"] == "Group3")
    few = fresh[np.setdiff1d(np.arange(fresh.n_obs), group3[4:])].copy()
    assert (few.obs["group"] == "Group3").sum() == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a label short for DE is not short for the rest
        df = ss.tl.evaluate(real, few, groupby="group", metrics="de")
    row = df.loc["synthetic | Group3"]
    assert np.isnan(row["de_slope"])
    assert "de: fewer than 5 cells in or out of the label" in row["note"]
    assert df.loc["synthetic", "note"] == "de without Group3: fewer than 5 cells"
    assert 0.9 < df.loc["synthetic", "de_slope"] < 1.1
    assert 0.9 < df.loc["synthetic | Group1", "de_slope"] < 1.1


def test_de_needs_groupby(simulated):
    real, fresh = simulated
    for metrics in ("de", ["mmd", "tstr"]):
        with pytest.raises(ValueError, match=r"compare cell labels: pass groupby"):
            ss.tl.evaluate(real, fresh, metrics=metrics)
    # without groupby they are left out of the default families
    df = ss.tl.evaluate(real, fresh, metrics=None)
    assert "de_slope" not in df
    assert "tstr_f1" not in df


def test_de_without_ground_truth_and_by_default_with_groupby(counts_adata):
    df = ss.tl.evaluate(counts_adata, counts_adata.copy(), groupby="cell_type")
    assert {"gene_gene_corr", "de_slope", "de_auroc", "tstr_f1", "membership_auc"} <= set(df)
    assert df[["de_auroc", "de_auroc_real"]].isna().all().all()
    assert df.loc["synthetic", "de_slope"] > 0.8
