import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import sc_synth as ss
from sc_synth.tl import _correlation


def coexpressed(n_cells, seed):
    """Counts of two labels whose genes move together in modules within each label."""
    rng = np.random.default_rng(seed)
    n_genes, n_factors = 80, 4
    loadings = np.random.default_rng(0).normal(0, 0.6, (n_factors, n_genes))
    base = np.random.default_rng(1).gamma(2.0, 1.0, (2, n_genes)) + 0.5
    labels = np.array(["a", "b"])[np.arange(n_cells) % 2]
    factors = rng.normal(size=(n_cells, n_factors))
    mean = base[np.searchsorted(["a", "b"], labels)] * np.exp(factors @ loadings)
    adata = ad.AnnData(
        sparse.csr_matrix(rng.poisson(mean).astype(np.float32)),
        obs=pd.DataFrame({"label": labels}, index=[f"c{seed}_{i}" for i in range(n_cells)]),
    )
    adata.var_names = [f"g{j}" for j in range(n_genes)]
    return adata


def shuffled_per_gene(adata, seed=0):
    """Each gene's values permuted among the cells of a label: profiles kept, co-expression lost."""
    rng = np.random.default_rng(seed)
    x = adata.X.toarray()
    for label in np.unique(adata.obs["label"]):
        rows = np.flatnonzero(adata.obs["label"] == label)
        for j in range(x.shape[1]):
            x[rows, j] = x[rng.permutation(rows), j]
    out = adata.copy()
    out.X = sparse.csr_matrix(x)
    return out


def test_coexpression_kept_by_fresh_cells_lost_by_shuffled_genes():
    real, fresh = coexpressed(600, 0), coexpressed(600, 1)
    df = ss.tl.evaluate(
        real, {"fresh": fresh, "shuffled": shuffled_per_gene(fresh)}, groupby="label",
        metrics=["correlation", "gene_stats"],
    )  # fmt: skip
    for name in ("real (reference)", "fresh"):
        assert df.loc[name, "gene_gene_corr"] > 0.8
    assert abs(df.loc["shuffled", "gene_gene_corr"]) < 0.1
    # the per-gene statistics cannot tell: only the correlations do
    assert df.loc["shuffled", "gene_mean_corr"] > df.loc["fresh", "gene_mean_corr"] - 0.05
    # the "all" row is the mean over labels of the co-expression within them
    labels = df.loc[["shuffled | a", "shuffled | b"], "gene_gene_corr"]
    assert df.loc["shuffled", "gene_gene_corr"] == pytest.approx(labels.mean())


def test_without_groupby_over_all_cells_and_small_rows_say_so():
    real, fresh = coexpressed(600, 0), coexpressed(600, 1)
    df = ss.tl.evaluate(real, fresh, metrics="correlation")
    assert df.loc["synthetic", "gene_gene_corr"] > 0.8
    few = fresh[:16].copy()  # 8 cells of each label
    df = ss.tl.evaluate(real, few, groupby="label", metrics="correlation")
    assert df.loc["synthetic | a", "note"] == "correlation: fewer than 10 cells per side"
    assert np.isnan(df.loc["synthetic | a", "gene_gene_corr"])


def test_constant_genes_correlate_with_nothing():
    # equal library sizes, so the middle gene stays constant after normalisation
    counts = sparse.csr_matrix(np.array([[1, 5, 4], [2, 5, 3], [3, 5, 2], [4, 5, 1]]))
    corr = _correlation.gene_correlations(counts, np.arange(3))
    assert corr[1].tolist() == [0.0, 1.0, 0.0]
    assert corr[0, 2] < -0.9
