import numpy as np
from conftest import make_counts

from sc_synth.models._conditions import Conditions
from sc_synth.models._latent_prior import LatentPrior
from sc_synth.models._vae import VAESampler, calibrate_dispersion


def test_latent_prior_draws_near_the_posteriors_of_the_requested_label():
    mean = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0]])
    prior = LatentPrior(mean, np.full_like(mean, 0.01), np.array([0, 0, 1]))
    z = prior.sample(np.array([1] * 50 + [0] * 50), np.random.default_rng(0))
    np.testing.assert_allclose(z[:50], 10.0, atol=0.05)
    assert np.abs(z[50:]).max() < 0.2
    # Both label-0 cells are used, not one.
    assert len(np.unique(np.round(z[50:, 0], 1))) == 2


def test_calibrated_dispersion_matches_the_training_variance(trained_vae):
    record = trained_vae.uns["vae"]
    sampler = VAESampler(record)
    conditions = Conditions.from_record(record["conditions"])
    label, batch = conditions.codes(trained_vae)
    theta = calibrate_dispersion(
        sampler.module, sampler.prior, conditions, trained_vae.X, label, shrinkage=0.0
    )
    assert theta.shape == (3, trained_vae.n_vars)
    # Generated with these dispersions, the high-count genes vary as much as the real ones.
    rng = np.random.default_rng(0)
    codes = np.zeros(4000, dtype=int)
    batches = rng.integers(2, size=4000)
    sampler.theta = theta
    fake = sampler.sample(codes, batches, conditions.sample_library(codes, batches, rng), rng)
    real = trained_vae.X[label == 0].toarray()
    high = real.mean(0) > 20
    ratio = fake[:, high].var(0) / real[:, high].var(0)
    assert 0.6 < np.median(ratio) < 1.6


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
