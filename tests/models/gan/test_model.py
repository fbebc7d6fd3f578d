"""GANGenerator: its data-driven start, sampling, record and the object API."""

import numpy as np
import pytest
import torch
from conftest import make_counts

from sc_synth.models._conditions import Conditions
from sc_synth.models._record import weights_to_record
from sc_synth.models.gan import GANGenerator
from sc_synth.models.gan import _model as gan_model
from sc_synth.models.gan._model import data_start, default_max_steps
from sc_synth.models.gan._module import GANModule


def _record(module: GANModule, **params) -> dict:
    one = np.ones((1, 1))
    conditions = Conditions(None, None, [""], [""], one.astype(np.int64), 6 * one, 0 * one)
    return {
        "init_params": params,
        "weights": weights_to_record(module),
        "conditions": conditions.to_record(),
        "setup": {},
        "plan_params": {},
    }


def _start_at_data(module: GANModule, counts, label, batch) -> None:
    shape = module.shape
    start = data_start(counts, label, batch, shape["n_labels"], shape["n_batch"])
    module.start_at(**{name: torch.as_tensor(value) for name, value in start.items()})


def test_sampler_draws_around_library_sizes_from_the_given_rng_alone():
    params = {"n_input": 30, "n_labels": 2, "n_hidden": 16, "n_latent": 4, "target_sum": 50.0}
    sampler = GANGenerator.from_uns(_record(GANModule(**params), **params))
    n = 2000
    label, batch = np.arange(n) % 2, np.zeros(n, dtype=np.int64)
    library = np.where(np.arange(n) < n // 2, 50.0, 5000.0)
    a = sampler.sample(label, batch, library, np.random.default_rng(0))
    torch.manual_seed(99)
    b = sampler.sample(label, batch, library, np.random.default_rng(0))
    assert (a != b).nnz == 0
    np.testing.assert_array_equal(a.data, np.round(a.data))
    totals = np.asarray(a.sum(1)).ravel()
    np.testing.assert_allclose(totals[: n // 2].mean(), 50.0, rtol=0.05)
    np.testing.assert_allclose(totals[n // 2 :].mean(), 5000.0, rtol=0.05)
    assert a.min() >= 0


def test_sampler_refuses_a_record_that_is_not_a_gan():
    params = {"n_input": 30, "n_hidden": 16}
    record = _record(GANModule(**params), n_input=30, n_hidden=16, dispersion="gene")
    with pytest.raises(ValueError, match="do not describe a GANGenerator"):
        GANGenerator.from_uns(record)
    record = _record(GANModule(**params), n_input=31, n_hidden=16)
    with pytest.raises(ValueError, match="do not fit"):
        GANGenerator.from_uns(record)


def test_default_training_takes_a_fixed_number_of_generator_steps(monkeypatch):
    # Lightning counts critic and generator steps alike.
    assert default_max_steps(n_critic=5) == 6 * gan_model.DEFAULT_GENERATOR_STEPS
    monkeypatch.setattr(gan_model, "DEFAULT_GENERATOR_STEPS", 7)
    for n_cells, n_critic in ((120, 5), (240, 2)):
        adata = make_counts(n_cells=n_cells, n_genes=20)
        GANGenerator.setup_anndata(adata, labels_key="cell_type")
        model = GANGenerator(adata, n_hidden=16, n_latent=4)
        # 4 or 8 minibatches an epoch: training stops within an epoch, after the 7th generator step
        model.train(batch_size=32, plan_kwargs={"n_critic": n_critic})
        assert model.plan_params["generator_steps"] == 7
        assert model.plan_params["critic_steps"] == 7 * n_critic


def test_generator_starts_at_the_mean_profiles_and_overdispersion_of_the_data():
    rng = np.random.default_rng(0)
    n_cells, n_genes = 4000, 40
    label = np.arange(n_cells) % 2
    batch = np.zeros(n_cells, dtype=np.int64)
    profile = rng.gamma(2.0, 1.0, (2, n_genes))
    profile /= profile.sum(1, keepdims=True)
    mean = 2000 * profile[label]
    # The first half of the genes is negative binomial with shape 2, the rest Poisson.
    theta = np.where(np.arange(n_genes) < n_genes // 2, 2.0, np.inf)
    gamma = np.where(np.isinf(theta), 1.0, rng.gamma(np.minimum(theta, 1e6), 1 / 2.0, mean.shape))
    counts = rng.poisson(mean * gamma)
    torch.manual_seed(0)
    module = GANModule(n_genes, n_labels=2, n_hidden=16, n_latent=4)
    _start_at_data(module, counts, label, batch)

    module.eval()
    codes = torch.as_tensor(label[:200])
    generated = module.sample(
        torch.randn(200, 4), torch.full((200, 1), 2000.0), codes, torch.zeros(200, dtype=torch.long)
    ).numpy()
    for code in (0, 1):
        np.testing.assert_allclose(
            generated[label[:200] == code].mean(0), profile[code], rtol=0.15, atol=1e-3
        )
    fitted = module.generator.log_theta.exp().detach().numpy()
    assert fitted.shape == (2, n_genes)
    np.testing.assert_allclose(np.median(fitted[:, : n_genes // 2], axis=1), 2.0, rtol=0.25)
    assert np.all(np.median(fitted[:, n_genes // 2 :], axis=1) > 50)


def test_each_label_gets_its_own_overdispersion_and_a_rare_one_borrows_from_all():
    rng = np.random.default_rng(0)
    n_genes = 30
    # 3000 cells of a label with gamma shape 1, 3000 Poisson cells, and 4 cells of a third label.
    label = np.repeat([0, 1, 2], [3000, 3000, 4])
    mean = rng.gamma(2.0, 10.0, n_genes)
    gamma = np.where(label[:, None] == 0, rng.gamma(1.0, 1.0, (len(label), n_genes)), 1.0)
    counts = rng.poisson(mean * gamma)
    module = GANModule(n_genes, n_labels=3, n_hidden=16, n_latent=4)
    _start_at_data(module, counts, label, np.zeros(len(label), dtype=np.int64))
    shape = np.median(module.generator.log_theta.exp().detach().numpy(), axis=1)
    np.testing.assert_allclose(shape[0], 1.0, rtol=0.2)
    assert shape[1] > 50
    # Four cells say little: the rare label's shapes are close to those of all cells (about 2).
    assert 1.0 < shape[2] < 4.0


def test_overdispersion_fit_leaves_out_the_poisson_noise_of_shallow_cells():
    rng = np.random.default_rng(0)
    n_cells, n_genes = 4000, 40
    # Poisson counts at library sizes that vary as in droplet data; scaled to the mean library,
    # shallow cells are noisier, which is no overdispersion of the genes.
    library = rng.lognormal(np.log(200), 0.6, n_cells)
    profile = rng.gamma(2.0, 1.0, n_genes)
    profile /= profile.sum()
    counts = rng.poisson(library[:, None] * profile)
    codes = np.zeros(n_cells, dtype=np.int64)
    module = GANModule(n_genes, n_hidden=16, n_latent=4)
    _start_at_data(module, counts, codes, codes)
    assert np.median(module.generator.log_theta.exp().detach().numpy()) > 100


def test_generated_counts_carry_the_gamma_noise_of_their_label():
    params = {"n_input": 2, "n_labels": 2, "n_hidden": 16, "n_latent": 4, "target_sum": 1000.0}
    module = GANModule(**params)
    with torch.no_grad():
        module.generator.out.weight.zero_()
        module.generator.out.bias.zero_()
        # Label 0 near Poisson in both genes; label 1 with gamma shape 1 in the second.
        module.generator.log_theta.copy_(torch.log(torch.tensor([[1e4, 1e4], [1e4, 1.0]])))
    sampler = GANGenerator.from_uns(_record(module, **params))
    n = 8000
    label = np.arange(n) % 2
    counts = sampler.sample(
        label, np.zeros(n, np.int64), np.full(n, 2000.0), rng=np.random.default_rng(0)
    )
    share = counts[:, [1]].toarray().ravel() / 2000
    poisson = 0.5 / 2000
    # Near-Poisson genes vary as a Poisson draw does; a gamma shape of 1 spreads them far wider.
    assert share[label == 0].var() < 1.2 * poisson
    assert share[label == 1].var() > 20 * poisson


def test_a_record_with_the_critic_of_earlier_versions_still_loads():
    params = {"n_input": 12, "n_hidden": 16, "n_latent": 4}
    module = GANModule(**params)
    record = _record(module, **params)
    old = dict(record["weights"])
    old.update({f"critic.{k}": v for k, v in weights_to_record(module.new_critic()).items()})
    rng = np.random.default_rng
    codes, library = np.zeros(50, dtype=np.int64), np.full(50, 300.0)
    a = GANGenerator.from_uns(record).sample(codes, codes, library, rng(0))
    b = GANGenerator.from_uns({**record, "weights": old}).sample(codes, codes, library, rng(0))
    assert (a != b).nnz == 0


def test_object_api_trains_quietly_and_its_record_rebuilds_the_model(capfd):
    adata = make_counts(n_cells=120, n_genes=30)
    GANGenerator.setup_anndata(adata, labels_key="cell_type", batch_key="batch")
    model = GANGenerator(adata, n_hidden=16, n_latent=4)
    model.train(max_epochs=2, plan_kwargs={"n_critic": 1})
    assert capfd.readouterr() == ("", "")
    record = model.to_uns()
    assert record["kind"] == "gan"
    assert record["plan_params"]["critic_steps"] == 2
    assert record["plan_params"]["generator_steps"] == 2
    assert all(name.startswith("generator.") for name in record["weights"])
    rebuilt = GANGenerator.from_uns(record)
    label, batch, library = np.arange(60) % 3, np.arange(60) % 2, np.full(60, 400.0)
    a = model.sample(label, batch, library, np.random.default_rng(0))
    b = rebuilt.sample(label, batch, library, np.random.default_rng(0))
    assert (a != b).nnz == 0
