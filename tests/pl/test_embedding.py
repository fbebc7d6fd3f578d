import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import make_counts
from matplotlib.axes import Axes
from matplotlib.colors import to_hex

import sc_synth as ss


@pytest.fixture
def pair():
    cells = make_counts(n_cells=300, seed=0)
    return cells[:150].copy(), cells[150:].copy()


def test_pca_panels_by_origin_and_label(pair, tmp_path):
    real, synthetic = pair
    axes = ss.pl.embedding(
        real,
        {"vae": synthetic},
        color="cell_type",
        basis="pca",
        show=False,
        save=tmp_path / "e.pdf",
    )
    assert len(axes) == 2
    assert all(isinstance(ax, Axes) for ax in axes)
    assert axes[0].get_title() == "origin"
    assert axes[1].get_title() == "cell_type"
    assert sum(len(c.get_offsets()) for c in axes[0].collections) == 300
    legend = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert legend == ["real", "vae"]
    assert (tmp_path / "e.pdf").stat().st_size > 0
    assert "X_pca" not in real.obsm  # inputs are left alone
    plt.close("all")


@pytest.mark.slow  # the first UMAP in a process compiles its numba kernels
def test_umap_into_given_axes(pair):
    real, synthetic = pair
    fig, ax = plt.subplots()
    returned = ss.pl.embedding(real, synthetic, basis="umap", ax=ax, show=False)
    assert returned is ax
    points = np.asarray(ax.collections[0].get_offsets())
    assert points.shape == (300, 2)
    assert np.isfinite(points).all()
    plt.close(fig)


def test_bad_arguments(pair):
    real, synthetic = pair
    with pytest.raises(ValueError, match="basis must be 'umap' or 'pca'"):
        ss.pl.embedding(real, synthetic, basis="tsne", show=False)
    with pytest.raises(KeyError, match=r"`keys='kind'` is not a column of real\.obs"):
        ss.pl.embedding(real, synthetic, color="kind", basis="pca", show=False)
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="2 panels need 2 Axes"):
        ss.pl.embedding(real, synthetic, color="batch", basis="pca", ax=ax, show=False)
    plt.close(fig)


def test_palette_colours_the_label_panels_only(pair):
    real, synthetic = pair
    palette = ["#e41a1c", "#377eb8", "#4daf4a"]
    origin, label = ss.pl.embedding(
        real, {"vae": synthetic}, color="cell_type", basis="pca", palette=palette, show=False
    )

    def legend_colours(ax):
        return [to_hex(h.get_facecolor()[0]) for h in ax.get_legend().legend_handles]

    assert legend_colours(origin) == ["#000000", to_hex("tab:blue")]  # real, vae
    assert legend_colours(label) == palette
    plt.close("all")


def test_draws_a_stored_embedding_or_says_how_to_make_it(pair):
    real, synthetic = pair
    joint = ss.tl.embedding(real, {"vae": synthetic}, keys="cell_type", basis="pca")
    origin, label = ss.pl.embedding(joint, color="cell_type", basis="pca", show=False)
    np.testing.assert_allclose(origin.collections[0].get_offsets(), joint.obsm["X_pca"][:, :2])
    with pytest.raises(KeyError, match=r"run sc_synth\.tl\.embedding|sc_synth.tl.embedding"):
        ss.pl.embedding(joint, basis="umap", show=False)
    plt.close("all")


def test_real_is_not_a_set_name(pair):
    real, synthetic = pair
    with pytest.raises(ValueError, match="name 'real' must be a string other than"):
        ss.pl.embedding(real, {"real": synthetic}, basis="pca", show=False)


def test_torch_thread_count_survives_the_embedding(pair):
    import torch

    real, synthetic = pair
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ss.pl.embedding(real, {"vae": synthetic}, basis="pca", show=False)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
        plt.close("all")
