"""The VAE's latent prior: draws per label and the cap on its codes."""

import numpy as np

from sc_synth.models.vae._latent_prior import LatentPrior


def test_latent_prior_draws_near_the_posteriors_of_the_requested_label():
    mean = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0]])
    prior = LatentPrior(mean, np.full_like(mean, 0.01), np.array([0, 0, 1]))
    z = prior.sample(np.array([1] * 50 + [0] * 50), np.random.default_rng(0))
    np.testing.assert_allclose(z[:50], 10.0, atol=0.05)
    assert np.abs(z[50:]).max() < 0.2
    # Both label-0 cells are used, not one.
    assert len(np.unique(np.round(z[50:, 0], 1))) == 2


def test_capped_prior_keeps_a_random_subset_of_large_labels_only():
    label = np.repeat([0, 1], [50, 5])
    mean = np.arange(55.0)[:, None]
    prior = LatentPrior(mean, np.ones_like(mean), label)
    capped = prior.capped(10, np.random.default_rng(0))
    np.testing.assert_array_equal(np.bincount(capped.label), [10, 5])
    # The kept rows are the label's own, in their order, and not simply its first ten.
    kept = capped.mean[capped.label == 0].ravel()
    assert np.all(np.diff(kept) > 0)
    assert 9 < kept.max() < 50
    np.testing.assert_array_equal(capped.mean[capped.label == 1].ravel(), np.arange(50.0, 55.0))
    # A prior without a label over the cap is kept whole and draws nothing.
    rng = np.random.default_rng(0)
    whole = prior.capped(50, rng)
    np.testing.assert_array_equal(whole.mean, prior.mean)
    assert rng.integers(10**9) == np.random.default_rng(0).integers(10**9)
