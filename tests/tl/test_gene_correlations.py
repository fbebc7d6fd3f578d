import anndata as ad
import numpy as np
import pytest
from conftest import make_counts

import sc_synth as ss


@pytest.fixture(scope="module")
def cells():
    cells = make_counts(n_cells=600, seed=0)
    return cells[:300].copy(), cells[300:].copy()


def test_stores_clustered_matrices_and_their_agreement(cells, tmp_path):
    real, fresh = cells
    real = real.copy()
    ss.tl.gene_correlations(real, fresh, groupby="cell_type", group="type_1", n_genes=30)
    result = real.uns["gene_correlations"]
    assert result["real"].shape == result["synthetic"].shape == (30, 30)
    assert len(set(result["genes"])) == 30
    np.testing.assert_allclose(np.diag(result["real"]), 1)
    real.write_h5ad(tmp_path / "real.h5ad")
    back = ad.read_h5ad(tmp_path / "real.h5ad").uns["gene_correlations"]
    np.testing.assert_array_equal(back["synthetic"], result["synthetic"])
    assert -1 <= result["r"] <= 1
    assert result["params"] == {"groupby": "cell_type", "group": "type_1", "n_genes": 30}
    copy = real.copy()
    ss.tl.gene_correlations(copy, real.copy(), n_genes=30)
    assert copy.uns["gene_correlations"]["r"] == pytest.approx(1.0)
    assert copy.uns["gene_correlations"]["params"] == {"n_genes": 30}


def test_checks_its_arguments(cells):
    real, fresh = cells
    with pytest.raises(ValueError, match="pass groupby and group together"):
        ss.tl.gene_correlations(real, fresh, groupby="cell_type")
    with pytest.raises(ValueError, match="n_genes must be an integer of at least 2"):
        ss.tl.gene_correlations(real, fresh, n_genes=1)


def test_reads_the_counts_from_layers(cells):
    real, fresh = (adata.copy() for adata in cells)
    ss.tl.gene_correlations(real, fresh, n_genes=30)
    expected = real.uns.pop("gene_correlations")
    for adata in (real, fresh):
        adata.layers["counts"] = adata.X.copy()
        adata.X = adata.X * 0.5
    ss.tl.gene_correlations(real, fresh, n_genes=30, layer="counts", synthetic_layer="counts")
    for name in ("genes", "real", "synthetic", "r"):
        np.testing.assert_array_equal(real.uns["gene_correlations"][name], expected[name])
    with pytest.raises(KeyError, match=r"`layer='raw'` is not in real\.layers"):
        ss.tl.gene_correlations(real, fresh, layer="raw")
