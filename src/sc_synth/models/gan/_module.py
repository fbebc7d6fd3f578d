"""The conditional GAN's networks: generator and critic, and the module around the generator."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from scvi import REGISTRY_KEYS
from scvi.module.base import BaseModuleClass, LossOutput
from torch import nn

LOSSES = ("wgan-gp", "vanilla")

# Bounds of the gamma shapes: strongly overdispersed to nearly Poisson.
THETA_RANGE = (0.1, 1e4)
# Factor on the generator's initial output weights (see GANModule.start_at).
_OUTPUT_INIT_SCALE = 0.1


def check_loss(loss: str) -> None:
    """Raise :class:`ValueError` unless ``loss`` names a known GAN loss."""
    if loss not in LOSSES:
        raise ValueError(f"Unknown `loss={loss!r}`; choose one of {list(LOSSES)}.")


class _ConditionalBatchNorm(nn.Module):
    """Batch norm whose scale and shift are learned per label and per batch."""

    def __init__(self, n_features: int, n_labels: int, n_batch: int):
        super().__init__()
        self.n_labels = n_labels
        self.norm = nn.BatchNorm1d(n_features, affine=False)
        # Zero offsets start every condition at the plain (scale 1, shift 0) normalisation.
        self.scale = nn.Embedding(n_labels + n_batch, n_features)
        self.shift = nn.Embedding(n_labels + n_batch, n_features)
        nn.init.zeros_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, h, label, batch):
        codes = (label, batch + self.n_labels)
        scale = 1 + sum(self.scale(c) for c in codes)
        shift = sum(self.shift(c) for c in codes)
        return self.norm(h) * scale + shift


class _Generator(nn.Module):
    """Noise and library size → logits of relative gene expression, conditioned by batch norm.

    Per label and per batch, learned offsets are added to the logits; ``log_theta`` (labels ×
    genes) is the log gamma shape of each gene's biological noise in each label.
    """

    def __init__(self, n_latent, widths, n_output, n_labels, n_batch):
        super().__init__()
        dims = [n_latent + 1, *widths]
        self.linears = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims, dims[1:], strict=False))
        self.norms = nn.ModuleList(_ConditionalBatchNorm(w, n_labels, n_batch) for w in widths)
        self.n_labels = n_labels
        self.out = nn.Linear(widths[-1], n_output)
        self.offset = nn.Embedding(n_labels + n_batch, n_output)
        nn.init.zeros_(self.offset.weight)
        self.log_theta = nn.Parameter(torch.full((n_labels, n_output), math.log(THETA_RANGE[1])))

    def forward(self, noise, log_library, label, batch):
        h = torch.cat([noise, log_library], dim=1)
        for linear, norm in zip(self.linears, self.norms, strict=True):
            h = F.relu(norm(linear(h), label, batch))
        return self.out(h) + self.offset(label) + self.offset(batch + self.n_labels)


class Critic(nn.Module):
    """Projection critic: an unconditional score plus ⟨embedding of label and batch, features⟩."""

    def __init__(self, n_input, widths, n_labels, n_batch):
        super().__init__()
        self.n_labels = n_labels
        dims = [n_input + 1, *widths]
        # No batch norm: the gradient penalty is defined per cell, not per minibatch.
        layers = []
        for i, o in zip(dims, dims[1:], strict=False):
            layers += [nn.Linear(i, o), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], 1)
        self.embed = nn.Embedding(n_labels + n_batch, widths[-1])

    def forward(self, x, log_library, label, batch):
        h = self.body(torch.cat([x, log_library], dim=1))
        projection = self.embed(label) + self.embed(batch + self.n_labels)
        return self.head(h).squeeze(1) + (h * projection).sum(1)


class GANModule(BaseModuleClass):
    """Conditional generator of library-size-normalised log expression, and the losses of a GAN.

    A cell's counts ``c`` with library size ``l`` become ``log1p(c / l * target_sum)``, and the
    critic scores such profiles given the standardised log library size, the label and the batch.
    The generator maps noise and the same conditions to relative expression ``p`` (a softmax over
    genes); its cells are counts drawn from ``Poisson(l * p * g)`` with ``g`` a gamma draw of
    mean 1 and learned shape ``theta`` per gene and label (a negative binomial around ``l * p``),
    and normalised as real cells are. The noise of counts, sampling and biological, is thus
    drawn, not generated: independent per gene, it cannot come from a few noise dimensions, and
    without it generated profiles lie off the manifold of real cells, whose low counts make them
    sparse and discrete; a generator that makes it up from its noise inputs spreads cells along
    a few directions instead. Gradients pass the Poisson draw as if the counts were their
    expectation (straight-through) and the gamma draw by reparameterisation.
    :meth:`start_at` starts the generator at a negative binomial per label and batch. The critic
    is needed only in training: :meth:`new_critic` builds one for the training plan, which owns
    it, and the losses take it as an argument.

    Parameters
    ----------
    n_input
        Number of genes.
    n_labels, n_batch
        Number of labels and batches (1 when the model is not conditioned on them).
    n_latent
        Dimension of the generator's Gaussian noise.
    n_hidden
        Width of the generator's last hidden layer (the critic's first); the others halve.
    n_layers
        Hidden layers of generator and critic.
    loss
        ``"wgan-gp"`` (Wasserstein loss with gradient penalty) or ``"vanilla"`` (non-saturating
        binary cross-entropy).
    gradient_penalty
        Weight of the gradient penalty (``"wgan-gp"`` only).
    target_sum
        Library size that profiles are normalised to.
    log_library_mean, log_library_sd
        Standardisation of the log library size the networks see.
    """

    def __init__(
        self,
        n_input: int,
        n_labels: int = 1,
        n_batch: int = 1,
        n_latent: int = 64,
        n_hidden: int = 256,
        n_layers: int = 2,
        loss: str = "wgan-gp",
        gradient_penalty: float = 10.0,
        target_sum: float = 1e4,
        log_library_mean: float = 0.0,
        log_library_sd: float = 1.0,
    ):
        super().__init__()
        check_loss(loss)
        self.loss_name = loss
        self.n_latent = n_latent
        self.gradient_penalty = gradient_penalty
        self.target_sum = target_sum
        self.log_library_mean = log_library_mean
        self.log_library_sd = log_library_sd
        self.shape = {"n_input": n_input, "n_labels": n_labels, "n_batch": n_batch}
        self.widths = [max(8, n_hidden // 2 ** (n_layers - 1 - i)) for i in range(n_layers)]
        self.generator = _Generator(n_latent, self.widths, n_input, n_labels, n_batch)

    def new_critic(self) -> Critic:
        """Build a projection critic for this generator's profiles and conditions, widest first."""
        return Critic(widths=self.widths[::-1], **self.shape)

    def standardise_library(self, library: torch.Tensor) -> torch.Tensor:
        """Standardised log library size, a column."""
        return ((torch.log(library) - self.log_library_mean) / self.log_library_sd).reshape(-1, 1)

    def _get_inference_input(self, tensors):
        return {
            "x": tensors[REGISTRY_KEYS.X_KEY],
            "label": tensors[REGISTRY_KEYS.LABELS_KEY],
            "batch": tensors[REGISTRY_KEYS.BATCH_KEY],
        }

    def normalise(self, counts: torch.Tensor) -> torch.Tensor:
        """Log profiles ``log1p(counts / library * target_sum)``; an empty cell stays zero."""
        library = counts.sum(1, keepdim=True).clamp_min(1.0)
        return torch.log1p(counts / library * self.target_sum)

    def inference(self, x, label, batch) -> dict[str, torch.Tensor]:
        """Normalise counts to log profiles; flatten the condition codes."""
        library = x.sum(1, keepdim=True)
        return {
            "x": self.normalise(x),
            "library": library,
            "log_library": self.standardise_library(library),
            "label": label.reshape(-1).long(),
            "batch": batch.reshape(-1).long(),
        }

    def _get_generative_input(self, tensors, inference_outputs):
        return {k: inference_outputs[k] for k in ("library", "label", "batch")}

    def generative(
        self, library, label, batch, noise=None, generator: nn.Module | None = None
    ) -> dict[str, torch.Tensor]:
        """Log profiles of counts generated at the given library sizes and conditions.

        Fresh Gaussian noise unless ``noise`` is given; the counts are a Poisson draw around the
        generated relative expression. ``generator`` replaces :attr:`generator` (e.g. its
        average during training).
        """
        generator = self.generator if generator is None else generator
        log_library = self.standardise_library(library)
        if noise is None:
            noise = torch.randn(len(label), self.n_latent, device=log_library.device)
        profile = torch.softmax(generator(noise, log_library, label, batch), dim=1)
        # A lookup, not ``log_theta[label]``: the backward of advanced indexing accumulates
        # rows from several threads in no fixed order on the CPU, so the same seed gave
        # different weights from run to run.
        theta = F.embedding(label, generator.log_theta).exp()
        # Reparameterised, so that the critic's gradient reaches the gamma shapes.
        noise = torch.distributions.Gamma(theta, theta).rsample()
        expected = profile * noise * library.reshape(-1, 1)
        counts = expected + (torch.poisson(expected.detach()) - expected).detach()
        return {"x": self.normalise(counts)}

    def critic_loss(
        self, critic: Critic, inference_outputs, fake: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Return ``critic``'s loss on real and (detached) generated profiles, and its parts."""
        cond = [inference_outputs[k] for k in ("log_library", "label", "batch")]
        real = inference_outputs["x"]
        score_real, score_fake = critic(real, *cond), critic(fake, *cond)
        if self.loss_name == "vanilla":
            return {"loss": F.softplus(-score_real).mean() + F.softplus(score_fake).mean()}
        distance = score_real.mean() - score_fake.mean()
        alpha = torch.rand(len(real), 1, device=real.device)
        between = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(between, *cond).sum(), between, create_graph=True)
        penalty = ((grad.norm(2, dim=1) - 1) ** 2).mean()
        return {
            "loss": -distance + self.gradient_penalty * penalty,
            "wasserstein": distance.detach(),
            "gradient_penalty": penalty.detach(),
        }

    def loss(self, tensors, inference_outputs, generative_outputs, critic: Critic) -> LossOutput:
        """Return the generator's loss: fool ``critic`` (non-saturating form for ``"vanilla"``)."""
        cond = [inference_outputs[k] for k in ("log_library", "label", "batch")]
        score = critic(generative_outputs["x"], *cond)
        loss = F.softplus(-score).mean() if self.loss_name == "vanilla" else -score.mean()
        return LossOutput(loss=loss, n_obs_minibatch=len(score))

    @torch.no_grad()
    def start_at(
        self, log_profile: torch.Tensor, offsets: torch.Tensor, log_theta: torch.Tensor
    ) -> None:
        """Start the generator at given mean profiles and overdispersion.

        The output weights shrink by a factor of 10, so the generator starts close to the
        profiles and grows the variation that its noise drives only as far as the critic asks.

        Parameters
        ----------
        log_profile
            Log mean relative expression of all cells (genes): the output bias.
        offsets
            Log ratios of each label's, then each batch's, mean profile to ``log_profile``
            ((labels + batches) × genes).
        log_theta
            Log gamma shapes (labels × genes).
        """
        generator = self.generator
        generator.out.bias.copy_(log_profile.reshape(-1))
        generator.out.weight.mul_(_OUTPUT_INIT_SCALE)
        generator.offset.weight.copy_(offsets)
        generator.log_theta.copy_(log_theta)

    @torch.inference_mode()
    def sample(self, noise, library, label, batch) -> torch.Tensor:
        """Return generated profiles as relative expression (rows sum to 1) for the given cells."""
        log_library = self.standardise_library(library)
        return torch.softmax(self.generator(noise, log_library, label, batch), dim=1)
