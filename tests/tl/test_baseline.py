import numpy as np
from conftest import make_counts

from sc_synth.tl._baseline import nb_per_label


def test_nb_per_label_keeps_labels_profiles_and_is_seeded():
    adata = make_counts(n_cells=900, seed=3)
    labels = adata.obs["cell_type"].astype(str).to_numpy()
    drawn = nb_per_label(adata.X, labels, seed=0)
    assert drawn.shape == adata.shape
    assert np.all(drawn.data == np.round(drawn.data))
    assert drawn.min() >= 0
    for label in np.unique(labels):
        rows = labels == label
        real_profile = np.asarray(adata.X[rows].mean(axis=0)).ravel()
        drawn_profile = np.asarray(drawn[rows].mean(axis=0)).ravel()
        assert np.corrcoef(real_profile, drawn_profile)[0, 1] > 0.98
        # library sizes are resampled from the label's own cells
        assert abs(drawn[rows].sum() / adata.X[rows].sum() - 1) < 0.1
    assert (nb_per_label(adata.X, labels, seed=0) != drawn).nnz == 0
    assert (nb_per_label(adata.X, labels, seed=1) != drawn).nnz > 0
