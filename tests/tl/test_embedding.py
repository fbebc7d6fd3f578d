import numpy as np
import pytest
from conftest import make_counts

import sc_synth as ss


@pytest.fixture
def pair():
    cells = make_counts(n_cells=300, seed=0)
    return cells[:150].copy(), cells[150:].copy()


def test_pools_the_sets_in_one_pca(pair):
    real, synthetic = pair
    joint = ss.tl.embedding(real, {"vae": synthetic[:100].copy()}, keys="cell_type", basis="pca")
    assert joint.n_obs == 250
    assert list(joint.obs["origin"].cat.categories) == ["real", "vae"]
    assert joint.obs["origin"].value_counts().to_dict() == {"real": 150, "vae": 100}
    assert set(joint.obs["cell_type"]) == set(real.obs["cell_type"].astype(str))
    assert joint.obsm["X_pca"].shape == (250, 30)
    assert "X_umap" not in joint.obsm
    # the cells come shuffled, the same way for a seed
    assert (joint.obs["origin"].iloc[:150] != "real").any()
    again = ss.tl.embedding(real, {"vae": synthetic[:100].copy()}, keys="cell_type", basis="pca")
    np.testing.assert_array_equal(joint.obsm["X_pca"], again.obsm["X_pca"])
    # inputs are left alone
    assert "X_pca" not in real.obsm
    assert "origin" not in real.obs


def test_checks_its_arguments(pair):
    real, synthetic = pair
    with pytest.raises(ValueError, match="basis must be 'umap' or 'pca'"):
        ss.tl.embedding(real, synthetic, basis="tsne")
    with pytest.raises(KeyError, match=r"`keys='kind'` is not a column of real\.obs"):
        ss.tl.embedding(real, synthetic, keys="kind", basis="pca")


def test_reads_the_counts_from_layers(pair):
    real, synthetic = pair
    expected = ss.tl.embedding(real, synthetic, keys="cell_type", basis="pca")
    for adata in pair:
        adata.layers["counts"] = adata.X.copy()
        adata.X = adata.X * 0.5
    joint = ss.tl.embedding(
        real, synthetic, keys="cell_type", basis="pca", layer="counts", synthetic_layer="counts"
    )
    np.testing.assert_array_equal(joint.obsm["X_pca"], expected.obsm["X_pca"])
    with pytest.raises(KeyError, match=r"`layer='raw'` is not in real\.layers"):
        ss.tl.embedding(real, synthetic, basis="pca", layer="raw")


def test_real_is_not_a_set_name(pair):
    real, synthetic = pair
    with pytest.raises(ValueError, match="name 'real' must be a string other than"):
        ss.tl.embedding(real, {"real": synthetic}, basis="pca")


def test_torch_thread_count_survives_the_embedding(pair):
    import torch

    real, synthetic = pair
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ss.tl.embedding(real, {"vae": synthetic}, basis="pca")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
