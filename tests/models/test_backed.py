"""Training on counts backed on disk: an ``.h5ad`` opened ``backed="r"``, a zarr store."""

import anndata as ad
import numpy as np
import pytest
import scvi
import torch
import zarr
from anndata.abc import CSRDataset
from anndata.io import read_elem, sparse_dataset
from conftest import make_counts
from scvi import REGISTRY_KEYS

import sc_synth as ss
from sc_synth.models import _generator
from sc_synth.models.flow import FlowGenerator
from sc_synth.models.gan import GANGenerator
from sc_synth.models.gan._model import data_start
from sc_synth.models.vae import VAEGenerator

_OPTIONS = {"n_hidden": 16, "n_latent": 4}


@pytest.fixture
def on_disk(tmp_path, monkeypatch):
    """200 cells in memory and the same cells in an .h5ad opened backed, read 50 rows at a time."""
    monkeypatch.setattr(_generator, "ROW_BLOCK", 50)
    memory = make_counts(n_cells=200, n_genes=30)
    memory.write_h5ad(tmp_path / "counts.h5ad")
    return memory, ad.read_h5ad(tmp_path / "counts.h5ad", backed="r")


def _train(adata, labels_key="cell_type", batch_key="batch"):
    scvi.settings.seed = 0
    VAEGenerator.setup_anndata(adata, labels_key=labels_key, batch_key=batch_key)
    model = VAEGenerator(adata, **_OPTIONS)
    model.train(max_epochs=2, batch_size=32)
    return model


def test_vae_trains_on_an_h5ad_opened_backed(on_disk):
    # blocks of 50 rows: the calibration passes read the file piece by piece
    memory, backed = on_disk

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


def test_gan_starts_at_the_data_read_in_blocks_from_a_backed_file(on_disk):
    memory, backed = on_disk
    models = []
    for adata in (memory, backed):
        GANGenerator.setup_anndata(adata, labels_key="cell_type", batch_key="batch")
        models.append(GANGenerator(adata, n_hidden=16, n_latent=4))
    in_memory, on_file = models
    assert isinstance(on_file.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY), CSRDataset)
    assert on_file.module_params == in_memory.module_params
    # the start: output bias, offsets per label and batch, gamma shapes
    for name in ("out.bias", "offset.weight", "log_theta"):
        torch.testing.assert_close(
            on_file.module.generator.get_parameter(name),
            in_memory.module.generator.get_parameter(name),
        )
    # one block and four give the same start
    codes = _generator.registered_codes(in_memory.adata_manager)
    whole = data_start(memory.X.toarray(), *codes, 3, 2)
    for name, value in data_start(backed.X, *codes, 3, 2).items():
        np.testing.assert_allclose(value, whole[name], rtol=1e-10, err_msg=name)

    scvi.settings.seed = 0
    on_file.train(max_epochs=1, batch_size=32)
    assert backed.isbacked
    holder = ad.AnnData(uns={"gan": on_file.to_uns()})
    assert ss.tl.generate(holder, "gan", n_cells=20).shape == (20, 30)


def test_flow_trains_and_calibrates_on_a_backed_file(on_disk):
    memory, backed = on_disk
    scvi.settings.seed = 0
    autoencoder = FlowGenerator.train_autoencoder(
        backed, labels_key="cell_type", batch_key="batch", max_epochs=1, batch_size=32
    )
    models = []
    for adata in (backed, memory):
        FlowGenerator.setup_anndata(adata, labels_key="cell_type", batch_key="batch")
        models.append(FlowGenerator(adata, autoencoder, n_hidden=16, n_layers=2))
    on_file, in_memory = models
    on_file.train(max_epochs=1, batch_size=32)
    assert backed.isbacked
    # the same trained module calibrated on the counts in memory: the same fits
    in_memory.module.load_state_dict(on_file.module.state_dict())
    in_memory.is_trained_ = True
    in_memory.calibrate(seed=scvi.settings.seed)
    np.testing.assert_allclose(on_file.mean_factor_, in_memory.mean_factor_, rtol=1e-10)
    np.testing.assert_allclose(on_file.dispersion_, in_memory.dispersion_, rtol=1e-8)
    holder = ad.AnnData(uns={"flow": on_file.to_uns()})
    assert ss.tl.generate(holder, "flow", n_cells=20).shape == (20, 30)


def test_train_gan_and_train_flow_leave_a_backed_file_backed(on_disk):
    _, backed = on_disk
    options = {"max_epochs": 1, "batch_size": 32, "n_hidden": 16}
    ss.tl.train_gan(backed, labels_key="cell_type", batch_key="batch", **options)
    ss.tl.train_flow(
        backed, labels_key="cell_type", batch_key="batch", autoencoder_epochs=1, **options
    )
    assert backed.isbacked
    assert isinstance(backed.X, CSRDataset)
    assert set(backed.uns) == {"gan", "flow"}


def test_a_store_without_counts_is_refused_before_any_work(tmp_path):
    adata = make_counts(n_cells=60, n_genes=20)
    with ad.settings.override(zarr_write_format=3):
        ad.AnnData(obs=adata.obs, var=adata.var).write_zarr(tmp_path / "empty.zarr")
    empty = ad.read_zarr(tmp_path / "empty.zarr")
    assert empty.X is None
    for train in (ss.tl.train_vae, ss.tl.train_gan, ss.tl.train_flow):
        with pytest.raises(ValueError, match=r"`layer=None` trains on adata.X, which holds no"):
            train(empty, labels_key="cell_type")
    with pytest.raises(ValueError, match=r"layers: none"):
        VAEGenerator.setup_anndata(empty, labels_key="cell_type")
    assert empty.uns == {}
    assert list(empty.obs.columns) == list(adata.obs.columns)


def test_a_store_read_lazily_is_refused_with_how_to_open_it(tmp_path):
    store = tmp_path / "sim.zarr"
    ss.pp.simulate(n_cells=60, n_genes=20, seed=0, out=store)
    lazy = ad.experimental.read_lazy(store)
    with pytest.raises(TypeError, match=r"read lazily.*sparse_dataset"):
        ss.tl.train_vae(lazy, labels_key="group")
    with pytest.raises(TypeError, match=r"read lazily"):
        GANGenerator.setup_anndata(lazy, labels_key="group")
    # opened as the message says, the store trains with its counts on disk
    root = zarr.open_group(store, mode="r")
    cells = ad.AnnData(
        X=sparse_dataset(root["X"]), obs=read_elem(root["obs"]), var=read_elem(root["var"])
    )
    ss.tl.train_gan(cells, labels_key="group", max_epochs=1, n_hidden=16)
    assert isinstance(cells.X, CSRDataset)
    assert cells.uns["gan"]["setup"]["n_obs"] == 60
