import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import sc_synth as ss


@pytest.fixture
def rare(trained_vae):
    """The trained data with type_1 cut down to 10 cells; the model record comes along."""
    is1 = (trained_vae.obs["cell_type"] == "type_1").to_numpy()
    keep = ~is1 | (np.cumsum(is1) <= 10)
    return trained_vae[keep].copy()


def test_tops_up_rare_labels_to_target(rare):
    out = ss.tl.augment(rare, target=60)
    assert out.obs["cell_type"].value_counts().to_dict() == {
        "type_0": 80,
        "type_1": 60,
        "type_2": 80,
    }
    assert out.uns["sc_synth"]["added"] == {"type_1": 50}
    synthetic = out.obs["synthetic"].to_numpy()
    assert synthetic.dtype == bool
    assert synthetic.sum() == 50
    assert not synthetic[: rare.n_obs].any()
    assert (out.obs.loc[synthetic, "cell_type"] == "type_1").all()


def test_real_cells_come_first_and_unchanged(rare):
    out = ss.tl.augment(rare, target=60)
    head = out[: rare.n_obs]
    assert list(head.obs_names) == list(rare.obs_names)
    assert (head.X != rare.X).nnz == 0
    assert head.obs[["cell_type", "batch"]].equals(rare.obs[["cell_type", "batch"]])
    assert list(out.var_names) == list(rare.var_names)
    assert "vae" in out.uns


def test_dict_target_min_cells_and_default(rare):
    out = ss.tl.augment(rare, target={"type_1": 25})
    assert out.obs["cell_type"].value_counts()["type_1"] == 25
    out = ss.tl.augment(rare, min_cells=30)
    assert out.obs["cell_type"].value_counts().to_dict() == {
        "type_0": 80,
        "type_1": 30,
        "type_2": 80,
    }
    # Without a target, labels are brought up to the median label size (80 here).
    out = ss.tl.augment(rare)
    assert out.obs["cell_type"].value_counts()["type_1"] == 80


def test_target_below_existing_counts_leaves_data_alone(rare):
    out = ss.tl.augment(rare, target=5)
    assert out.n_obs == rare.n_obs
    assert not out.obs["synthetic"].any()
    assert out.uns["sc_synth"]["added"] == {}


def test_same_seed_same_cells(rare):
    a = ss.tl.augment(rare, target=40, seed=1)
    b = ss.tl.augment(rare, target=40, seed=1)
    c = ss.tl.augment(rare, target=40, seed=2)
    assert (a.X != b.X).nnz == 0
    assert (a.X != c.X).nnz > 0


def test_genes_are_aligned_by_name(rare):
    shuffled = rare[:, rare.var_names[::-1]].copy()
    out = ss.tl.augment(shuffled, target=40, seed=1)
    reference = ss.tl.augment(rare, target=40, seed=1)
    assert list(out.var_names) == list(shuffled.var_names)
    synthetic = out.obs["synthetic"].to_numpy()
    np.testing.assert_array_equal(
        out[synthetic, rare.var_names].X.toarray(),
        reference[reference.obs["synthetic"].to_numpy()].X.toarray(),
    )


def test_dense_input_stays_dense(rare):
    rare.X = rare.X.toarray()
    out = ss.tl.augment(rare, target=20)
    assert isinstance(out.X, np.ndarray)


def test_bad_input(rare):
    with pytest.raises(KeyError, match="key='gan'"):
        ss.tl.augment(rare, key="gan")
    with pytest.raises(ValueError, match="type_9"):
        ss.tl.augment(rare, target={"type_9": 10})
    with pytest.raises(KeyError, match="labels_key='kind'"):
        ss.tl.augment(rare, labels_key="kind")
    with pytest.raises(ValueError, match="not both"):
        ss.tl.augment(rare, target=10, min_cells=10)
    with pytest.raises(ValueError, match="target"):
        ss.tl.augment(rare, target=-3)
    extra = ad.AnnData(
        X=sparse.hstack([rare.X, np.ones((rare.n_obs, 1), dtype=np.float32)], format="csr"),
        obs=rare.obs,
        var=pd.DataFrame(index=[*rare.var_names, "NEWGENE"]),
        uns=rare.uns,
    )
    with pytest.raises(ValueError, match="other genes"):
        ss.tl.augment(extra, target=40)
    unseen = rare.copy()
    unseen.obs["cell_type"] = unseen.obs["cell_type"].cat.rename_categories({"type_0": "novel"})
    with pytest.raises(ValueError, match="never saw"):
        ss.tl.augment(unseen, target=40)
