import numpy as np
import pytest
import torch
from conftest import make_counts

from sc_synth.models.flow import _model as flow_model
from sc_synth.models.flow._model import FlowGenerator, additive_fill
from sc_synth.models.flow._module import FlowModule, VelocityField
from sc_synth.models.flow._settings import (
    check_sampling,
    default_autoencoder_epochs,
    default_max_epochs,
)
from sc_synth.models.vae._model import KL_WEIGHT


def _module(n_labels=3, n_batch=2, p_uncond=0.2) -> FlowModule:
    torch.manual_seed(0)
    autoencoder = {"n_input": 20, "n_batch": n_batch, "n_labels": n_labels, "n_latent": 4}
    return FlowModule(autoencoder, n_labels, n_batch, n_hidden=16, n_layers=2, p_uncond=p_uncond)


def test_velocity_field_reads_dropped_conditions_as_their_own_row():
    field = VelocityField(4, n_labels=3, n_batch=2, n_hidden=16, n_layers=2, n_embed=5)
    z, t = torch.randn(6, 4), torch.rand(6)
    label, batch = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([0, 1, 0, 1, 0, 1])
    out = field(z, t, label, batch)
    assert out.shape == (6, 4)
    dropped = field(z, t, torch.full_like(label, -1), batch)
    as_row = field(z, t, torch.full_like(label, 3), batch)
    torch.testing.assert_close(dropped, as_row)
    assert not torch.allclose(dropped, out)


def test_training_step_freezes_the_autoencoder_and_fits_only_the_velocity():
    module = _module()
    module.train()
    assert not module.autoencoder.training
    assert all(not p.requires_grad for p in module.autoencoder.parameters())
    x = torch.poisson(torch.full((8, 20), 3.0))
    tensors = {
        "X": x,
        "batch": torch.tensor([[0], [1]] * 4),
        "labels": torch.tensor([[0], [1], [2], [0]] * 2),
    }
    _, _, loss = module(tensors)
    assert torch.isfinite(loss.loss)
    loss.loss.backward()
    assert module.velocity.output.weight.grad is not None


def test_training_codes_are_the_posterior_means():
    module = _module()
    x = torch.poisson(torch.full((6, 20), 3.0))
    label, batch = torch.tensor([[0], [1], [2]] * 2), torch.tensor([[0], [1]] * 3)
    first = module.inference(x, batch, label)["z1"]
    torch.testing.assert_close(first, module.inference(x, batch, label)["z1"])
    qz = module.autoencoder.inference(x, batch_index=batch)["qz"]
    torch.testing.assert_close(first, qz.loc)


def test_every_training_cell_keeps_its_conditions_without_dropout():
    module = _module(p_uncond=0.0)
    seen = {}

    def record(z, t, label, batch):
        seen["label"], seen["batch"] = label.clone(), batch.clone()
        return torch.zeros_like(z)

    module.velocity.forward = record
    label, batch = torch.tensor([0, 1, 2]), torch.tensor([1, 0, 1])
    module.generative(torch.randn(3, 4), label, batch)
    torch.testing.assert_close(seen["label"], label)
    torch.testing.assert_close(seen["batch"], batch)


def test_integration_is_deterministic_and_guidance_one_is_the_conditional_flow():
    module = _module().eval()
    z0 = torch.randn(5, 4)
    label, batch = torch.tensor([0, 1, 2, 0, 1]), torch.tensor([0, 0, 1, 1, 0])
    a = module.sample(z0, label, batch, n_steps=4, guidance=1.0)
    torch.testing.assert_close(a, module.sample(z0, label, batch, n_steps=4, guidance=1.0))
    t = torch.rand(5)
    torch.testing.assert_close(
        module.guided_velocity(z0, t, label, batch, 1.0), module.velocity(z0, t, label, batch)
    )
    free = module.velocity(z0, t, torch.full_like(label, -1), torch.full_like(batch, -1))
    torch.testing.assert_close(module.guided_velocity(z0, t, label, batch, 0.0), free)
    assert not torch.allclose(a, module.sample(z0, label, batch, n_steps=4, guidance=3.0))


def test_midpoint_steps_integrate_a_constant_velocity_exactly():
    module = _module().eval()
    module.velocity.forward = lambda z, t, label, batch: torch.ones_like(z) * 2.0
    z0 = torch.zeros(3, 4)
    out = module.sample(
        z0, torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long), 3, 1.0
    )
    torch.testing.assert_close(out, torch.full((3, 4), 2.0))


def test_additive_fill_recovers_an_additive_grid_and_keeps_seen_cells():
    rng = np.random.default_rng(0)
    label_effect, batch_effect = rng.normal(size=(4, 1, 7)), rng.normal(size=(1, 3, 7))
    values = label_effect + batch_effect
    seen = np.ones((4, 3), dtype=bool)
    seen[2, 1] = seen[0, 2] = False
    holed = np.where(seen[..., None], values, 99.0)
    filled = additive_fill(holed, seen)
    np.testing.assert_allclose(filled, values, atol=1e-6)
    np.testing.assert_array_equal(filled[seen], holed[seen])
    assert additive_fill(values, np.ones((4, 3), dtype=bool)) is values


@pytest.mark.parametrize(
    ("guidance", "n_steps", "match"),
    [
        (-0.5, None, "guidance"),
        ("2", None, "guidance"),
        (None, 0, "n_steps"),
        (None, 2.5, "n_steps"),
    ],
)
def test_sampling_settings_are_checked(guidance, n_steps, match):
    with pytest.raises(ValueError, match=match):
        check_sampling(guidance, n_steps)
    check_sampling(0.0, 1)


def test_from_uns_names_what_a_partial_record_lacks():
    with pytest.raises(ValueError, match=r"lacks \['sampling', 'mean_factor'"):
        FlowGenerator.from_uns({"init_params": {}, "weights": {}})


def test_default_epochs_aim_at_a_number_of_steps():
    # Small data keeps scvi-tools' 400 epochs; large data stops at about 12,000 steps.
    assert default_autoencoder_epochs(350, 128) == 400
    assert default_autoencoder_epochs(10_000, 128) == 152
    assert default_max_epochs(10_000, 128) == 38
    assert default_max_epochs(100, 128) == 1000


def test_default_autoencoder_training_reaches_the_full_kl_weight(monkeypatch):
    # A capped default (here 3 epochs) warms the KL term up over the epochs it trains, not
    # over scvi-tools' 400, which it would end far below.
    monkeypatch.setattr(flow_model, "default_autoencoder_epochs", lambda n_obs, batch_size: 3)
    adata = make_counts(n_cells=60, n_genes=20)
    autoencoder = FlowGenerator.train_autoencoder(
        adata,
        labels_key="cell_type",
        batch_key="batch",
        module_kwargs={"n_hidden": 8, "n_latent": 2},
        batch_size=8,
        enable_progress_bar=False,
    )
    weights = autoencoder["history"]["kl_weight"]
    assert len(weights) == 3
    np.testing.assert_allclose(np.ravel(weights)[-1], KL_WEIGHT * 2 / 3, rtol=1e-5)
