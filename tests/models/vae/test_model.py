"""VAEGenerator: calibration, the object API, its record and its options."""

import numpy as np
import pytest
from conftest import make_counts

import sc_synth as ss
from sc_synth.models.vae import VAEGenerator
from sc_synth.models.vae import _model as vae_model
from sc_synth.models.vae._model import KL_WEIGHT, default_max_epochs, kl_warmup_over


def test_calibrated_dispersion_matches_the_training_variance(trained_vae):
    model = VAEGenerator.from_uns(trained_vae.uns["vae"])
    conditions = model.conditions_
    label, _ = conditions.codes(trained_vae)
    theta = model._fit_dispersion(trained_vae.X, label, seed=0, shrinkage=0.0)
    assert theta.shape == (3, trained_vae.n_vars)
    # Generated with these dispersions, the high-count genes vary as much as the real ones.
    rng = np.random.default_rng(0)
    codes = np.zeros(4000, dtype=int)
    batches = rng.integers(2, size=4000)
    model.dispersion_ = theta
    library = conditions.sample_library(codes, batches, rng)
    fake = model.sample(codes, batches, library, rng).toarray()
    real = trained_vae.X[label == 0].toarray()
    high = real.mean(0) > 20
    ratio = fake[:, high].var(0) / real[:, high].var(0)
    assert 0.6 < np.median(ratio) < 1.6


def test_calibrated_mean_matches_the_training_mean_of_each_label_and_batch(trained_vae):
    record = trained_vae.uns["vae"]
    model = VAEGenerator.from_uns(record)
    label, batch = model.conditions_.codes(trained_vae)
    args = (trained_vae.X, label, batch)
    np.testing.assert_array_equal(model._fit_mean_factor(*args, seed=0), record["mean_factor"])
    factor = model._fit_mean_factor(*args, seed=0, pseudocount=0.0)
    assert factor.shape == (3, 2, trained_vae.n_vars)
    rng = np.random.default_rng(1)
    n = 20_000
    for lab, bat in [(0, 0), (2, 1)]:
        real = trained_vae.X[(label == lab) & (batch == bat)].toarray()
        profile = real.sum(0) / real.sum()
        codes, batches, library = np.full(n, lab), np.full(n, bat), np.full(n, 1e4)
        model.mean_factor_ = np.ones_like(factor)
        before = model.sample(codes, batches, library, rng).toarray().mean(0) / 1e4
        model.mean_factor_ = factor
        after = model.sample(codes, batches, library, rng).toarray().mean(0) / 1e4
        # The decoder alone misses the training mean of the condition; with the factors, it hits.
        high = profile > 0.01
        error_before = np.median(np.abs(np.log(before[high] / profile[high])))
        error_after = np.median(np.abs(np.log(after[high] / profile[high])))
        assert error_after < 0.02
        assert error_after < error_before / 2


def test_kl_term_is_weighted_unless_the_user_sets_the_weight():
    adata = make_counts(n_cells=60, n_genes=20)
    # Several minibatches an epoch, so that the weight is logged in the history.
    options = {"max_epochs": 2, "batch_size": 8, "n_hidden": 8, "n_latent": 2}
    options["enable_progress_bar"] = False
    no_warmup = {"n_epochs_kl_warmup": None}
    ss.tl.train_vae(adata, labels_key="cell_type", plan_kwargs=no_warmup, **options)
    np.testing.assert_allclose(adata.uns["vae"]["history"]["kl_weight"], KL_WEIGHT)
    ss.tl.train_vae(
        adata, labels_key="cell_type", plan_kwargs={**no_warmup, "max_kl_weight": 1.0}, **options
    )
    np.testing.assert_allclose(adata.uns["vae"]["history"]["kl_weight"], 1.0)


def test_kl_warmup_spans_the_epochs_trained_unless_the_user_sets_one():
    assert kl_warmup_over(35, {"max_kl_weight": 6.0}) == {
        "n_epochs_kl_warmup": 35,
        "max_kl_weight": 6.0,
    }
    assert kl_warmup_over(1000, {})["n_epochs_kl_warmup"] == 400
    assert kl_warmup_over(35, {"n_epochs_kl_warmup": None}) == {"n_epochs_kl_warmup": None}
    assert kl_warmup_over(35, {"n_steps_kl_warmup": 10}) == {"n_steps_kl_warmup": 10}


def test_default_epochs_cap_the_steps_on_large_data_only():
    # scvi-tools' 400 epochs up to 4,266 cells (30 minibatches of the 90 % that train) ...
    assert default_max_epochs(700, 128, 0.9) == 400
    assert default_max_epochs(4266, 128, 0.9) == 400
    # ... then about 12,000 steps: 71 minibatches on 10,000 cells, 1,407 on 200,000
    assert default_max_epochs(4300, 128, 0.9) == 388
    assert default_max_epochs(10_000, 128, 0.9) == 170
    assert default_max_epochs(200_000, 128, 0.9) == 9


def test_capped_default_training_warms_the_kl_term_up_over_its_epochs(monkeypatch):
    monkeypatch.setattr(vae_model, "DEFAULT_MAX_STEPS", 16)
    adata = make_counts(n_cells=60, n_genes=20)
    # 54 training cells in minibatches of 8: 7 steps an epoch, so 3 epochs
    ss.tl.train_vae(adata, labels_key="cell_type", batch_size=8, n_hidden=8, n_latent=2)
    kl_weight = adata.uns["vae"]["history"]["kl_weight"]
    np.testing.assert_allclose(kl_weight, KL_WEIGHT * np.arange(3) / 3)


def test_object_api_trains_quietly_and_its_record_rebuilds_the_model(capfd):
    adata = make_counts(n_cells=120, n_genes=30)
    VAEGenerator.setup_anndata(adata, labels_key="cell_type", batch_key="batch")
    model = VAEGenerator(adata, n_hidden=16, n_latent=3, max_prior_codes=25)
    with pytest.raises(RuntimeError, match="call `train`"):
        model.to_uns()
    model.train(max_epochs=2)
    assert capfd.readouterr() == ("", "")
    record = model.to_uns()
    assert record["kind"] == "vae"
    assert record["setup"]["labels_key"] == "cell_type"
    assert record["setup"]["n_obs"] == 120
    # 40 training cells per label, of which the prior keeps 25.
    np.testing.assert_array_equal(np.bincount(record["latent_prior"]["label"]), [25, 25, 25])
    rebuilt = VAEGenerator.from_uns(record)
    again = rebuilt.to_uns()
    for field in ("mean_factor", "dispersion"):
        np.testing.assert_array_equal(again[field], record[field])
    np.testing.assert_array_equal(again["history"]["train_loss"], record["history"]["train_loss"])
    label, batch = np.arange(90) % 3, np.arange(90) % 2
    library = np.full(90, 500.0)
    a = model.sample(label, batch, library, np.random.default_rng(0))
    b = rebuilt.sample(label, batch, library, np.random.default_rng(0))
    assert a.shape == (90, 30)
    assert (a != b).nnz == 0


@pytest.mark.parametrize("value", [0, 2.5, True])
def test_max_prior_codes_must_be_a_positive_integer(value):
    adata = make_counts(n_cells=60, n_genes=20)
    VAEGenerator.setup_anndata(adata, labels_key="cell_type")
    with pytest.raises(ValueError, match="`max_prior_codes` must be a positive integer"):
        VAEGenerator(adata, max_prior_codes=value)
