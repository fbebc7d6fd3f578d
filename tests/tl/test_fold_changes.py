import anndata as ad
import numpy as np
import pytest
from conftest import make_counts

import sc_synth as ss


@pytest.fixture(scope="module")
def cells():
    cells = make_counts(n_cells=600, seed=0)
    return cells[:300].copy(), cells[300:].copy()


def test_stores_both_sides_fold_changes_and_slopes(cells, tmp_path):
    real, fresh = cells
    real = real.copy()
    ss.tl.de_fold_changes(real, fresh, groupby="cell_type", key_added="lfc")
    result = real.uns["lfc"]
    assert list(result["groups"]) == ["type_0", "type_1", "type_2"]
    assert result["real"].shape == result["synthetic"].shape == result["de"].shape == (60, 3)
    assert list(result["genes"]) == list(real.var_names)
    assert result["de"][:, 0].sum() >= 5  # the marker genes of type_0
    assert ((result["slope"] > 0.8) & (result["slope"] < 1.2)).all()
    real.write_h5ad(tmp_path / "real.h5ad")
    back = ad.read_h5ad(tmp_path / "real.h5ad").uns["lfc"]
    np.testing.assert_array_equal(back["real"], result["real"])
    # a copy keeps every fold change
    copy = real.copy()
    ss.tl.de_fold_changes(copy, real.copy(), groupby="cell_type", groups=["type_1"])
    np.testing.assert_allclose(copy.uns["de_fold_changes"]["slope"], [1.0])


def test_refuses_labels_too_small_and_leaves_real_alone(cells):
    real, fresh = cells
    before = set(real.uns)
    with pytest.raises(ValueError, match=r"groups \['tiny'\] have fewer than 5 cells"):
        ss.tl.de_fold_changes(real, fresh, groupby="cell_type", groups=["tiny"], key_added="x")
    assert set(real.uns) == before


def test_reads_the_counts_from_layers(cells):
    real, fresh = (adata.copy() for adata in cells)
    ss.tl.de_fold_changes(real, fresh, groupby="cell_type")
    expected = real.uns.pop("de_fold_changes")
    for adata in (real, fresh):
        adata.layers["counts"] = adata.X.copy()
        adata.X = adata.X * 0.5
    ss.tl.de_fold_changes(
        real, fresh, groupby="cell_type", layer="counts", synthetic_layer="counts"
    )
    for name in ("real", "synthetic", "de", "slope"):
        np.testing.assert_array_equal(real.uns["de_fold_changes"][name], expected[name])
    with pytest.raises(ValueError, match=r"synthetic\.X does not hold counts"):
        ss.tl.de_fold_changes(real, fresh, groupby="cell_type", layer="counts")
