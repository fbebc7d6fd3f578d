import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import make_counts
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import sc_synth as ss


@pytest.fixture(scope="module")
def cells():
    cells = make_counts(n_cells=600, seed=0)
    return cells[:300].copy(), cells[300:].copy()


@pytest.fixture(scope="module")
def table(cells):
    real, fresh = cells
    collapsed = fresh[fresh.obs["cell_type"] == "type_0"].copy()
    return ss.tl.evaluate(
        real, {"fresh": fresh, "one type": collapsed}, metrics=["precision_recall", "gene_stats"]
    )


def test_scorecard_shades_distance_from_the_reference(table, tmp_path):
    ax = ss.pl.evaluation(table, show=False, save=tmp_path / "card.png")
    assert isinstance(ax, Axes)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["real (reference)", "fresh", "one type"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "precision", "recall", "gene_mean_corr", "gene_var_corr",
        "gene_zero_frac_corr", "library_size_ks",
    ]  # fmt: skip
    shade = ax.images[0].get_array()
    recall = 1
    assert shade[recall, 0] == 0  # the reference is its own distance: none
    assert shade[recall, 2] == 1  # the collapsed set is the farthest on recall
    assert shade[recall, 1] < 0.5
    values = [t.get_text() for t in ax.texts]
    assert values[recall * 3 + 2] == f"{table.loc['one type', 'recall']:.2f}"
    assert (tmp_path / "card.png").stat().st_size > 0
    one = ss.pl.evaluation(table, metrics=["recall"], show=False)
    assert one.images[0].get_array().shape == (1, 3)
    plt.close("all")


def test_scorecard_bad_input(table):
    with pytest.raises(ValueError, match="no rows of group 'B'"):
        ss.pl.evaluation(table, group="B", show=False)
    with pytest.raises(ValueError, match=r"no columns \['fid'\]"):
        ss.pl.evaluation(table, metrics=["fid"], show=False)
    with pytest.raises(ValueError, match="no 'real \\(reference\\)' row"):
        ss.pl.evaluation(table.iloc[1:], show=False)


def test_de_scatter_draws_identity_and_slope(cells, tmp_path):
    real, fresh = cells
    real = real.copy()
    ss.tl.de_fold_changes(real, fresh, groupby="cell_type")
    fig = ss.pl.de_scatter(real, show=False, save=tmp_path / "de.png")
    assert isinstance(fig, Figure)
    assert [a.get_title() for a in fig.axes] == ["type_0", "type_1", "type_2"]
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    identity = lines["identity"].get_xydata()
    np.testing.assert_allclose(identity[:, 0], identity[:, 1])
    slope = lines["slope, DE genes"].get_xydata()
    written = float(ax.texts[0].get_text().split()[-1])
    assert written == pytest.approx(slope[1, 1] / slope[1, 0], abs=0.005)
    assert 0.8 < written < 1.2
    # the five marker genes of type_0 are DE in the real cells and drawn in colour
    de_points = {c.get_label(): c for c in ax.collections}["DE in real"].get_offsets()
    assert len(de_points) >= 5
    assert (tmp_path / "de.png").stat().st_size > 0
    fig, ax = plt.subplots()
    assert ss.pl.de_scatter(real, groups=["type_1"], ax=ax, show=False) is fig
    with pytest.raises(ValueError, match="ax holds 1 Axes for 3 labels"):
        ss.pl.de_scatter(real, ax=ax, show=False)
    with pytest.raises(ValueError, match=r"groups \['tiny'\] are not in .uns\['de_fold_changes'\]"):
        ss.pl.de_scatter(real, groups=["tiny"], show=False)
    plt.close("all")


def test_correlation_side_by_side(cells, tmp_path):
    real, fresh = cells
    real = real.copy()
    ss.tl.gene_correlations(real, fresh, groupby="cell_type", group="type_1", n_genes=30)
    fig = ss.pl.correlation(real, show=False, save=tmp_path / "corr.png")
    real_ax, fake_ax = fig.axes[:2]
    assert (real_ax.get_title(), fake_ax.get_title()) == ("real", "synthetic")
    real_img, fake_img = real_ax.images[0].get_array(), fake_ax.images[0].get_array()
    assert real_img.shape == fake_img.shape == (30, 30)
    np.testing.assert_allclose(np.diag(real_img), 1)
    assert fig._suptitle.get_text().startswith("type_1: gene-gene correlation, r = ")
    # a copy of the real cells has the same matrix
    ss.tl.gene_correlations(real, real, n_genes=30, key_added="same")
    same = ss.pl.correlation(real, key="same", show=False)
    np.testing.assert_allclose(
        same.axes[0].images[0].get_array(), same.axes[1].images[0].get_array()
    )
    assert same._suptitle.get_text().endswith("r = 1.00 between the matrices")
    assert (tmp_path / "corr.png").stat().st_size > 0
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="ax holds 1 Axes; pass two"):
        ss.pl.correlation(real, ax=[ax], show=False)
    plt.close("all")


def test_de_scatter_and_correlation_draw_what_tl_stored(cells):
    real, fresh = cells
    real = real.copy()
    with pytest.raises(KeyError, match=r"run ss\.tl\.de_fold_changes\(real, synthetic"):
        ss.pl.de_scatter(real, show=False)
    with pytest.raises(KeyError, match=r"run ss\.tl\.gene_correlations\(real, synthetic"):
        ss.pl.correlation(real, key="corr", show=False)
    ss.tl.de_fold_changes(real, fresh, groupby="cell_type", groups=["type_2"])
    fig = ss.pl.de_scatter(real, show=False)
    assert [a.get_title() for a in fig.axes] == ["type_2"]
    (slope,) = real.uns["de_fold_changes"]["slope"]
    assert fig.axes[0].texts[0].get_text() == f"slope {slope:.2f}"
    ss.tl.gene_correlations(real, fresh, n_genes=20, key_added="corr")
    fig = ss.pl.correlation(real, key="corr", show=False)
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), real.uns["corr"]["synthetic"])
    plt.close("all")


def test_synthetic_cells_get_the_two_step_form(cells):
    real, fresh = cells
    with pytest.raises(TypeError, match=r"ss\.tl\.de_fold_changes\(real, synthetic, groupby"):
        ss.pl.de_scatter(real, fresh, groupby="cell_type", show=False)
    with pytest.raises(TypeError, match=r"ss\.tl\.gene_correlations\(real, synthetic"):
        ss.pl.correlation(real, synthetic=fresh, show=False)


def test_precision_recall_draws_the_spread_as_error_bars():
    table = pd.DataFrame({
        "synthetic": ["real (reference)", "vae"], "group": ["all", "all"], "precision": [0.8, 0.5],
        "recall": [0.7, 0.4], "precision_sd": [0.01, 0.02], "recall_sd": [0.03, 0.04],
    })  # fmt: skip
    ax = ss.pl.precision_recall(table, show=False)
    assert len(ax.containers) == 2
    for bars, row in zip(ax.containers, table.itertuples(), strict=True):
        _, _, (horizontal, vertical) = bars
        np.testing.assert_allclose(
            horizontal.get_segments()[0], [[row.recall - row.recall_sd, row.precision],
                                           [row.recall + row.recall_sd, row.precision]]
        )  # fmt: skip
        np.testing.assert_allclose(
            vertical.get_segments()[0], [[row.recall, row.precision - row.precision_sd],
                                         [row.recall, row.precision + row.precision_sd]]
        )  # fmt: skip
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["real (reference)", "vae"]
    # the bars are the set's colour
    assert (
        to_hex(ax.containers[1][2][0].get_color()[0]) == ss.pl._palette.set_colors(["vae"])["vae"]
    )
    # without the spread columns, no bars
    assert not ss.pl.precision_recall(table.iloc[:, :4], show=False).containers
    plt.close("all")
