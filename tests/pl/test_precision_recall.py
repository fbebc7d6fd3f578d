import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from anndata import AnnData
from matplotlib.axes import Axes

import sc_synth as ss


@pytest.fixture
def table():
    rows = [
        ("real (reference)", "all", 0.9, 0.88),
        ("real (reference)", "B", 0.85, 0.8),
        ("baseline (NB per label)", "all", 0.7, 0.5),
        ("baseline (NB per label)", "B", 0.6, 0.4),
        ("vae", "all", 0.3, 0.95),
        ("vae", "B", 0.2, 0.9),
        ("gan", "all", 0.8, 0.2),
        ("gan", "B", 0.75, 0.1),
    ]
    df = pd.DataFrame(rows, columns=["synthetic", "group", "precision", "recall"])
    df.index = [s if g == "all" else f"{s} | {g}" for s, g, *_ in rows]
    return df


def test_one_point_per_set_axes_zero_to_one(table, tmp_path):
    ax = ss.pl.precision_recall(table, show=False, save=tmp_path / "pr.png")
    assert isinstance(ax, Axes)
    assert ax.get_xlim() == (0, 1)
    assert ax.get_ylim() == (0, 1)
    assert ax.get_xlabel() == "recall"
    assert ax.get_ylabel() == "precision"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["real (reference)", "baseline (NB per label)", "vae", "gan"]
    offsets = [c.get_offsets().tolist() for c in ax.collections]
    assert offsets[2] == [[0.95, 0.3]]  # vae at (recall, precision)
    markers = {c.get_label(): c.get_paths()[0].vertices.shape for c in ax.collections}
    assert markers["real (reference)"] != markers["vae"]  # the reference is marked apart
    assert (tmp_path / "pr.png").stat().st_size > 0
    plt.close("all")


def test_reference_on_top_and_nothing_unexplained(table):
    ax = ss.pl.precision_recall(table, show=False)
    zorder = {c.get_label(): c.get_zorder() for c in ax.collections}
    assert zorder["real (reference)"] > max(zorder[s] for s in zorder if s != "real (reference)")
    assert ax.get_title() == "precision and recall"
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    drawn = {a.get_label() for a in [*ax.collections, *ax.lines]}
    assert drawn == legend  # every mark on the axes is named in the legend
    plt.close("all")


def test_reads_anndata_and_plots_labels(table):
    adata = AnnData(obs=pd.DataFrame(index=["c0"]))
    adata.uns["judged"] = table
    fig, ax = plt.subplots()
    returned = ss.pl.precision_recall(adata, key="judged", groupby="cell_type", ax=ax, show=False)
    assert returned is ax
    assert sum(len(c.get_offsets()) for c in ax.collections) == 4
    assert sorted(t.get_text() for t in ax.texts) == ["B"] * 4
    assert ax.get_title() == "precision and recall per cell_type"
    plt.close(fig)


def test_missing_table():
    with pytest.raises(KeyError, match=r"run ss\.tl\.evaluate first"):
        ss.pl.precision_recall(AnnData(obs=pd.DataFrame(index=["c0"])), show=False)
    with pytest.raises(ValueError, match="lacks columns \\['precision', 'recall'\\]"):
        ss.pl.precision_recall(pd.DataFrame({"synthetic": ["x"], "group": ["all"]}), show=False)


def test_labels_need_label_rows(table):
    with pytest.raises(ValueError, match="no rows per label"):
        ss.pl.precision_recall(table[table["group"] == "all"], groupby="cell_type", show=False)
