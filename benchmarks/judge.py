"""Speed of the metric families of ``ss.tl.evaluate``, and what they say of the generators.

``speed``: simulates ``3 n`` cells x ``--genes`` genes in eight groups: ``n`` real (held-out) cells, ``n``
synthetic cells and ``n`` training cells (for ``train=``), all from one distribution. Each family
runs alone (``metrics=<family>``, ``groupby="group"``, so with its reference and baseline rows),
then all together; one process, after a warm-up run on small data that compiles what is compiled
on first use. Prints a Markdown table of wall-clock and CPU time (the CPU time of all the
process's threads: on a busy machine it, not the wall-clock time, says what the work costs).

``pbmc``: for each training seed, ``ss.datasets.pbmc68k_counts()`` is split in halves within
every ``bulk_labels`` label; the VAE (400 epochs) and the WGAN-GP (its default epochs) are trained
on one half, asked for the other half's composition, and judged against it with
``train=`` the training half and ``n_repeats`` evaluation seeds. Prints the ``all`` rows (mean and
standard deviation over the evaluation seeds) and writes the full tables to
``benchmarks/results/judge_pbmc_<seed>.csv``.

    OMP_NUM_THREADS=1 python benchmarks/judge.py speed              # 10,000 vs 10,000 x 2,000
    OMP_NUM_THREADS=1 python benchmarks/judge.py speed --cells 2000 --genes 500
    OMP_NUM_THREADS=1 python benchmarks/judge.py pbmc --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import sc_synth as ss
from sc_synth._study import split_halves
from sc_synth.tl._evaluate import METRICS

# the generators judged, through the public API
MODELS = {"vae": ("train_vae", {}), "wgan-gp": ("train_gan", {"loss": "wgan-gp"})}
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
    pbmc_args = commands.add_parser("pbmc")
    pbmc_args.add_argument("--seeds", type=int, nargs="+", default=[0])
    pbmc_args.add_argument("--models", nargs="+", default=["vae", "wgan-gp"])
    pbmc_args.add_argument("--repeats", type=int, default=5, help="evaluation seeds")
    args = parser.parse_args()
    if args.command == "speed":
        speed(args.cells, args.genes, args.families)
    else:
        pbmc(args.seeds, args.models, args.repeats)


def pbmc(seeds: list[int], models: list[str], repeats: int) -> None:
    adata = ss.datasets.pbmc68k_counts()
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    print(f"pbmc68k: {adata.n_obs} cells x {adata.n_vars} genes; load {os.getloadavg()[0]:.2f}")
    for seed in seeds:
        train, held = split_halves(adata, ["bulk_labels"], seed)
        groups = {g: int(n) for g, n in held.obs["bulk_labels"].value_counts().items() if n}
        sets = {}
        for model in models:
            function, extra = MODELS[model]
            epochs = 400 if model == "vae" else None
            getattr(ss.tl, function)(
                train, labels_key="bulk_labels", key_added=model, max_epochs=epochs, seed=seed,
                **extra,
            )  # fmt: skip
            sets[model] = ss.tl.generate(train, model, groups=groups, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = ss.tl.evaluate(
                held, sets, groupby="bulk_labels", metrics=JUDGED, train=train, seed=seed,
                n_repeats=repeats,
            )  # fmt: skip
        table.to_csv(results / f"judge_pbmc_{seed}.csv")
        shown = table[table["group"] == "all"]
        print(f"\n### training seed {seed} ({repeats} evaluation seeds: mean ± sd)\n")
        print("| set | " + " | ".join(SHOWN) + " |")
        print("|---|" + "---|" * len(SHOWN))
        for name, row in shown.iterrows():
            cells = [f"{row[c]:.2f} ± {row[f'{c}_sd']:.2f}" for c in SHOWN]
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


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
