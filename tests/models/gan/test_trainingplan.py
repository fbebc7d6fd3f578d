"""The GAN's training plan: the critic it owns and its in-batch quality."""

import torch

from sc_synth.models.gan._module import GANModule
from sc_synth.models.gan._trainingplan import GANTrainingPlan, _precision_recall


def test_precision_recall_sees_mode_collapse():
    torch.manual_seed(0)
    real = torch.randn(64, 5)
    precision, recall = _precision_recall(real, torch.randn(64, 5), 3)
    assert precision > 0.5
    assert recall > 0.5
    collapsed = real[:1].repeat(64, 1) + 1e-3 * torch.randn(64, 5)
    precision, recall = _precision_recall(real, collapsed, 3)
    assert precision == 1.0
    assert recall < 0.1


def test_the_plan_owns_the_critic_and_the_record_holds_the_generator_alone():
    module = GANModule(12, n_labels=2, n_hidden=16, n_latent=4)
    plan = GANTrainingPlan(module)
    assert not any(name.startswith("critic") for name in module.state_dict())
    assert sum(p.numel() for p in plan.critic.parameters()) > 0
    generator, critic = plan.configure_optimizers()
    critic_params = {id(p) for group in critic.param_groups for p in group["params"]}
    assert critic_params == {id(p) for p in plan.critic.parameters()}
    assert not critic_params & {id(p) for p in module.parameters()}
