"""Conditional flow matching on the latent codes of a frozen count autoencoder (pure torch)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from scvi import REGISTRY_KEYS
from scvi.module.base import BaseModuleClass, LossOutput
from torch import nn

from ..vae._module import CountVAE

# Sinusoids of the time embedding, at frequencies pi, 2 pi, ... (periods down to 1/8).
_N_FREQUENCIES = 16


def _plain(params: Mapping) -> dict:
    """Return module arguments as Python values (h5ad gives numpy scalars and arrays back)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, np.ndarray):
            value = value.ravel().tolist()
        out[key] = value
    return out


class VelocityField(nn.Module):
    """MLP velocity ``v(z_t, t | label, batch)`` with separate label and batch embeddings.

    Label and batch each have their own table with one extra "unknown" row, the condition that
    classifier-free guidance drops to. Embedded apart, a label and a batch never seen together
    in training still combine: the network has learnt each one's effect from the other cells.
    """

    def __init__(
        self, n_latent: int, n_labels: int, n_batch: int, n_hidden: int, n_layers: int, n_embed: int
    ):
        super().__init__()
        self.n_labels, self.n_batch = n_labels, n_batch
        self.label_embedding = nn.Embedding(n_labels + 1, n_embed)
        self.batch_embedding = nn.Embedding(n_batch + 1, n_embed)
        self.register_buffer(
            "frequencies", math.pi * torch.arange(1, _N_FREQUENCIES + 1, dtype=torch.float32)
        )
        widths = [n_latent + 2 * _N_FREQUENCIES + 2 * n_embed] + [n_hidden] * n_layers
        self.layers = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(n_hidden) for _ in range(n_layers))
        self.output = nn.Linear(n_hidden, n_latent)

    def forward(self, z, t, label, batch) -> torch.Tensor:
        """Velocity at codes ``z`` (cells × latent) and times ``t`` (cells); codes of -1 drop."""
        label = torch.where(label < 0, self.n_labels, label)
        batch = torch.where(batch < 0, self.n_batch, batch)
        angle = t[:, None] * self.frequencies
        h = torch.cat(
            [
                z,
                torch.sin(angle),
                torch.cos(angle),
                self.label_embedding(label),
                self.batch_embedding(batch),
            ],
            dim=1,
        )
        for layer, norm in zip(self.layers, self.norms, strict=True):
            h = F.silu(norm(layer(h)))
        return self.output(h)


class FlowModule(BaseModuleClass):
    """A frozen count autoencoder and a velocity field on its latent space.

    Training takes each cell's code ``z1`` as the mean of the autoencoder's posterior (a code
    drawn from the posterior would add the posterior's spread to the decoded means, on top of the
    counting noise the calibrated dispersion already adds), noise ``z0 ~ N(0, I)`` and a time
    ``t ~ U(0, 1)``, and regresses the velocity at ``z_t = (1 - t) z0 + t z1`` onto ``z1 - z0``:
    conditional flow matching with straight (optimal-transport) paths (Lipman et al. 2023).
    Labels and batches are each replaced by "unknown" with probability ``p_uncond``, so one
    network also gives the less conditional velocities that classifier-free guidance needs.

    Parameters
    ----------
    autoencoder
        Arguments of the :class:`~sc_synth.models.vae._module.CountVAE` autoencoder; its
        weights are loaded after construction and not trained further.
    n_labels, n_batch
        Categories of the conditions.
    n_hidden, n_layers, n_embed
        Width and depth of the velocity MLP; width of the label and batch embeddings.
    p_uncond
        Probability of dropping the label, and independently the batch, of a training cell.
    """

    def __init__(
        self,
        autoencoder: Mapping,
        n_labels: int,
        n_batch: int,
        n_hidden: int = 256,
        n_layers: int = 3,
        n_embed: int = 16,
        p_uncond: float = 0.2,
    ):
        super().__init__()
        self.autoencoder = CountVAE(**_plain(autoencoder)).requires_grad_(False).eval()
        self.n_latent = self.autoencoder.n_latent
        self.p_uncond = p_uncond
        self.velocity = VelocityField(self.n_latent, n_labels, n_batch, n_hidden, n_layers, n_embed)

    def train(self, mode: bool = True) -> FlowModule:
        """Switch the velocity field's mode; the frozen autoencoder stays in evaluation mode."""
        super().train(mode)
        # Batch norm in training mode would move the encoder's running statistics.
        self.autoencoder.eval()
        return self

    def _get_inference_input(self, tensors):
        return {
            "x": tensors[REGISTRY_KEYS.X_KEY],
            "batch": tensors[REGISTRY_KEYS.BATCH_KEY],
            "label": tensors[REGISTRY_KEYS.LABELS_KEY],
        }

    @torch.no_grad()
    def inference(self, x, batch, label) -> dict[str, torch.Tensor]:
        """Each cell's latent code: the mean of the autoencoder's posterior."""
        # A `vae` record's autoencoder reads the label as a categorical covariate too.
        cat_covs = label.long() if self.autoencoder.label_covariate else None
        qz = self.autoencoder.inference(x, batch_index=batch, cat_covs=cat_covs)["qz"]
        return {"z1": qz.loc, "label": label.ravel().long(), "batch": batch.ravel().long()}

    def _get_generative_input(self, tensors, inference_outputs):
        return inference_outputs

    def generative(self, z1, label, batch) -> dict[str, torch.Tensor]:
        """Predicted and target velocities at a random point of each cell's straight path."""
        z0 = torch.randn_like(z1)
        t = torch.rand(len(z1), device=z1.device)
        zt = (1 - t[:, None]) * z0 + t[:, None] * z1
        keep = torch.rand(2, len(z1), device=z1.device) >= self.p_uncond
        label = torch.where(keep[0], label, -1)
        batch = torch.where(keep[1], batch, -1)
        return {"predicted": self.velocity(zt, t, label, batch), "target": z1 - z0}

    def loss(self, tensors, inference_outputs, generative_outputs, **kwargs) -> LossOutput:
        """Mean squared velocity error (``kwargs``, e.g. scvi's KL weight, do not apply)."""
        error = (generative_outputs["predicted"] - generative_outputs["target"]).pow(2).mean(1)
        return LossOutput(
            loss=error.mean(), reconstruction_loss=error, kl_local=torch.zeros_like(error)
        )

    @torch.inference_mode()
    def guided_velocity(self, z, t, label, batch, guidance: float) -> torch.Tensor:
        """``v(∅) + w (v(label, batch) − v(∅))``: the conditional velocity at ``guidance`` 1."""
        conditional = self.velocity(z, t, label, batch)
        if guidance == 1:
            return conditional
        unknown = torch.full_like(label, -1)
        free = self.velocity(z, t, unknown, unknown)
        return free + guidance * (conditional - free)

    @torch.inference_mode()
    def sample(self, z0, label, batch, n_steps: int, guidance: float) -> torch.Tensor:
        """Integrate from noise ``z0`` at t = 0 to codes at t = 1 with ``n_steps`` midpoint steps."""
        z, h = z0, 1.0 / n_steps
        for step in range(n_steps):
            t = torch.full((len(z),), step * h, dtype=z.dtype)
            half = z + h / 2 * self.guided_velocity(z, t, label, batch, guidance)
            z = z + h * self.guided_velocity(half, t + h / 2, label, batch, guidance)
        return z
