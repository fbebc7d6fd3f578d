"""The label × batch grid and its library-size model."""

import numpy as np
from conftest import make_counts

from sc_synth.models._conditions import Conditions


def test_conditions_library_model_per_label_and_batch():
    adata = make_counts()
    library = np.asarray(adata.X.sum(1)).ravel()
    library[(adata.obs["cell_type"] == "type_2").to_numpy()] *= 4
    conditions = Conditions.fit(adata, library, "cell_type", "batch")
    assert conditions.n_cells.sum() == adata.n_obs
    drawn = conditions.sample_library(
        np.full(2000, 2), np.zeros(2000, dtype=int), np.random.default_rng(0)
    )
    is2 = ((adata.obs["cell_type"] == "type_2") & (adata.obs["batch"] == "batch_0")).to_numpy()
    assert abs(np.log(np.median(drawn)) - np.log(np.median(library[is2]))) < 0.1
    assert np.std(np.log(drawn)) > 0.1
