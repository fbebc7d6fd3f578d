import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import make_counts
from matplotlib.axes import Axes
from matplotlib.colors import to_hex

import sc_synth as ss


@pytest.fixture(scope="module")
def pair():
    cells = make_counts(n_cells=300, seed=0)
    return cells[:150].copy(), cells[150:].copy()


@pytest.fixture(scope="module")
def joint(pair):
    real, synthetic = pair
    return ss.tl.embedding(real, {"vae": synthetic}, keys="cell_type", basis="pca")


def test_pca_panels_by_origin_and_label(joint, tmp_path):
    axes = ss.pl.embedding(
        joint.copy(), color="cell_type", basis="pca", show=False, save=tmp_path / "e.pdf"
    )
    assert len(axes) == 2
    assert all(isinstance(ax, Axes) for ax in axes)
    assert axes[0].get_title() == "origin"
    assert axes[1].get_title() == "cell_type"
    assert sum(len(c.get_offsets()) for c in axes[0].collections) == 300
    np.testing.assert_allclose(axes[0].collections[0].get_offsets(), joint.obsm["X_pca"][:, :2])
    legend = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert legend == ["real", "vae"]
    assert (tmp_path / "e.pdf").stat().st_size > 0
    plt.close("all")


@pytest.mark.slow  # the first UMAP in a process compiles its numba kernels
def test_umap_into_given_axes(pair):
    joint = ss.tl.embedding(*pair, basis="umap")
    fig, ax = plt.subplots()
    returned = ss.pl.embedding(joint, basis="umap", ax=ax, show=False)
    assert returned is ax
    points = np.asarray(ax.collections[0].get_offsets())
    assert points.shape == (300, 2)
    assert np.isfinite(points).all()
    plt.close(fig)


def test_wrong_number_of_axes(joint):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="2 panels need 2 Axes"):
        ss.pl.embedding(joint.copy(), color="cell_type", basis="pca", ax=ax, show=False)
    plt.close(fig)


def test_palette_colours_the_label_panels_only(joint):
    palette = ["#e41a1c", "#377eb8", "#4daf4a"]
    origin, label = ss.pl.embedding(
        joint.copy(), color="cell_type", basis="pca", palette=palette, show=False
    )

    def legend_colours(ax):
        return [to_hex(h.get_facecolor()[0]) for h in ax.get_legend().legend_handles]

    assert legend_colours(origin) == ["#000000", to_hex("tab:blue")]  # real, vae
    assert legend_colours(label) == palette
    plt.close("all")


def test_what_is_not_stored_names_the_tl_call_that_stores_it(pair, joint):
    real, _ = pair
    with pytest.raises(KeyError, match=r"no obsm\['X_umap'\].*ss\.tl\.embedding\(real"):
        ss.pl.embedding(joint.copy(), basis="umap", show=False)
    with pytest.raises(KeyError, match=r"no obs\['batch'\]: .*keys=\['batch'\]"):
        ss.pl.embedding(joint.copy(), color="batch", basis="pca", show=False)
    with pytest.raises(KeyError, match=r"obs\['origin'\]"):  # real cells, not pooled ones
        ss.pl.embedding(real, basis="pca", show=False)


def test_synthetic_cells_get_the_two_step_form(pair):
    real, synthetic = pair
    two_steps = r"joint = ss\.tl\.embedding\(real, synthetic, .*ss\.pl\.embedding\(joint"
    with pytest.raises(TypeError, match=two_steps):
        ss.pl.embedding(real, synthetic, color="cell_type", show=False)
    with pytest.raises(TypeError, match=two_steps):
        ss.pl.embedding(real, synthetic=synthetic, show=False)
    assert "origin" not in real.obs
    assert not real.obsm


def test_plotting_imports_nothing_from_tl():
    import ast
    from pathlib import Path

    for path in Path(ss.pl.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [(getattr(node, "module", None) or ""), *(a.name for a in node.names)]
                parts = {part for name in names for part in name.split(".")}
                assert "tl" not in parts, (path.name, ast.unparse(node))
