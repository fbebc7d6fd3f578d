"""The flow's defaults: training lengths and sampling settings, and the check of the latter."""

from __future__ import annotations

import math

import numpy as np
from scvi.model._utils import get_max_epochs_heuristic

#: Sampling defaults: the conditional velocity (no extra guidance), 2 midpoint steps, each two
#: passes of the velocity MLP; more steps did not score better on held-out cells (see the
#: Generators page).
DEFAULT_GUIDANCE = 1.0
DEFAULT_N_STEPS = 2
#: Gradient steps of the velocity field that ``max_epochs=None`` aims at.
DEFAULT_FLOW_STEPS = 3000
#: Most gradient steps of the autoencoder by default: scvi-tools' 400 epochs on 10,000 cells
#: (31,000 steps) take about 20 minutes on two CPU cores, while 4,000 steps left the latent space
#: too coarse for the flow on 10,000 simulated cells (see the Scale page).
DEFAULT_AUTOENCODER_STEPS = 12_000


def default_autoencoder_epochs(n_obs: int, batch_size: int) -> int:
    """scvi-tools' epoch heuristic, capped at about :data:`DEFAULT_AUTOENCODER_STEPS` steps."""
    batches = max(1, math.ceil(n_obs / batch_size))
    steps_cap = max(1, math.ceil(DEFAULT_AUTOENCODER_STEPS / batches))
    return min(get_max_epochs_heuristic(n_obs), steps_cap)


def default_max_epochs(n_obs: int, batch_size: int) -> int:
    """Epochs that give about ``DEFAULT_FLOW_STEPS`` steps (at least 20, at most 1000)."""
    batches = max(1, math.ceil(n_obs / batch_size))
    return int(np.clip(math.ceil(DEFAULT_FLOW_STEPS / batches), 20, 1000))


def check_sampling(guidance, n_steps) -> None:
    """Raise :class:`ValueError` unless ``guidance`` ≥ 0 and ``n_steps`` ≥ 1 (``None`` passes)."""
    if guidance is not None and (
        isinstance(guidance, bool) or not isinstance(guidance, int | float) or guidance < 0
    ):
        raise ValueError(
            f"`guidance` must be a number >= 0 (1: the conditional flow; above 1: stronger "
            f"conditioning), got {guidance!r}."
        )
    if n_steps is not None and (
        isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 1
    ):
        raise ValueError(f"`n_steps` must be a positive integer, got {n_steps!r}.")
