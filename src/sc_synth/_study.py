"""The seed study end to end: split, train generators, generate, evaluate, write a report.

Only light libraries load with this module. The learning stack (torch, scvi-tools, Lightning)
loads when a study runs, so the command line can check its input first and fail in a moment.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import matplotlib

# Figures are only written to files, also on servers without a display.
matplotlib.use("Agg")

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scanpy import logging as logg

from . import pp
from ._io import atomic_path, write_h5ad
from ._report import report
from .models import _registry

#: Evaluation seeds behind the spread of the cheap metrics in the report.
REPEATS = 10
#: Neighbourhood size of the evaluation (``tl.evaluate``'s default): a half of real cells needs
#: ``K + 1`` cells, so the held-out cells need ``2 * (K + 1)``.
K = 5
# The classifier AUC is left out: its cross-validated forests take seconds per set and seed,
# where the neighbourhood metrics and the MMD take a fraction of a second.
_SPREAD_METRICS = ["precision_recall", "density_coverage", "mmd"]
_SPREAD_COLUMNS = ["precision", "recall", "density", "coverage", "mmd"]


@dataclass
class Settings:
    """Sizes of a study run; ``quick`` trades quality for a run of one to two minutes.

    ``<record kind>_epochs`` are the epochs of the generators writing records of that kind (see
    :meth:`max_epochs`); ``None`` epochs use each model's own default for the data size.
    """

    n_cells: int = 2000
    n_genes: int = 1000
    vae_epochs: int | None = None
    gan_epochs: int | None = None

    @classmethod
    def make(cls, quick: bool) -> Settings:
        """Return the default or the quick settings."""
        return cls(n_cells=600, n_genes=300, vae_epochs=150, gan_epochs=150) if quick else cls()

    def max_epochs(self, kind: _registry.GeneratorKind) -> int | None:
        """Epochs for ``kind``; ``None`` (its own default) for a record kind without a field."""
        return getattr(self, f"{kind.record_kind}_epochs", None)


def split_halves(adata: AnnData, keys: list[str], seed: int) -> tuple[AnnData, AnnData]:
    """Split cells into a training and a held-out half within every combination of ``keys``.

    The training half of a combination of ``n`` cells gets ``(n + 1) // 2`` of them (see
    :func:`half_sizes`).
    """
    rng = np.random.default_rng(seed)
    strata = (
        adata.obs[keys].astype(str).agg("|".join, axis=1)
        if keys
        else pd.Series("", adata.obs_names)
    )
    train = np.zeros(adata.n_obs, dtype=bool)
    for stratum in np.unique(strata):
        idx = rng.permutation(np.flatnonzero(strata.to_numpy() == stratum))
        train[idx[: (len(idx) + 1) // 2]] = True
    return adata[train].copy(), adata[~train].copy()


def half_sizes(obs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Cells per combination of ``keys`` that :func:`split_halves` puts in each half.

    Returns a frame indexed by the combinations, with columns ``train`` and ``held_out``.
    """
    sizes = obs.groupby(keys, observed=True).size()
    return pd.DataFrame({"train": (sizes + 1) // 2, "held_out": sizes // 2})


def simulated_data(settings: Settings, seed: int) -> AnnData:
    """Two batches × two groups of simulated counts, as in the seed study."""
    half = settings.n_cells // 2
    return pp.simulate(
        n_cells=2 * half,
        n_genes=settings.n_genes,
        batch_cells=[half, half],
        group_prob=[0.5, 0.5],
        seed=seed,
        # About 4,000 counts per cell, as in droplet data; Splat's default depth is 15 times that.
        lib_loc=8.3,
    )


def run_study(
    adata: AnnData,
    *,
    labels_key: str,
    batch_key: str | None,
    models: list[str],
    out: Path,
    settings: Settings,
    seed: int = 0,
    layer: str | None = None,
) -> pd.DataFrame:
    """Train each model on one half of ``adata``, judge it on the other and write the results.

    Writes ``metrics.csv``, ``precision_recall.png``, ``embedding.png``,
    ``synthetic_<model>.h5ad`` and ``report.md`` into ``out``; every file through a temporary
    name and a rename. Progress goes to scanpy's log at the ``info`` level. Ctrl-C ends a
    training run at its current step and raises :class:`KeyboardInterrupt`.

    ``models`` are names or aliases of registered generators (``sc_synth.models._registry``);
    each trains once, under its name, whichever way it was asked for.

    Returns
    -------
    The table of :func:`sc_synth.tl.evaluate` with ``<metric>_sd`` columns: the standard
    deviation of the precision, recall, density, coverage and MMD over :data:`REPEATS`
    evaluation seeds (see :func:`evaluation_spread`). ``metrics.csv`` holds the same table.
    """
    from . import tl

    kinds = list({kind.name: kind for kind in map(_registry.get, models)}.values())
    keys = [k for k in (labels_key, batch_key) if k]
    train, test = split_halves(adata, keys, seed)
    if layer is not None:
        train.X, test.X = train.layers[layer], test.layers[layer]
    logg.info(
        f"{adata.n_obs} cells × {adata.n_vars} genes: {train.n_obs} to train, {test.n_obs} held out"
    )
    composition = test.obs.groupby(keys, observed=True).size()
    groups = {k: int(n) for k, n in composition.items() if n > 0}
    synthetic, timings = {}, {}
    for kind in kinds:
        name = kind.name
        clock = time.perf_counter()
        with _interruptible_training() as callbacks:
            kind.train(
                train,
                labels_key=labels_key,
                batch_key=batch_key,
                key_added=name,
                max_epochs=settings.max_epochs(kind),
                seed=seed,
                callbacks=callbacks,
            )
        timings[name] = time.perf_counter() - clock
        synthetic[name] = tl.generate(train, name, groups=groups, seed=seed)
        logg.info(f"    generated {synthetic[name].n_obs} cells with {name}")
        write_h5ad(synthetic[name], out / f"synthetic_{name}.h5ad")

    started = logg.info(
        f"evaluating against the held-out cells, with {REPEATS} seeds for the spread"
    )
    with _without_step_lines():
        table = tl.evaluate(
            test, synthetic, groupby=labels_key, batch_key=batch_key, train=train, seed=seed
        )
        spread = evaluation_spread(test, synthetic, labels_key, batch_key, seed)
    table = table.join(spread[_SPREAD_COLUMNS].add_suffix("_sd"))
    logg.info("    finished", time=started)
    with atomic_path(out / "metrics.csv") as tmp:
        table.to_csv(tmp)
    with _without_step_lines():
        _figures(test, synthetic, table, labels_key, out)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(report(table, timings, adata, labels_key, batch_key, spread, REPEATS))
    logg.info(f"done: results in {out}")
    return table


def evaluation_spread(
    test: AnnData,
    synthetic: dict[str, AnnData],
    labels_key: str,
    batch_key: str | None,
    seed: int,
) -> pd.DataFrame:
    """Return the standard deviation of the neighbourhood metrics and MMD over evaluation seeds.

    :func:`sc_synth.tl.evaluate` runs with seeds ``seed`` … ``seed + REPEATS - 1``; each draws
    another reference half of the held-out cells, another subsample of every synthetic set and
    another baseline. The spread says how far the numbers move from those choices alone; training
    again with another seed moves them further, so it is a lower bound on the noise.

    Returns
    -------
    One row per row of the evaluation table; columns ``precision``, ``recall``, ``density``,
    ``coverage``, ``mmd`` and ``score`` (precision + recall).
    """
    from . import tl

    tables = [
        tl.evaluate(
            test,
            synthetic,
            groupby=labels_key,
            batch_key=batch_key,
            metrics=_SPREAD_METRICS,
            seed=seed + repeat,
            key_added="evaluation_repeat",
        )
        for repeat in range(REPEATS)
    ]
    stacked = pd.concat(tables, keys=range(REPEATS))[_SPREAD_COLUMNS]
    stacked["score"] = stacked["precision"] + stacked["recall"]
    return stacked.groupby(level=1, sort=False).std()


@contextmanager
def _without_step_lines() -> Iterator[None]:
    """Keep scanpy's info lines of every normalisation, PCA and UMAP out of the study's progress.

    At the ``info`` verbosity they would repeat for every set and evaluation seed; at ``hint`` or
    ``debug`` the user asked for them, and they stay.
    """
    verbosity = sc.settings.verbosity
    with verbosity.override("warning" if verbosity == "info" else verbosity):
        yield


@contextmanager
def _interruptible_training() -> Iterator[list]:
    """Yield Lightning callbacks under which Ctrl-C ends training as a plain KeyboardInterrupt.

    Lightning answers a KeyboardInterrupt inside ``fit`` with a log line, leaves SIGINT ignored
    and calls ``sys.exit(1)``, which scvi-tools reports with a print of its own. Instead, the
    first Ctrl-C sets the trainer's ``should_stop``, so the loop ends after its current step, and
    the interrupt is raised when the training call returns. A second Ctrl-C, or one outside the
    loop, interrupts at once; one that reaches Lightning still comes out as KeyboardInterrupt.
    """
    from lightning.pytorch import Callback

    class Watch(Callback):
        trainer = None
        interrupted = False

        def on_train_start(self, trainer, pl_module) -> None:
            self.trainer = trainer

        def on_train_end(self, trainer, pl_module) -> None:
            self.trainer = None

    watch = Watch()

    def on_sigint(signum, frame) -> None:
        if watch.trainer is None or watch.interrupted:
            raise KeyboardInterrupt
        watch.interrupted = True
        watch.trainer.should_stop = True

    # Signal handlers can only be set from the main thread; elsewhere Ctrl-C does not arrive.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main else None
    try:
        yield [watch]
    except SystemExit as exit_:
        # Lightning's sys.exit runs in its KeyboardInterrupt handler: the interrupt is its context.
        if isinstance(exit_.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise
    finally:
        if main:
            signal.signal(signal.SIGINT, previous or signal.default_int_handler)
    if watch.interrupted:
        raise KeyboardInterrupt


def _figures(
    test: AnnData, synthetic: dict, table: pd.DataFrame, labels_key: str, out: Path
) -> None:
    import matplotlib.pyplot as plt

    from . import pl, tl

    ax = pl.precision_recall(table, show=False)
    with atomic_path(out / "precision_recall.png") as tmp:
        ax.figure.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(ax.figure)
    joint = tl.embedding(test, synthetic, keys=labels_key)
    fig = pl.embedding(joint, color=labels_key, show=False)
    fig = getattr(fig, "figure", fig)
    fig = fig[0].figure if isinstance(fig, list | np.ndarray) else fig
    with atomic_path(out / "embedding.png") as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
