"""Training on counts backed on disk: an ``.h5ad`` opened ``backed="r"``, a zarr store."""

import anndata as ad
import numpy as np
import pytest
import scvi
from anndata.abc import CSRDataset
from conftest import make_counts
from scvi import REGISTRY_KEYS

import sc_synth as ss
from sc_synth.models import _generator
from sc_synth.models.vae import VAEGenerator

_OPTIONS = {"n_hidden": 16, "n_latent": 4}


def _train(adata, labels_key="cell_type", batch_key="batch"):
    scvi.settings.seed = 0
    VAEGenerator.setup_anndata(adata, labels_key=labels_key, batch_key=batch_key)
    model = VAEGenerator(adata, **_OPTIONS)
    model.train(max_epochs=2, batch_size=32)
    return model


def test_vae_trains_on_an_h5ad_opened_backed(tmp_path, monkeypatch):
    # blocks of 50 rows: the calibration passes read the file piece by piece
    monkeypatch.setattr(_generator, "ROW_BLOCK", 50)
    memory = make_counts(n_cells=200, n_genes=30)
    memory.write_h5ad(tmp_path / "counts.h5ad")
    backed = ad.read_h5ad(tmp_path / "counts.h5ad", backed="r")

    model = _train(backed)

    assert backed.isbacked
    assert isinstance(model.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY), CSRDataset)
    label, batch = _generator.registered_codes(model.adata_manager)
    # read block by block from the file, the fits are those of the counts in memory
    np.testing.assert_allclose(
        model._fit_mean_factor(memory.X, label, batch, seed=0), model.mean_factor_, rtol=1e-12
    )
    np.testing.assert_allclose(
        model._fit_dispersion(memory.X, label, seed=0), model.dispersion_, rtol=1e-9
    )
    # library sizes per label and batch, summed block by block, are those of the counts in memory
    VAEGenerator.setup_anndata(memory, labels_key="cell_type", batch_key="batch")
    in_memory = VAEGenerator(memory, **_OPTIONS).conditions_.to_record()
    for name, value in model.conditions_.to_record().items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(in_memory[name]), err_msg=name)
    holder = ad.AnnData(uns={"vae": model.to_uns()})
    assert ss.tl.generate(holder, "vae", n_cells=40).shape == (40, 30)


def test_vae_trains_on_a_simulated_zarr_store(tmp_path):
    store = ss.pp.simulate(
        n_cells=300, n_genes=40, batch_cells=[150, 150], group_prob=[0.6, 0.4], seed=0,
        out=tmp_path / "sim.zarr",
    )  # fmt: skip
    assert isinstance(store.X, CSRDataset)

    model = _train(store, labels_key="group")

    assert isinstance(store.X, CSRDataset)
    holder = ad.AnnData(uns={"vae": model.to_uns()})
    out = ss.tl.generate(holder, "vae", n_cells=30)
    assert list(out.obs["group"].cat.categories) == ["Group1", "Group2"]


def test_train_vae_trains_on_an_h5ad_opened_backed(tmp_path):
    make_counts(n_cells=120, n_genes=20).write_h5ad(tmp_path / "counts.h5ad")
    backed = ad.read_h5ad(tmp_path / "counts.h5ad", backed="r")
    ss.tl.train_vae(
        backed, labels_key="cell_type", batch_key="batch", max_epochs=2, batch_size=32, **_OPTIONS
    )
    assert backed.isbacked
    assert isinstance(backed.X, CSRDataset)
    assert backed.uns["vae"]["setup"]["n_obs"] == 120
    assert ss.tl.generate(backed, n_cells=25).shape == (25, 20)


def test_backed_file_that_moved_is_refused(tmp_path):
    make_counts(n_cells=60, n_genes=20).write_h5ad(tmp_path / "counts.h5ad")
    backed = ad.read_h5ad(tmp_path / "counts.h5ad", backed="r")
    backed.file.close()
    (tmp_path / "counts.h5ad").rename(tmp_path / "elsewhere.h5ad")
    with pytest.raises(FileNotFoundError, match=r"backed by .*counts\.h5ad.*no longer exists"):
        VAEGenerator.setup_anndata(backed, labels_key="cell_type")
    with pytest.raises(FileNotFoundError, match=r"backed by .*counts\.h5ad.*no longer exists"):
        ss.tl.train_vae(backed, labels_key="cell_type")
    assert "_scvi_uuid" not in backed.uns
