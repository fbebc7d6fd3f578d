"""How the figures read: legends clear of the data, labels clear of each other, one colour a set."""

import matplotlib

matplotlib.use("Agg")

import itertools

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from conftest import make_counts
from matplotlib.colors import to_hex

import sc_synth as ss

SETS = ["real (reference)", "baseline (NB per label)", "vae", "vanilla-gan", "wgan-gp"]


@pytest.fixture
def crowded():
    """Per-label points that bunch up near the reference, as in a study where models do well."""
    points = {
        "real (reference)": [(0.80, 0.73), (0.82, 0.85)],
        "baseline (NB per label)": [(0.83, 0.60), (0.82, 0.76)],
        "vae": [(0.83, 0.70), (0.88, 0.73)],
        "vanilla-gan": [(0.05, 0.89), (0.02, 0.87)],
        "wgan-gp": [(0.97, 0.31), (0.97, 0.47)],
    }
    rows = [(s, "all", *pts[0]) for s, pts in points.items()]
    rows += [(s, g, *p) for s, pts in points.items() for g, p in zip(["B", "T"], pts, strict=True)]
    return pd.DataFrame(rows, columns=["synthetic", "group", "precision", "recall"])


@pytest.fixture
def cells():
    cells = make_counts(n_cells=400, seed=0)
    real = cells[:100].copy()
    sets = {name: cells[100 * i : 100 * (i + 1)].copy() for i, name in enumerate(SETS[2:], 1)}
    return real, sets


def assert_legend_clear(ax, path, others=()):
    """Assert that ax's legend lies whole in the figure saved with a tight bbox and in the figure
    itself, and covers neither its own axes nor ``others``."""
    fig = ax.figure
    fig.savefig(path, bbox_inches="tight")
    saved = fig.get_tightbbox().transformed(fig.dpi_scale_trans)
    legend = ax.get_legend().get_window_extent()
    for frame in (saved, fig.bbox):
        assert frame.x0 <= legend.x0 <= legend.x1 <= frame.x1, (legend, frame)
        assert frame.y0 <= legend.y0 <= legend.y1 <= frame.y1, (legend, frame)
    for axes in (ax, *others):
        assert not legend.overlaps(axes.bbox), (legend, axes.bbox)


@pytest.mark.parametrize("groupby", [None, "cell_type"])
def test_precision_recall_legend_clear_of_points(crowded, groupby, tmp_path):
    ax = ss.pl.precision_recall(crowded, groupby=groupby, show=False)
    assert_legend_clear(ax, tmp_path / "pr.png")
    plt.close("all")


def test_precision_recall_labels_clear_of_each_other_and_of_points(crowded, tmp_path):
    ax = ss.pl.precision_recall(crowded, groupby="cell_type", show=False)
    ax.figure.savefig(tmp_path / "pr.png")
    labels = [t.get_window_extent() for t in ax.texts]
    assert len(labels) == 10
    for a, b in itertools.combinations(labels, 2):
        assert not a.overlaps(b), (a, b)
    centres = [xy for c in ax.collections for xy in ax.transData.transform(c.get_offsets())]
    for label, (x, y) in itertools.product(labels, centres):
        assert not label.contains(x, y), (label, x, y)
    plt.close("all")


def test_embedding_legends_clear_of_panels(cells, tmp_path):
    real, sets = cells
    origin, label = ss.pl.embedding(
        ss.tl.embedding(real, sets, keys="cell_type", basis="pca"),
        color="cell_type",
        basis="pca",
        show=False,
    )
    assert_legend_clear(origin, tmp_path / "e.png", others=(label,))
    assert_legend_clear(label, tmp_path / "e.png", others=(origin,))
    plt.close("all")


def test_one_colour_per_set_in_every_figure(cells, crowded):
    real, sets = cells
    ax = ss.pl.precision_recall(crowded, show=False)
    in_pr = {c.get_label(): to_hex(c.get_facecolor()[0]) for c in ax.collections}
    ax = ss.pl.embedding(ss.tl.embedding(real, sets, basis="pca"), basis="pca", show=False)
    legend = ax.get_legend()
    in_embedding = {
        t.get_text(): to_hex(h.get_facecolor()[0])
        for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)
    }
    assert list(in_embedding) == ["real", "vae", "vanilla-gan", "wgan-gp"]
    for name in ["vae", "vanilla-gan", "wgan-gp"]:
        assert in_embedding[name] == in_pr[name]
    assert in_embedding["real"] == in_pr["real (reference)"]
    assert len({in_pr[name] for name in SETS}) == len(SETS)
    plt.close("all")


def test_label_colours_are_none_of_the_sets(cells):
    """Beside the origin panel, no colour of the label panel can be read as a set."""
    real, sets = cells

    def legend_colors(ax):
        legend = ax.get_legend()
        return {
            t.get_text(): to_hex(h.get_facecolor()[0])
            for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)
        }

    origin, label = ss.pl.embedding(
        ss.tl.embedding(real, sets, keys="cell_type", basis="pca"),
        color="cell_type",
        basis="pca",
        show=False,
    )
    sets_colors, label_colors = legend_colors(origin), legend_colors(label)
    assert list(label_colors) == ["type_0", "type_1", "type_2"]
    assert len(set(label_colors.values())) == 3
    assert not set(label_colors.values()) & set(sets_colors.values())
    plt.close("all")
