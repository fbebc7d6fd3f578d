"""What every generator's training shares: a seed, torch's threads and quiet Lightning output."""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator

import scanpy as sc
import scvi
from anndata import AnnData
from scanpy import logging as logg

from .._threads import n_threads, torch_threads

# Lightning's own loggers: their INFO lines (seed, accelerators, advertisements, why fitting
# stopped) show from scanpy's verbosity "info" on.
_LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric")


def _verbose() -> bool:
    return sc.settings.verbosity >= sc.Verbosity.info


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Below scanpy's verbosity "info", silence Lightning's INFO lines and a warning no user can act on."""
    loggers = [logging.getLogger(name) for name in _LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    if not _verbose():
        for logger in loggers:
            logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            # Lightning's pytree helper uses a torch API that torch deprecates.
            warnings.filterwarnings(
                "ignore",
                message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                category=FutureWarning,
            )
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def epochs_for_steps(n_obs: int, batch_size: int, steps: int) -> int:
    """Epochs of ``n_obs`` cells in minibatches of ``batch_size`` that take about ``steps`` steps.

    At least one epoch; rounded up, so that the steps are at least ``steps``.
    """
    return max(1, math.ceil(steps / max(1, math.ceil(n_obs / batch_size))))


def seed_training(seed: int) -> None:
    """Seed weights, noise and data order of the models built next (``scvi.settings.seed``)."""
    with _quiet_lightning():
        scvi.settings.seed = seed


@contextlib.contextmanager
def training_run(kind: str, adata: AnnData, train_kwargs: dict) -> Iterator[None]:
    """Set torch's threads and Lightning's output for one training, restore them after.

    Below scanpy's verbosity "info", training prints nothing: no progress bar and none of
    Lightning's INFO lines. ``train_kwargs`` gets the matching Trainer defaults, which the
    caller's own arguments override.
    """
    train_kwargs.setdefault("enable_progress_bar", _verbose())
    # The plans log once an epoch; Lightning warns when an epoch has fewer minibatches than its
    # step interval, which small data always has.
    train_kwargs.setdefault("log_every_n_steps", 1)
    start = logg.info(f"training {kind} on {adata.n_obs} cells × {adata.n_vars} genes")
    logg.debug(f"seed {scvi.settings.seed}, {n_threads()} torch thread(s)")
    with torch_threads(), _quiet_lightning():
        yield
    logg.info(f"    finished training {kind}", time=start)
