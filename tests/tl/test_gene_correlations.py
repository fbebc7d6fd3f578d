import numpy as np
import pytest
from conftest import make_counts

import sc_synth as ss


@pytest.fixture(scope="module")
def cells():
    cells = make_counts(n_cells=600, seed=0)
    return cells[:300].copy(), cells[300:].copy()


def test_stores_clustered_matrices_and_their_agreement(cells):
    real, fresh = cells
    ss.tl.gene_correlations(real, fresh, groupby="cell_type", group="type_1", n_genes=30)
    result = real.uns["gene_correlations"]
    assert result["real"].shape == result["synthetic"].shape == (30, 30)
    assert list(result["real"].index) == list(result["synthetic"].columns)
    np.testing.assert_allclose(np.diag(result["real"]), 1)
    assert -1 <= result["r"] <= 1
    assert result["params"] == {"groupby": "cell_type", "group": "type_1", "n_genes": 30}
    copy = real.copy()
    ss.tl.gene_correlations(copy, real.copy(), n_genes=30)
    assert copy.uns["gene_correlations"]["r"] == pytest.approx(1.0)


def test_checks_its_arguments(cells):
    real, fresh = cells
    with pytest.raises(ValueError, match="pass groupby and group together"):
        ss.tl.gene_correlations(real, fresh, groupby="cell_type")
    with pytest.raises(ValueError, match="n_genes must be an integer of at least 2"):
        ss.tl.gene_correlations(real, fresh, n_genes=1)
