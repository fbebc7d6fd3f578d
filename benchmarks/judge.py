"""Speed of the metric families of ``ss.tl.evaluate``, and what they say of the generators.

``speed``: simulates ``3 n`` cells x ``--genes`` genes in eight groups: ``n`` real (held-out) cells, ``n``
synthetic cells and ``n`` training cells (for ``train=``), all from one distribution. Each family
runs alone (``metrics=<family>``, ``groupby="group"``, so with its reference and baseline rows),
then all together; one process, after a warm-up run on small data that compiles what is compiled
on first use. Prints a Markdown table of wall-clock and CPU time (the CPU time of all the
process's threads: on a busy machine it, not the wall-clock time, says what the work costs).

``pbmc``: for each training seed, ``ss.datasets.pbmc68k_counts()`` is split in halves within
every ``bulk_labels`` label; the VAE (400 epochs), the WGAN-GP, the vanilla GAN and the flow
(their default training lengths; ``--models`` picks some) are trained on one half, asked for the other half's composition, and judged against it
with ``train=`` the training half and ``n_repeats`` evaluation seeds. ``sim``: the same on
``ss.pp.simulate`` cells (2,000 cells x 1,000 genes, four groups, two batches; split within every
group and batch; the models trained and judged with ``batch_key="batch"``, the VAE for its default
epochs). Each prints the ``all`` rows (mean and standard deviation over the evaluation seeds)
and writes the full tables to ``benchmarks/results/judge_<data>_<seed>.csv``.

    OMP_NUM_THREADS=1 python benchmarks/judge.py speed              # 10,000 vs 10,000 x 2,000
    OMP_NUM_THREADS=1 python benchmarks/judge.py speed --cells 2000 --genes 500
    OMP_NUM_THREADS=1 python benchmarks/judge.py pbmc --seeds 0 1 2
    OMP_NUM_THREADS=1 python benchmarks/judge.py sim --seeds 0 1 2
    OMP_NUM_THREADS=1 python benchmarks/judge.py dcr

``dcr``: the distance-to-closest-record ratio of ``pbmc``'s training seed 0 (VAE and WGAN-GP,
half B of the held-out cells, and half B smoothed: each cell the mean counts of itself and its
four nearest neighbours in half B) measured in PCA spaces fitted on different cells.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

import sc_synth as ss
from sc_synth._study import split_halves
from sc_synth.tl._evaluate import METRICS
from sc_synth.tl._inputs import log_normalised

# the generators judged, through the public API
MODELS = {
    "vae": ("train_vae", {}),
    "wgan-gp": ("train_gan", {"loss": "wgan-gp"}),
    "gan": ("train_gan", {"loss": "vanilla"}),
    "flow": ("train_flow", {}),
}
#: The simulated data of ``sim``: cells, genes, group shares and cells per batch.
SIM = {"n_cells": 2000, "n_genes": 1000, "group_prob": [0.4, 0.3, 0.2, 0.1], "batches": 2}
JUDGED = ["precision_recall", "privacy", "correlation", "de", "tstr"]
SHOWN = [
    "precision", "recall", "gene_gene_corr", "de_slope", "de_r", "de_jaccard", "tstr_f1",
    "dcr_ratio", "membership_auc",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    speed_args = commands.add_parser("speed")
    speed_args.add_argument("--cells", type=int, default=10_000, help="cells per set")
    speed_args.add_argument("--genes", type=int, default=2_000)
    speed_args.add_argument("--families", nargs="+", default=list(METRICS))
    for data in ("pbmc", "sim"):
        data_args = commands.add_parser(data)
        data_args.add_argument("--seeds", type=int, nargs="+", default=[0])
        data_args.add_argument("--models", nargs="+", default=list(MODELS))
        data_args.add_argument("--repeats", type=int, default=5, help="evaluation seeds")
    commands.add_parser("dcr")
    args = parser.parse_args()
    if args.command == "speed":
        speed(args.cells, args.genes, args.families)
    elif args.command == "dcr":
        dcr_spaces()
    else:
        generators(args.command, args.seeds, args.models, args.repeats)


def generators(data: str, seeds: list[int], models: list[str], repeats: int) -> None:
    if data == "pbmc":
        adata, labels, batch_key = ss.datasets.pbmc68k_counts(), "bulk_labels", None
    else:
        n_cells, batches = SIM["n_cells"], SIM["batches"]
        adata = ss.pp.simulate(
            n_cells=n_cells, n_genes=SIM["n_genes"], batch_cells=[n_cells // batches] * batches,
            group_prob=SIM["group_prob"], seed=0,
        )  # fmt: skip
        labels, batch_key = "group", "batch"
    keys = [k for k in (labels, batch_key) if k is not None]
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    print(f"{data}: {adata.n_obs} cells x {adata.n_vars} genes; load {os.getloadavg()[0]:.2f}")
    means = []
    for seed in seeds:
        start = time.perf_counter()
        train, held = split_halves(adata, keys, seed)
        composition = held.obs.groupby(keys, observed=True).size()
        groups = {key: int(n) for key, n in composition.items() if n}
        sets = {}
        for model in models:
            function, extra = MODELS[model]
            epochs = 400 if model == "vae" and data == "pbmc" else None
            getattr(ss.tl, function)(
                train, labels_key=labels, batch_key=batch_key, key_added=model,
                max_epochs=epochs, seed=seed, **extra,
            )  # fmt: skip
            sets[model] = ss.tl.generate(train, model, groups=groups, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = ss.tl.evaluate(
                held, sets, groupby=labels, batch_key=batch_key, metrics=JUDGED, train=train,
                seed=seed, n_repeats=repeats,
            )  # fmt: skip
        table.to_csv(results / f"judge_{data}_{seed}.csv")
        shown = table[table["group"] == "all"]
        took = time.perf_counter() - start
        print(f"\n### training seed {seed} ({repeats} evaluation seeds: mean ± sd; {took:.0f} s, "
              f"load {os.getloadavg()[0]:.2f})\n")  # fmt: skip
        print("| set | " + " | ".join(SHOWN) + " |")
        print("|---|" + "---|" * len(SHOWN))
        for name, row in shown.iterrows():
            cells = [f"{row[c]:.2f} ± {row[f'{c}_sd']:.2f}" for c in SHOWN]
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
        means.append(shown[SHOWN])
    if len(means) > 1:
        over = pd.concat(means).groupby(level=0, sort=False)
        mean, sd = over.mean(), over.std()
        print(f"\n### {len(means)} training seeds: mean ± sd of the means over evaluation seeds\n")
        print("| set | " + " | ".join(SHOWN) + " |")
        print("|---|" + "---|" * len(SHOWN))
        for name in mean.index:
            cells = [f"{mean.loc[name, c]:.2f} ± {sd.loc[name, c]:.2f}" for c in SHOWN]
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def dcr_spaces() -> None:
    adata = ss.datasets.pbmc68k_counts()
    train, held = split_halves(adata, ["bulk_labels"], 0)
    groups = {g: int(n) for g, n in held.obs["bulk_labels"].value_counts().items() if n}
    compared = {}
    for model in ("vae", "wgan-gp"):
        function, extra = MODELS[model]
        epochs = 400 if model == "vae" else None
        getattr(ss.tl, function)(
            train, labels_key="bulk_labels", key_added=model, max_epochs=epochs, seed=0, **extra
        )
        compared[model] = ss.tl.generate(train, model, groups=groups, seed=0).X
    rng = np.random.default_rng(0)
    order = rng.permutation(held.n_obs)
    a, b = order[: held.n_obs // 2], order[held.n_obs // 2 :]
    logged = {"train": log_normalised(train.X).toarray(), "held": log_normalised(held.X).toarray()}
    counts_b = sparse.csr_matrix(held.X)[b].toarray()
    near = NearestNeighbors(n_neighbors=5).fit(logged["held"][b])
    smooth = np.round(counts_b[near.kneighbors(logged["held"][b], return_distance=False)].mean(1))
    sets = {"real half B": logged["held"][b], "half B smoothed": log_normalised(smooth).toarray()}
    for model, counts in compared.items():
        cells = log_normalised(counts).toarray()
        sets[model] = cells[np.random.default_rng(1).permutation(len(cells))[: len(a)]]
    x_train, x_a = logged["train"], logged["held"][a]
    spaces = {
        "train + half A + compared set (evaluate)": lambda x: [x_train, x_a, x],
        "train only": lambda x: [x_train],
        "all real cells (train + held-out)": lambda x: [x_train, logged["held"]],
        "train + compared set": lambda x: [x_train, x],
        "no PCA (log1p genes)": None,
    }
    print(f"load {os.getloadavg()[0]:.2f}\n\n| PCA fitted on | " + " | ".join(sets) + " |")
    print("|---|" + "---:|" * len(sets))
    for name, fit in spaces.items():
        ratios = []
        for x in sets.values():
            project = lambda y: y  # noqa: E731
            if fit is not None:
                pca = PCA(30, svd_solver="arpack", random_state=0).fit(np.vstack(fit(x)))
                project = pca.transform
            z_train, z_a, z = project(x_train), project(x_a), project(x)
            nearest = NearestNeighbors(n_neighbors=1).fit(z_train)
            ratios.append(
                np.median(nearest.kneighbors(z)[0]) / np.median(nearest.kneighbors(z_a)[0])
            )
        print(f"| {name} | " + " | ".join(f"{r:.2f}" for r in ratios) + " |", flush=True)


def speed(n: int, n_genes: int, families: list[str]) -> None:
    adata = ss.pp.simulate(
        n_cells=3 * n, n_genes=n_genes, group_prob=[1 / 8] * 8, lib_loc=8.3, seed=0
    )
    real, synthetic, train = adata[:n].copy(), adata[n : 2 * n].copy(), adata[2 * n :].copy()
    small = adata[:: max(1, 3 * n // 600)].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ss.tl.evaluate(small, small.copy(), groupby="group", train=small.copy())  # warm-up
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"{n:,} real vs {n:,} synthetic cells (and {n:,} training cells) x {n_genes:,} "
          f"genes, 8 labels; OMP_NUM_THREADS={threads}, load {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    print("| families | time (s) | CPU time (s) |\n|---|---:|---:|")
    for chosen in [*[[f] for f in families], families]:
        start, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ss.tl.evaluate(real, synthetic, groupby="group", metrics=chosen, train=train)
        name = chosen[0] if len(chosen) == 1 else "all of them"
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"| {name} | {wall:.1f} | {cpu:.1f} |", flush=True)
    print(f"\nload {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
