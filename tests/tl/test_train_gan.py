import anndata as ad
import numpy as np
import pytest
from conftest import make_counts
from lightning.pytorch.callbacks import Callback

import sc_synth as ss

_FAST = {"n_hidden": 32, "n_latent": 8, "batch_size": 32, "enable_progress_bar": False}


def _train(adata, **kwargs):
    ss.tl.train_gan(adata, **{"max_epochs": 2, **_FAST, **kwargs})


@pytest.fixture(scope="module")
def trained_gan():
    """``make_counts()`` with a small conditional WGAN-GP under ``uns["gan"]``; do not modify."""
    adata = make_counts()
    _train(adata, labels_key="cell_type", batch_key="batch", max_epochs=5)
    return adata


@pytest.mark.parametrize("loss", ["wgan-gp", "vanilla"])
def test_both_losses_train_without_nan_and_log_history(loss):
    adata = make_counts()
    _train(adata, labels_key="cell_type", loss=loss, max_epochs=3)
    record = adata.uns["gan"]
    assert record["kind"] == "gan"
    assert record["init_params"]["loss"] == loss
    history = record["history"]
    expected = {"critic_loss_train", "generator_loss_train", "precision_train", "recall_train"}
    if loss == "wgan-gp":
        expected |= {"wasserstein_train", "gradient_penalty_train"}
    assert set(history) == expected
    for name, values in history.items():
        assert len(values) == 3, name
        assert np.all(np.isfinite(values)), name
    assert all(np.all(np.isfinite(w)) for w in record["weights"].values())


@pytest.mark.parametrize(
    ("loss", "n_critic"), [("wgan-gp", None), ("wgan-gp", 2), ("vanilla", None)]
)
def test_critic_and_generator_alternate_as_configured(loss, n_critic):
    adata = make_counts()  # 240 cells in batches of 32: 8 critic steps an epoch
    _train(adata, loss=loss, n_critic=n_critic, max_epochs=5)
    plan = adata.uns["gan"]["plan_params"]
    expected = {None: {"wgan-gp": 5, "vanilla": 1}[loss]}.get(n_critic, n_critic)
    assert plan["n_critic"] == expected
    assert plan["critic_steps"] == 40
    assert plan["generator_steps"] == 40 // expected


def test_held_out_cells_give_validation_precision_and_recall():
    adata = make_counts()
    _train(adata, labels_key="cell_type", max_epochs=2, train_size=0.8)
    history = adata.uns["gan"]["history"]
    for name in ("precision_validation", "recall_validation"):
        assert len(history[name]) == 2
        assert np.all((history[name] >= 0) & (history[name] <= 1))


def test_loss_defaults_set_the_optimiser():
    adata = make_counts()
    _train(adata, loss="vanilla", max_epochs=1)
    plan = adata.uns["gan"]["plan_params"]
    assert plan["lr"] == pytest.approx(5e-5)
    np.testing.assert_allclose(plan["betas"], [0.5, 0.999])
    _train(adata, max_epochs=1, lr=1e-3, betas=(0.0, 0.9), amsgrad=True)
    plan = adata.uns["gan"]["plan_params"]
    assert plan["lr"] == pytest.approx(1e-3)
    np.testing.assert_allclose(plan["betas"], [0.0, 0.9])
    assert plan["amsgrad"]
    assert plan["ema_decay"] == pytest.approx(0.98)
    _train(adata, loss="vanilla", max_epochs=1)
    assert adata.uns["gan"]["plan_params"]["ema_decay"] == 0


class _GeneratorSteps(Callback):
    """Keeps a copy of the generator's parameters after every generator step."""

    def __init__(self):
        self.states, self._steps = [], 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        steps = pl_module.critic_steps // pl_module.n_critic
        if steps > self._steps:
            self._steps = steps
            generator = pl_module.module.generator
            self.states.append({k: v.detach().clone() for k, v in generator.named_parameters()})


@pytest.mark.parametrize("ema_decay", [0.0, 0.5])
def test_trained_generator_is_the_moving_average_of_its_weights(ema_decay):
    adata = make_counts()
    steps = _GeneratorSteps()
    _train(adata, labels_key="cell_type", ema_decay=ema_decay, max_epochs=3, callbacks=[steps])
    assert len(steps.states) == adata.uns["gan"]["plan_params"]["generator_steps"] > 1
    expected = dict(steps.states[0])
    for state in steps.states[1:]:
        for name, value in state.items():
            expected[name] = ema_decay * expected[name] + (1 - ema_decay) * value
    weights = adata.uns["gan"]["weights"]
    for name, value in expected.items():
        np.testing.assert_allclose(weights[f"generator.{name}"], value.numpy(), atol=1e-6)


def test_record_holds_setup_conditions_and_weights(trained_gan):
    record = trained_gan.uns["gan"]
    assert record["sc_synth_version"] == ss.__version__
    assert record["setup"]["labels_key"] == "cell_type"
    assert list(record["setup"]["var_names"]) == list(trained_gan.var_names)
    assert list(record["conditions"]["batches"]) == ["batch_0", "batch_1"]
    assert record["init_params"]["n_labels"] == 3
    assert record["init_params"]["n_batch"] == 2
    names = set(record["weights"])
    assert any(n.startswith("generator.") for n in names)
    # The critic is needed only in training.
    assert all(n.startswith("generator.") for n in names)


def test_same_seed_same_weights_different_seed_different():
    a, b, c = make_counts(), make_counts(), make_counts()
    _train(a, labels_key="cell_type", seed=3)
    _train(b, labels_key="cell_type", seed=3)
    _train(c, labels_key="cell_type", seed=4)
    wa, wb, wc = (x.uns["gan"]["weights"] for x in (a, b, c))
    for name, w in wa.items():
        np.testing.assert_array_equal(w, wb[name])
    assert any(not np.array_equal(w, wc[name]) for name, w in wa.items())


def test_generate_gives_requested_composition_and_varied_library_sizes(trained_gan):
    out = ss.tl.generate(trained_gan, key="gan", groups={("type_2", "batch_1"): 30, "type_0": 20})
    assert out.uns["sc_synth"]["model"] == "gan"
    assert out.obs["cell_type"].value_counts().to_dict() == {
        "type_0": 20,
        "type_1": 0,
        "type_2": 30,
    }
    assert (out.obs.loc[out.obs["cell_type"] == "type_2", "batch"] == "batch_1").all()
    assert np.all(out.X.data == np.rint(out.X.data))
    library = np.asarray(out.X.sum(axis=1)).ravel()
    assert len(np.unique(library)) > 40
    # Library sizes follow the training cells' log-normal, not one fixed size.
    real = np.log(np.asarray(trained_gan.X.sum(axis=1)).ravel())
    assert abs(np.log(library).mean() - real.mean()) < 0.15
    assert 0.5 < np.log(library).std() / real.std() < 2


def test_h5ad_round_trip_gives_identical_counts(trained_gan, tmp_path):
    path = tmp_path / "gan.h5ad"
    trained_gan.write_h5ad(path)
    back = ad.read_h5ad(path)
    a = ss.tl.generate(trained_gan, key="gan", seed=2)
    b = ss.tl.generate(back, key="gan", seed=2)
    c = ss.tl.generate(back, key="gan", seed=3)
    assert a.shape == trained_gan.shape
    assert (a.X != b.X).nnz == 0
    assert (a.X != c.X).nnz > 0


def test_training_leaves_the_rest_of_adata_unchanged():
    adata = make_counts()
    before = adata.copy()
    _train(adata, labels_key="cell_type", batch_key="batch", key_added="my_gan", max_epochs=1)
    assert list(adata.uns) == ["my_gan"]
    assert adata.obs.equals(before.obs)
    assert (adata.X != before.X).nnz == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"loss": "wgan"}, ValueError, r"Unknown `loss='wgan'`.*wgan-gp.*vanilla"),
        ({"labels_key": "celltype"}, KeyError, r"labels_key='celltype'.*cell_type"),
        ({"batch_key": "nope"}, KeyError, "batch_key='nope'"),
        ({"layer": "counts"}, KeyError, "layer='counts'"),
        ({"n_critc": 5}, TypeError, "n_critc"),
        ({"n_critic": 0}, ValueError, "n_critic"),
        ({"ema_decay": 1.0}, ValueError, r"`ema_decay` must be a number at least 0 and below 1"),
        ({"ema_decay": "high"}, ValueError, r"`ema_decay` must be a number.*'high'"),
    ],
)
def test_bad_arguments_fail_with_adata_unchanged(kwargs, error, match):
    adata = make_counts()
    before = adata.copy()
    with pytest.raises(error, match=match):
        _train(adata, **kwargs)
    assert "gan" not in adata.uns
    assert adata.obs.equals(before.obs)


def test_non_count_data_and_one_cell_labels_are_refused():
    adata = make_counts()
    adata.X = adata.X * 0.5
    with pytest.raises(ValueError, match="non-integer"):
        _train(adata)
    assert "gan" not in adata.uns

    adata = make_counts()
    adata.obs["cell_type"] = adata.obs["cell_type"].cat.add_categories("lonely")
    adata.obs.iloc[0, adata.obs.columns.get_loc("cell_type")] = "lonely"
    before = adata.obs.copy()
    with pytest.raises(ValueError, match=r"\['lonely'\] have fewer than 2 cells"):
        _train(adata, labels_key="cell_type")
    assert "gan" not in adata.uns
    assert adata.obs.equals(before)


@pytest.mark.gpu
def test_trains_on_gpu():
    adata = make_counts()
    _train(adata, labels_key="cell_type", accelerator="gpu", devices=1)
    out = ss.tl.generate(adata, key="gan", n_cells=50)
    assert out.n_obs == 50
