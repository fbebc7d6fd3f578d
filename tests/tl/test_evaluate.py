import anndata as ad
import numpy as np
import pandas as pd
import pytest
from conftest import make_counts
from scipy import sparse

import sc_synth as ss

FAST = ["precision_recall", "density_coverage", "gene_stats", "privacy"]


@pytest.fixture
def cells():
    return make_counts(n_cells=600, seed=0)


@pytest.fixture
def real(cells):
    return cells[:300].copy()


@pytest.fixture
def fresh(cells):
    """New cells from the same distribution as ``real`` (same genes, labels and profiles)."""
    return cells[300:].copy()


def test_all_metrics_flag_a_copied_training_set(real, fresh):
    df = ss.tl.evaluate(real, {"fresh": fresh, "copy": real.copy()})
    assert df.index.tolist() == ["real (reference)", "fresh", "copy"]
    assert df["group"].tolist() == ["all"] * 3
    assert list(df.columns) == [
        "synthetic", "group", "n_real", "n_synthetic", "n_cells", "k", "precision", "recall",
        "precision_ci_low", "precision_ci_high", "recall_ci_low", "recall_ci_high", "density",
        "coverage", "classifier_auc", "mmd", "gene_mean_corr", "gene_var_corr",
        "gene_zero_frac_corr", "library_size_ks", "dcr_ratio", "copy_fraction", "membership_auc",
        "gene_gene_corr", "note",
    ]  # fmt: skip
    assert df["n_cells"].tolist() == [150, 150, 150]
    assert df["k"].tolist() == [5, 5, 5]
    assert df["note"].tolist() == ["", "", ""]
    assert df[["precision", "recall", "coverage"]].stack().between(0, 1).all()
    # fresh cells score like the held-out real half; copies of training cells are flagged
    for column in ("precision", "recall", "classifier_auc"):
        assert abs(df.loc["fresh", column] - df.loc["real (reference)", column]) < 0.15
    assert df.loc["real (reference)", "classifier_auc"] < 0.7
    assert df.loc["fresh", "copy_fraction"] == 0
    assert df.loc["fresh", "dcr_ratio"] > 0.8
    assert df.loc["copy", "dcr_ratio"] == 0
    assert df.loc["copy", "copy_fraction"] == 1


def test_rows_per_label_and_baseline(real, fresh):
    fresh.obs["cell_type"] = fresh.obs["cell_type"].astype(str)  # labels compared as strings
    df = ss.tl.evaluate(real, fresh, groupby="cell_type", metrics="mmd")
    sets = ["real (reference)", "baseline (NB per label)", "synthetic"]
    groups = ["all", "type_0", "type_1", "type_2"]
    assert df["synthetic"].tolist() == [s for s in sets for _ in groups]
    assert df["group"].tolist() == groups * len(sets)
    assert df.index[0] == "real (reference)"
    assert df.index[5] == "baseline (NB per label) | type_0"
    # labels are matched on both sides: each label row has as many cells as its rarer side
    assert df["n_cells"].iloc[1:4].sum() <= 150
    assert df["n_cells"].iloc[1:4].min() > 30
    assert df["mmd"].abs().max() < 0.05


def test_stored_h5ad_writable_and_inputs_untouched(real, fresh, tmp_path):
    before_real, before_fresh = real.copy(), fresh.copy()
    df = ss.tl.evaluate(real, fresh, metrics=FAST, key_added="judged")
    assert list(real.uns) == ["judged"]
    pd.testing.assert_frame_equal(real.uns["judged"], df)
    real.write_h5ad(tmp_path / "real.h5ad")
    pd.testing.assert_frame_equal(ad.read_h5ad(tmp_path / "real.h5ad").uns["judged"], df)
    del real.uns["judged"]
    for after, before in ((real, before_real), (fresh, before_fresh)):
        assert (after.X != before.X).nnz == 0
        pd.testing.assert_frame_equal(after.obs, before.obs)
        pd.testing.assert_frame_equal(after.var, before.var)
        assert list(after.uns) == list(before.uns)


def test_same_seed_same_numbers(real, fresh):
    first = ss.tl.evaluate(real, fresh, groupby="cell_type", metrics=["precision_recall", "mmd"])
    again = ss.tl.evaluate(real, fresh, groupby="cell_type", metrics=["precision_recall", "mmd"])
    other = ss.tl.evaluate(
        real, fresh, groupby="cell_type", metrics=["precision_recall", "mmd"], seed=1
    )
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_a_sets_numbers_do_not_depend_on_the_other_sets(cells, real):
    # More synthetic cells than the half of ``real`` that they are compared with: subsampled.
    fresh = cells[200:].copy()
    alone = ss.tl.evaluate(real, {"fresh": fresh}, groupby="cell_type", metrics=FAST)
    beside = ss.tl.evaluate(
        real, {"copy": real.copy(), "fresh": fresh}, groupby="cell_type", metrics=FAST
    )
    pd.testing.assert_frame_equal(alone.loc[["fresh"]], beside.loc[["fresh"]])


def test_genes_are_matched_by_name(real, fresh):
    shuffled = fresh[:, fresh.var_names[::-1]].copy()
    extra = ad.AnnData(
        sparse.csr_matrix(np.ones((fresh.n_obs, 1), dtype=np.float32)), obs=fresh.obs[[]]
    )
    extra.var_names = ["only_here"]
    wider = ad.concat([shuffled, extra], axis=1, merge="first")
    metrics = ["precision_recall", "gene_stats"]
    expected = ss.tl.evaluate(real, fresh, metrics=metrics)
    pd.testing.assert_frame_equal(ss.tl.evaluate(real, shuffled, metrics=metrics), expected)
    with pytest.warns(UserWarning, match="60 genes shared"):
        pd.testing.assert_frame_equal(ss.tl.evaluate(real, wider, metrics=metrics), expected)


def test_constant_library_sizes_flagged(real, fresh):
    constant = fresh.copy()
    rng = np.random.default_rng(0)
    profile = np.asarray(constant.X.sum(axis=0)).ravel() / constant.X.sum()
    constant.X = sparse.csr_matrix(
        rng.multinomial(600, profile, size=constant.n_obs).astype(np.float32)
    )
    df = ss.tl.evaluate(real, {"fresh": fresh, "constant": constant}, metrics="gene_stats")
    assert df.loc["fresh", "library_size_ks"] < 0.2
    assert df.loc["constant", "library_size_ks"] > 0.4


def test_mode_collapse_in_evaluate(real, fresh):
    collapsed = fresh[fresh.obs["cell_type"] == "type_0"].copy()
    df = ss.tl.evaluate(real, {"fresh": fresh, "collapsed": collapsed}, metrics="precision_recall")
    assert df.loc["collapsed", "precision"] > 0.6
    assert df.loc["collapsed", "recall"] < 0.5 * df.loc["fresh", "recall"]


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (
            lambda r, s: (
                s.var_names.__setitem__
                if False
                else setattr(s, "var_names", [f"x{i}" for i in range(s.n_vars)])
            ),
            ValueError,
            "share no gene names",
        ),
        (lambda r, s: s.X.data.__setitem__(0, np.nan), ValueError, r"fresh\.X holds NaN"),
        (
            lambda r, s: setattr(s, "X", sparse.csr_matrix(np.log1p(s.X.toarray()))),
            ValueError,
            r"fresh\.X does not hold counts",
        ),
        (
            lambda r, s: s.obs.drop(columns="cell_type", inplace=True),
            KeyError,
            r"`groupby='cell_type'` is not a column of fresh\.obs",
        ),
    ],
)
def test_bad_input(real, fresh, change, error, match):
    change(real, fresh)
    with pytest.raises(error, match=match):
        ss.tl.evaluate(real, {"fresh": fresh}, groupby="cell_type", metrics="mmd")


def test_bad_arguments(real, fresh):
    with pytest.raises(ValueError, match=r"unknown metrics \['fid'\]"):
        ss.tl.evaluate(real, fresh, metrics=["mmd", "fid"])
    with pytest.raises(ValueError, match="fewer than k \\+ 1 = 6"):
        ss.tl.evaluate(real, fresh[:5].copy(), metrics="mmd")
    with pytest.raises(ValueError, match="real has 10 cells: at least 12"):
        ss.tl.evaluate(real[:10].copy(), fresh, metrics="mmd")
    with pytest.raises(ValueError, match="AnnData or a non-empty dict"):
        ss.tl.evaluate(real, {}, metrics="mmd")
    renamed = fresh.copy()
    renamed.obs["cell_type"] = "Type 0"
    with pytest.raises(ValueError, match="set 'synthetic' holds none of the labels of real"):
        ss.tl.evaluate(real, renamed, groupby="cell_type", metrics="mmd")


def test_held_out_real_cells_look_real_on_pbmc():
    # Fitting the shared PCA on more cells of one side (e.g. half B twice) once made the
    # real-vs-real row read precision 0.26 and AUC 0.85 on this data.
    real = ss.datasets.pbmc68k_counts()
    df = ss.tl.evaluate(real, real[::2].copy(), metrics=["precision_recall", "classifier_auc"])
    reference = df.loc["real (reference)"]
    assert reference["precision"] > 0.8
    assert reference["recall"] > 0.8
    assert reference["classifier_auc"] < 0.6


def test_torch_thread_count_survives_evaluate(counts_adata):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ss.tl.evaluate(counts_adata, {"copy": counts_adata.copy()}, metrics=["precision_recall"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def with_rare_labels(cells):
    """``cells`` with type_2 cut to 18 cells and two type_0 cells relabelled ``"tiny"``."""
    type_2 = (cells.obs["cell_type"] == "type_2").to_numpy()
    keep = ~type_2
    for start in (0, 300):  # 9 type_2 cells in each of real and fresh
        keep[start + np.flatnonzero(type_2[start : start + 300])[:9]] = True
    cells = cells[keep].copy()
    cells.obs["cell_type"] = cells.obs["cell_type"].astype(str)
    for index in (cells.obs_names[0], cells.obs_names[len(cells) // 2]):
        cells.obs.loc[index, "cell_type"] = "tiny"
    half = len(cells) // 2
    return cells[:half].copy(), cells[half:].copy()


def test_rare_labels_get_numbers_with_their_uncertainty(with_rare_labels):
    real, fresh = with_rare_labels
    assert (real.obs["cell_type"] == "type_2").sum() == 9
    with pytest.warns(UserWarning, match=r"metrics NaN .*real \(reference\) \| tiny"):
        df = ss.tl.evaluate(real, fresh, groupby="cell_type", metrics="precision_recall")
    rare = df.loc["real (reference) | type_2"]
    # the split deals every label evenly to the two halves
    assert sorted([rare["n_real"], rare["n_synthetic"]]) == [4, 5]
    assert rare["n_cells"] == 4
    assert rare["k"] == 3
    assert "k lowered to 3" in rare["note"]
    for row in df[df["group"] == "type_2"].itertuples():
        assert row.precision_ci_low <= row.precision <= row.precision_ci_high
        assert row.recall_ci_low <= row.recall <= row.recall_ci_high
    width = df["precision_ci_high"] - df["precision_ci_low"]
    assert width["synthetic | type_2"] > 2 * width["synthetic | type_0"]
    common = df.loc["synthetic | type_0"]
    assert common["k"] == 5
    assert common["note"] == ""
    tiny = df[df["group"] == "tiny"]
    assert len(tiny) == 3
    assert tiny["precision"].isna().all()
    assert tiny["k"].isna().all()
    assert tiny["note"].str.contains("too few cells").all()
    assert (tiny["n_real"] + tiny["n_synthetic"] <= 2).all()


def test_a_set_of_some_labels_is_compared_with_those_labels_only(real, fresh):
    one = fresh[fresh.obs["cell_type"] == "type_1"].copy()
    like = ss.tl.evaluate(real, one, groupby="cell_type", metrics="precision_recall")
    assert like["group"].tolist() == ["all", "type_1"] * 3
    n_type_1 = like.loc["real (reference) | type_1", "n_real"]
    assert like.loc["synthetic", "n_real"] == n_type_1
    assert like.loc["real (reference)", "n_real"] == n_type_1
    assert like.loc["synthetic", "note"] == (
        "real cells of the labels in this set only, not of type_0, type_2"
    )
    assert like.loc["real (reference)", "note"] == (
        "real cells of the labels in the synthetic sets only, not of type_0, type_2"
    )
    # the "all" row holds just the one label's cells
    pd.testing.assert_series_equal(
        like.iloc[4, 2:-1], like.iloc[5, 2:-1], check_names=False, check_dtype=False
    )
    # against all real cells, the one label would read as a collapse of the other two
    blind = ss.tl.evaluate(real, one, metrics="precision_recall")
    assert blind.loc["synthetic", "recall"] < 0.35
    assert like.loc["synthetic", "recall"] > 0.5
    with pytest.warns(UserWarning, match="hold different labels"):
        both = ss.tl.evaluate(
            real, {"one": one, "fresh": fresh}, groupby="cell_type", metrics="precision_recall"
        )
    assert both.loc["fresh | type_0", "n_synthetic"] > 30
    assert both.loc["one | type_0", "n_synthetic"] == 0
    assert both.loc["one | type_0", "note"] == "no cells of this label in the compared set"
    assert both.loc["fresh", "n_real"] == 150


def test_baseline_fitted_per_batch_on_batched_data():
    adata = ss.pp.simulate(
        n_cells=800, n_genes=300, batch_cells=[400, 400], group_prob=[0.5, 0.5], lib_loc=8.3,
        batch_fac_loc=0.5, batch_fac_scale=0.5,
    )  # fmt: skip
    rows = ["real (reference)", "baseline (NB per label)"]
    kwargs = {"groupby": "group", "metrics": "precision_recall"}
    blind = ss.tl.evaluate(adata, adata.copy(), **kwargs).loc[rows]
    aware = ss.tl.evaluate(adata, adata.copy(), batch_key="batch", **kwargs).loc[rows]
    again = ss.tl.evaluate(adata, adata.copy(), batch_key="batch", **kwargs).loc[rows]
    pd.testing.assert_frame_equal(aware, again)
    # blind to batches, the baseline draws cells between the batches, off the real manifold
    assert blind.loc[rows[1], ["precision", "recall"]].max() < 0.2
    assert (aware.loc[rows[1], ["precision", "recall"]] > 0.6).all()
    assert aware.loc[rows[1], "recall"] > aware.loc[rows[0], "recall"] - 0.15
    with pytest.raises(KeyError, match=r"`batch_key='lane'` is not a column of real\.obs"):
        ss.tl.evaluate(adata, adata, batch_key="lane", **kwargs)


def test_label_rows_write_to_h5ad(with_rare_labels, tmp_path):
    real, fresh = with_rare_labels
    with pytest.warns(UserWarning, match="metrics NaN"):
        df = ss.tl.evaluate(real, fresh, groupby="cell_type", metrics=["precision_recall", "mmd"])
    real.write_h5ad(tmp_path / "real.h5ad")
    pd.testing.assert_frame_equal(ad.read_h5ad(tmp_path / "real.h5ad").uns["evaluation"], df)


def test_repeats_give_the_mean_and_spread_over_seeds(real, fresh):
    metrics = ["precision_recall", "mmd"]
    seeds = [ss.tl.evaluate(real, fresh, metrics=metrics, seed=seed) for seed in (4, 5, 6)]
    df = ss.tl.evaluate(real, fresh, metrics=metrics, seed=4, n_repeats=3)
    assert list(df.columns[6:10]) == ["precision", "precision_sd", "recall", "recall_sd"]
    assert df.columns[-3:].tolist() == ["mmd", "mmd_sd", "note"]
    for column in ("precision", "recall", "mmd"):
        values = np.array([t[column].to_numpy() for t in seeds])
        np.testing.assert_allclose(df[column], values.mean(axis=0))
        np.testing.assert_allclose(df[f"{column}_sd"], values.std(axis=0, ddof=1))
    assert (df["precision_sd"] > 0).all()
    pd.testing.assert_frame_equal(
        df, ss.tl.evaluate(real, fresh, metrics=metrics, seed=4, n_repeats=3)
    )
    assert not any(c.endswith("_sd") for c in seeds[0].columns)
    with pytest.raises(ValueError, match="n_repeats must be a positive integer, got 0"):
        ss.tl.evaluate(real, fresh, metrics=metrics, n_repeats=0)


def test_progress_counts_every_row_from_info_verbosity_on_large_inputs(
    counts_adata, monkeypatch, capsys
):
    import sys

    import scanpy as sc

    from sc_synth.tl import _evaluate

    # pytest's captured stderr read as a terminal, where tqdm draws
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    real, synthetic = counts_adata[:200].copy(), counts_adata[200:].copy()
    kwargs = {"groupby": "cell_type", "metrics": "gene_stats"}
    verbosity = sc.settings.verbosity
    try:
        sc.settings.verbosity = "info"
        # below the size of a bar: none
        ss.tl.evaluate(real, synthetic, **kwargs)
        assert capsys.readouterr().err == ""
        monkeypatch.setattr(_evaluate, "PROGRESS_FROM", real.n_obs + synthetic.n_obs)
        table = ss.tl.evaluate(real, synthetic, n_repeats=2, **kwargs)
        err = capsys.readouterr().err
        assert "evaluate: 100%" in err
        assert f"{2 * len(table)}/{2 * len(table)} [" in err
        sc.settings.verbosity = "warning"
        ss.tl.evaluate(real, synthetic, **kwargs)
        assert capsys.readouterr().err == ""
    finally:
        sc.settings.verbosity = verbosity


def test_reads_the_counts_from_layers(real, fresh):
    kwargs = {"groupby": "cell_type", "metrics": FAST, "seed": 3}
    train = real.copy()
    expected = ss.tl.evaluate(real.copy(), fresh, train=train, **kwargs)
    for adata in (real, fresh, train):
        adata.layers["counts"] = adata.X.copy()
        adata.X = sparse.csr_matrix(np.log1p(adata.X.toarray()))
    df = ss.tl.evaluate(
        real, fresh, train=train, layer="counts", synthetic_layer="counts", **kwargs
    )
    pd.testing.assert_frame_equal(df, expected)
    with pytest.raises(KeyError, match=r"`synthetic_layer='raw'` is not in synthetic\.layers"):
        ss.tl.evaluate(real, fresh, layer="counts", synthetic_layer="raw", metrics="mmd")
    with pytest.raises(ValueError, match=r"real\.X does not hold counts"):
        ss.tl.evaluate(real, fresh, synthetic_layer="counts", metrics="mmd")
