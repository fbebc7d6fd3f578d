"""The seed study end to end: split, train generators, generate, evaluate, write a report."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData

from . import pl, pp, tl
from ._io import atomic_path, write_h5ad

#: Generators the study can train: name → (training function, its extra arguments).
MODELS = {
    "vae": (tl.train_vae, {}),
    "vanilla-gan": (tl.train_gan, {"loss": "vanilla"}),
    "wgan-gp": (tl.train_gan, {"loss": "wgan-gp"}),
}
#: Short names accepted on the command line.
ALIASES = {"gan": "wgan-gp"}


@dataclass
class Settings:
    """Sizes of a study run; ``quick`` trades quality for a run of about two minutes.

    ``None`` epochs use each model's own default for the data size.
    """

    n_cells: int = 2000
    n_genes: int = 1000
    vae_epochs: int | None = None
    gan_epochs: int | None = None

    @classmethod
    def make(cls, quick: bool) -> Settings:
        """Return the default or the quick settings."""
        return cls(n_cells=600, n_genes=300, vae_epochs=150, gan_epochs=150) if quick else cls()


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(f"[sc-synth] {message}", file=sys.stderr, flush=True)


def split_halves(adata: AnnData, keys: list[str], seed: int) -> tuple[AnnData, AnnData]:
    """Split cells into a training and a held-out half within every combination of ``keys``."""
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
    name and a rename.
    """
    keys = [k for k in (labels_key, batch_key) if k]
    train, test = split_halves(adata, keys, seed)
    if layer is not None:
        train.X, test.X = train.layers[layer], test.layers[layer]
    progress(
        f"{adata.n_obs} cells × {adata.n_vars} genes: {train.n_obs} to train, {test.n_obs} held out"
    )
    composition = test.obs.groupby(keys, observed=True).size()
    synthetic, timings = {}, {}
    for name in models:
        train_fn, extra = MODELS[name]
        epochs = settings.vae_epochs if name == "vae" else settings.gan_epochs
        progress(f"training {name}" + (f" for {epochs} epochs" if epochs else ""))
        start = time.perf_counter()
        train_fn(
            train,
            labels_key=labels_key,
            batch_key=batch_key,
            key_added=name,
            max_epochs=epochs,
            seed=seed,
            **extra,
        )
        timings[name] = time.perf_counter() - start
        groups = {k: int(n) for k, n in composition.items() if n > 0}
        synthetic[name] = tl.generate(train, name, groups=groups, seed=seed)
        progress(
            f"{name}: trained in {timings[name]:.0f} s, generated {synthetic[name].n_obs} cells"
        )
        write_h5ad(synthetic[name], out / f"synthetic_{name}.h5ad")

    progress("evaluating against the held-out cells")
    table = tl.evaluate(test, synthetic, groupby=labels_key, seed=seed)
    with atomic_path(out / "metrics.csv") as tmp:
        table.to_csv(tmp)
    _figures(test, synthetic, table, labels_key, out)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(report(table, timings, adata, labels_key, batch_key))
    progress(f"done: results in {out}")
    return table


def _figures(
    test: AnnData, synthetic: dict, table: pd.DataFrame, labels_key: str, out: Path
) -> None:
    ax = pl.precision_recall(table, show=False)
    with atomic_path(out / "precision_recall.png") as tmp:
        ax.figure.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(ax.figure)
    fig = pl.embedding(test, synthetic, color=labels_key, show=False)
    fig = getattr(fig, "figure", fig)
    fig = fig[0].figure if isinstance(fig, list | np.ndarray) else fig
    with atomic_path(out / "embedding.png") as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)


def report(
    table: pd.DataFrame, timings: dict, adata: AnnData, labels_key: str, batch_key: str | None
) -> str:
    """Return a short Markdown report that says what the numbers mean."""
    overall = table[table["group"] == "all"] if "group" in table else table
    columns = [
        c for c in ("precision", "recall", "classifier_auc", "coverage", "mmd") if c in overall
    ]
    lines = [
        "# sc-synth study",
        "",
        f"Data: {adata.n_obs} cells × {adata.n_vars} genes, labels `{labels_key}`"
        + (f", batches `{batch_key}`" if batch_key else "")
        + ". Each generator was trained on one half of the cells (stratified by label and batch) "
        "and asked for the other half's composition; the synthetic cells are compared with the "
        "held-out real cells.",
        "",
        "| set | " + " | ".join(columns) + " | training time (s) |",
        "|---|" + "---|" * (len(columns) + 1),
    ]
    for name, row in overall.iterrows():
        seconds = f"{timings[name]:.0f}" if name in timings else ""
        values = " | ".join(f"{row[c]:.3f}" for c in columns)
        lines.append(f"| {name} | {values} | {seconds} |")
    lines += [
        "",
        "How to read it:",
        "",
        "- **precision**: share of synthetic cells that fall inside the manifold of real cells "
        "(realism); **recall**: share of real cells whose neighbourhood the synthetic cells reach "
        "(diversity). Both are 1 at best.",
        "- **classifier_auc**: how well a random forest tells synthetic from real cells; 0.5 "
        "means it cannot.",
        "- The `real (reference)` row compares two halves of the real cells: the ceiling on this "
        "data. The `baseline (NB per label)` row is independent negative binomials per label: "
        "the floor a learned generator has to clear to be worth its training.",
        "- `metrics.csv` has every metric, also per label; `precision_recall.png` and "
        "`embedding.png` show the same comparison.",
    ]
    best = overall.drop(
        index=[i for i in overall.index if i.startswith(("real", "baseline"))], errors="ignore"
    )
    if len(best) and {"precision", "recall"} <= set(best):
        winner = (best["precision"] + best["recall"]).idxmax()
        lines += ["", f"Highest precision + recall here: **{winner}**."]
    return "\n".join(lines) + "\n"
