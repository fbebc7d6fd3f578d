"""The GAN's networks and losses."""

import numpy as np
import pytest
import torch

from sc_synth.models.gan._module import GANModule


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="Unknown `loss='hinge'`"):
        GANModule(10, loss="hinge")


def test_inference_normalises_to_target_sum():
    module = GANModule(4, target_sum=100.0)
    x = torch.tensor([[1.0, 3.0, 0.0, 0.0], [10.0, 10.0, 20.0, 10.0]])
    out = module.inference(x, torch.zeros(2, 1), torch.zeros(2, 1))
    np.testing.assert_allclose(torch.expm1(out["x"]).sum(1).numpy(), [100.0, 100.0], rtol=1e-5)


def test_gradient_penalty_is_part_of_the_wgan_critic_loss():
    torch.manual_seed(0)
    module = GANModule(6, n_hidden=16, gradient_penalty=10.0)
    inference = module.inference(torch.rand(8, 6) + 0.1, torch.zeros(8, 1), torch.zeros(8, 1))
    fake = torch.rand(8, 6)
    critic = module.new_critic()
    torch.manual_seed(1)
    parts = module.critic_loss(critic, inference, fake)
    module.gradient_penalty = 0.0
    torch.manual_seed(1)
    without = module.critic_loss(critic, inference, fake)
    assert parts["gradient_penalty"] > 0
    torch.testing.assert_close(parts["loss"] - without["loss"], 10.0 * parts["gradient_penalty"])


def test_generator_gradients_are_the_same_on_every_call_with_two_threads():
    # Minibatch × genes above torch's grain size, so that the backward runs on both threads.
    n_cells, n_genes = 128, 300
    torch.manual_seed(0)
    module = GANModule(n_genes, n_labels=2, n_hidden=16, n_latent=4)
    label = torch.arange(n_cells) % 2
    library = torch.full((n_cells,), 500.0)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        grads = set()
        for _ in range(20):
            module.zero_grad()
            torch.manual_seed(1)
            out = module.generative(library, label, torch.zeros_like(label))
            out["x"].sum().backward()
            grads.add(module.generator.log_theta.grad.numpy().tobytes())
    finally:
        torch.set_num_threads(before)
    assert len(grads) == 1
