import sys
import warnings

import numpy as np
import pytest
import scanpy as sc
import torch
from conftest import make_counts
from lightning.pytorch.callbacks import Callback
from scipy import sparse

import sc_synth as ss
from sc_synth import _threads


@pytest.fixture
def settings():
    """scanpy's settings, restored after the test."""
    n_jobs, verbosity, logfile = sc.settings.n_jobs, sc.settings.verbosity, sc.settings.logfile
    yield sc.settings
    sc.settings.n_jobs, sc.settings.verbosity = n_jobs, verbosity
    sc.settings.logfile = logfile


def _train(adata, **kwargs):
    defaults = {"max_epochs": 2, "n_hidden": 16, "n_latent": 3, "enable_progress_bar": False}
    ss.tl.train_vae(adata, **{**defaults, **kwargs})


def test_record_holds_model_setup_and_history(trained_vae):
    record = trained_vae.uns["vae"]
    assert record["kind"] == "vae"
    assert record["sc_synth_version"] == ss.__version__
    assert record["setup"]["labels_key"] == "cell_type"
    assert list(record["setup"]["var_names"]) == list(trained_vae.var_names)
    assert list(record["conditions"]["labels"]) == ["type_0", "type_1", "type_2"]
    assert record["conditions"]["n_cells"].sum() == trained_vae.n_obs
    assert record["init_params"]["dispersion"] == "gene-label"
    assert all(isinstance(w, np.ndarray) for w in record["weights"].values())
    # One loss value per epoch, and training lowered it.
    loss = record["history"]["train_loss"]
    assert len(loss) == 40
    assert loss[-1] < loss[0]


def test_training_leaves_the_rest_of_adata_unchanged():
    adata = make_counts()
    before = adata.copy()
    _train(adata, labels_key="cell_type", batch_key="batch")
    assert list(adata.uns) == ["vae"]
    assert adata.obs.equals(before.obs)
    assert list(adata.obsm) == list(before.obsm)
    assert (adata.X != before.X).nnz == 0


def test_same_seed_same_weights():
    a, b = make_counts(), make_counts()
    _train(a, labels_key="cell_type", seed=3)
    _train(b, labels_key="cell_type", seed=3)
    for name, w in a.uns["vae"]["weights"].items():
        np.testing.assert_array_equal(w, b.uns["vae"]["weights"][name])


def test_dense_layer_and_key_added(dense_counts_adata):
    adata = dense_counts_adata
    adata.X = np.log1p(adata.X)  # the counts live in the layer only
    _train(adata, layer="counts", batch_key="batch", key_added="my_vae")
    record = adata.uns["my_vae"]
    assert record["setup"]["layer"] == "counts"
    assert record["init_params"]["dispersion"] == "gene-batch"


def test_unconditional_model_generates():
    adata = make_counts()
    _train(adata)
    out = ss.tl.generate(adata, n_cells=25)
    assert out.shape == (25, adata.n_vars)
    assert list(out.obs.columns) == ["synthetic"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"labels_key": "celltype"}, KeyError, r"labels_key='celltype'.*cell_type"),
        ({"batch_key": "nope"}, KeyError, "batch_key='nope'"),
        ({"layer": "counts"}, KeyError, "layer='counts'"),
        ({"n_latnet": 5}, TypeError, "n_latnet"),
        ({"labels_key": "cell_type", "batch_key": "cell_type"}, ValueError, "different columns"),
    ],
)
def test_bad_arguments_fail_before_work(kwargs, error, match):
    adata = make_counts()
    with pytest.raises(error, match=match):
        _train(adata, **kwargs)
    assert "vae" not in adata.uns


def test_non_integer_counts_are_refused_unless_allowed():
    adata = make_counts()
    adata.X = adata.X * 0.5
    with pytest.raises(ValueError, match="non-integer"):
        _train(adata)
    assert "vae" not in adata.uns
    _train(adata, allow_non_integer=True)
    assert adata.uns["vae"]["kind"] == "vae"


@pytest.mark.parametrize(
    ("corrupt", "match"),
    [
        (lambda x: x.data.__setitem__(0, np.nan), "NaN"),
        (lambda x: x.data.__setitem__(0, -1.0), "negative"),
    ],
)
def test_nan_and_negative_counts_are_refused(corrupt, match):
    adata = make_counts()
    corrupt(adata.X)
    with pytest.raises(ValueError, match=match):
        _train(adata)


def test_zero_count_cells_and_single_cell_labels_are_refused(monkeypatch):
    adata = make_counts()
    x = adata.X.tolil()
    x[3, :] = 0
    adata.X = sparse.csr_matrix(x)
    with pytest.raises(ValueError, match="1 cells with no counts"):
        _train(adata)
    # checked in blocks of 100 rows, the empty cells of every block are counted
    monkeypatch.setattr(ss.tl._train, "ROW_BLOCK", 100)
    x[[150, 230], :] = 0
    adata.X = sparse.csr_matrix(x)
    with pytest.raises(ValueError, match="3 cells with no counts"):
        _train(adata)

    adata = make_counts()
    adata.obs["cell_type"] = adata.obs["cell_type"].cat.add_categories("lonely")
    adata.obs.iloc[0, adata.obs.columns.get_loc("cell_type")] = "lonely"
    with pytest.raises(ValueError, match=r"\['lonely'\] have fewer than 2 cells"):
        _train(adata, labels_key="cell_type")


@pytest.mark.gpu
def test_trains_on_gpu():
    adata = make_counts()
    _train(adata, labels_key="cell_type", accelerator="gpu", devices=1)
    out = ss.tl.generate(adata, n_cells=50)
    assert out.n_obs == 50


@pytest.mark.parametrize("train", [ss.tl.train_vae, ss.tl.train_gan], ids=["vae", "gan"])
def test_default_training_prints_nothing_and_warns_nothing(train, capfd, settings):
    settings.verbosity = "warning"
    adata = make_counts()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(adata, labels_key="cell_type", max_epochs=2, n_hidden=16, n_latent=3)
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    assert capfd.readouterr() == ("", "")


def test_info_verbosity_reports_the_training(capfd, settings):
    settings.verbosity = "info"
    # scanpy's handler holds the stream it was given; give it the captured one.
    settings.logfile = sys.stderr
    _train(make_counts(), labels_key="cell_type")
    err = capfd.readouterr().err
    assert "training vae on 240 cells × 60 genes" in err
    assert "finished training vae" in err


class _ThreadProbe(Callback):
    def on_train_start(self, trainer, pl_module):
        self.threads = torch.get_num_threads()


def test_training_runs_on_the_threads_of_n_jobs_and_restores_torch(settings, monkeypatch):
    monkeypatch.setattr(_threads, "_affinity", lambda: 4)
    settings.n_jobs = 2
    probe = _ThreadProbe()
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        _train(make_counts(), labels_key="cell_type", callbacks=[probe])
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    assert probe.threads == 2


def test_max_prior_codes_caps_the_codes_the_record_keeps_per_label():
    adata = make_counts()
    _train(adata, labels_key="cell_type", max_prior_codes=30)
    # 80 training cells per label, of which the record keeps 30.
    labels = adata.uns["vae"]["latent_prior"]["label"]
    np.testing.assert_array_equal(np.bincount(labels), [30, 30, 30])
    adata = make_counts()
    with pytest.raises(ValueError, match="`max_prior_codes` must be a positive integer"):
        _train(adata, labels_key="cell_type", max_prior_codes=0)
    assert "vae" not in adata.uns
