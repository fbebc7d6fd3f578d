"""Fidelity, speed and memory of simulating in the image of a labelled reference.

Real data: ``ss.datasets.pbmc68k_counts()`` (700 cells × 765 genes, 10 cell types in
``bulk_labels``). For every seed the cells are split into halves A and B exactly as
``ss.tl.evaluate`` splits them (stratified by label, with its own ``split`` and the same seed), so
every model is fitted on half B, as the evaluation's "baseline (NB per label)" is, and judged
on the held-out half A.

Tables:

- ``profile``: KS distance between half A and each set of the distributions of gene means and
  gene variances (of log counts per million + 1), gene and cell zero fractions and library
  sizes, as Splatter's ``compareSCEs``; rows: half B (the ceiling), reference mode with and
  without the copula, and today's ``estimate_params`` + ``simulate`` and
  ``simulate(reference=)``; then reference mode again with ten times as many cells, so that the
  distance is the fitted law's rather than that of one sample of it.
- ``cells``: ``ss.tl.evaluate`` with ``groupby="bulk_labels"`` (precision, recall, classifier
  AUC, within-label gene-gene correlation), "all" rows, beside its reference and baseline rows.
- ``known``: reference mode fitted to all pbmc68k cells serves as a known truth; data sets of
  pbmc68k's size and four times it, with its labels, are drawn from it, split and refitted on
  half B as above, so the gap to each one's real-versus-real row is estimation alone.
- ``vae``: the split, seeds and evaluation of ``benchmarks/judge.py pbmc`` (training half from
  ``sc_synth._study.split_halves``, ``ss.tl.evaluate`` of the held-out half with ``train=`` and
  five evaluation seeds), reference mode fitted on the training half and drawn with the
  held-out half's label shares, beside the VAE rows that ``judge.py`` wrote to
  ``benchmarks/results/judge_pbmc_<seed>.csv`` for the same splits.
- ``speed``: fit on 50,000 cells × 2,000 genes simulated by the Splat model with 8 groups;
  simulate ``--cells`` (100,000) cells × 20,000 genes out of core with correlation from a
  reference fitted to 2,000 cells × 20,000 genes of 4 labels, drawn from the Splat model's
  marginals with 20 planted co-expression modules per label (Splat cells alone have no
  correlation to fit). One fresh process each: wall time, CPU time and peak RSS of the call,
  and with ``/usr/bin/time -v`` those of the whole simulating process (reference and fit
  included).
- ``simulate``: the simulation of ``speed`` alone, e.g. ``--cells 1000000``.

Usage::

    python benchmarks/reference.py profile cells --seeds 0 1 2
    python benchmarks/reference.py known vae --seeds 0 1 2
    python benchmarks/reference.py speed
    python benchmarks/reference.py simulate --cells 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse, stats

LABELS = "bulk_labels"


def _halves(adata, seed):
    from sc_synth.tl._split import split

    labels = adata.obs[LABELS].astype(str).to_numpy()
    a, b = split(adata.n_obs, (labels, None), adata.n_obs // 2, np.random.default_rng(seed))
    return adata[np.sort(a)].copy(), adata[np.sort(b)].copy()


def _summaries(x) -> dict[str, np.ndarray]:
    x = sparse.csr_matrix(x, dtype=np.float64)
    lib = np.asarray(x.sum(axis=1)).ravel()
    cpm = sparse.diags(1e6 / np.maximum(lib, 1)) @ x
    cpm.data = np.log1p(cpm.data)
    mean = np.asarray(cpm.mean(axis=0)).ravel()
    var = np.asarray(cpm.multiply(cpm).mean(axis=0)).ravel() - mean**2
    nonzero = x > 0
    return {
        "gene mean": mean,
        "gene variance": var,
        "gene zeros": 1 - np.asarray(nonzero.mean(axis=0)).ravel(),
        "cell zeros": 1 - np.asarray(nonzero.mean(axis=1)).ravel(),
        "library size": lib,
    }


def _ks(real, sim) -> dict[str, float]:
    a, b = _summaries(real), _summaries(sim)
    row = {k: stats.ks_2samp(a[k], b[k]).statistic for k in a}
    row["KS max"] = max(row.values())
    return row


def _sets(ss, train, n_cells, seed):
    fitted = ss.pp.estimate_params(train, labels_key=LABELS)
    splat = ss.pp.estimate_params(train)
    return {
        "reference mode, copula": ss.pp.simulate(n_cells, params=fitted, seed=seed),
        "reference mode, independent": ss.pp.simulate(
            n_cells, params=fitted, seed=seed, correlation=False
        ),
        "estimate_params + simulate": ss.pp.simulate(
            n_cells, train.n_vars, params=splat, seed=seed
        ),
        "simulate(reference=)": ss.pp.simulate(n_cells, reference=train, seed=seed),
    }


def profile(seeds):
    import sc_synth as ss

    real = ss.datasets.pbmc68k_counts()
    rows = []
    for seed in seeds:
        held_out, train = _halves(real, seed)
        rows.append({"set": "real half B (ceiling)", "seed": seed, **_ks(held_out.X, train.X)})
        for name, sim in _sets(ss, train, held_out.n_obs, seed).items():
            rows.append({"set": name, "seed": seed, **_ks(held_out.X, sim.X)})
        # the fitted law itself, with little sampling noise of its own
        fitted = ss.pp.estimate_params(train, labels_key=LABELS)
        large = ss.pp.simulate(10 * held_out.n_obs, params=fitted, seed=seed)
        rows.append(
            {"set": "reference mode, copula, 10× cells", "seed": seed, **_ks(held_out.X, large.X)}
        )
    return _spread(pd.DataFrame(rows))


def cells(seeds):
    import sc_synth as ss

    real = ss.datasets.pbmc68k_counts()
    rows = []
    for seed in seeds:
        held_out, train = _halves(real, seed)
        sets = _sets(ss, train, held_out.n_obs, seed)
        labelled = {k: v for k, v in sets.items() if k.startswith("reference mode")}
        table = ss.tl.evaluate(
            real,
            labelled,
            groupby=LABELS,
            metrics=["precision_recall", "classifier_auc", "correlation"],
            seed=seed,
        )
        table = table[table["group"] == "all"]
        for _, row in table.iterrows():
            rows.append(
                {
                    "set": row["synthetic"],
                    "seed": seed,
                    "precision": row["precision"],
                    "recall": row["recall"],
                    "classifier AUC": row["classifier_auc"],
                    "gene-gene corr": row["gene_gene_corr"],
                }
            )
    return _spread(pd.DataFrame(rows))


def known(seeds):
    """Refit reference mode to data drawn from a known copula of its own form.

    The "truth" is reference mode fitted to all pbmc68k cells; data sets of pbmc68k's size and
    of four times its size, with its label shares, are drawn from it per seed, split as the
    real one is, refitted on half B and judged on half A, so that the gap left to each one's
    real-versus-real row is estimation alone, at two numbers of cells.
    """
    import sc_synth as ss

    real = ss.datasets.pbmc68k_counts()
    truth = ss.pp.estimate_params(real, labels_key=LABELS)
    rows = []
    for n_cells in (real.n_obs, 4 * real.n_obs):
        for seed in seeds:
            drawn = ss.pp.simulate(n_cells, params=truth, seed=100 + seed)
            held_out, train = _halves(drawn, seed)
            fitted = ss.pp.estimate_params(train, labels_key=LABELS)
            sim = ss.pp.simulate(held_out.n_obs, params=fitted, seed=seed)
            table = ss.tl.evaluate(
                drawn,
                {"reference mode, refitted": sim},
                groupby=LABELS,
                metrics=["precision_recall", "correlation"],
                seed=seed,
            )
            for _, row in table[table["group"] == "all"].iterrows():
                rows.append(
                    {
                        "set": f"{n_cells:,} cells: {row['synthetic']}",
                        "seed": seed,
                        "precision": row["precision"],
                        "recall": row["recall"],
                        "gene-gene corr": row["gene_gene_corr"],
                    }
                )
    return _spread(pd.DataFrame(rows))


def vae(seeds):
    import sc_synth as ss
    from sc_synth._study import split_halves

    real = ss.datasets.pbmc68k_counts()
    results = Path(__file__).parent / "results"
    columns = {"precision": "precision", "recall": "recall", "gene_gene_corr": "gene-gene corr"}
    rows = []
    for seed in seeds:
        train, held = split_halves(real, [LABELS], seed)
        fitted = ss.pp.estimate_params(train, labels_key=LABELS)
        shares = held.obs[LABELS].astype(str).value_counts(normalize=True)
        probs = [float(shares.get(label, 0.0)) for label in fitted.labels]
        sim = ss.pp.simulate(held.n_obs, params=fitted, group_prob=probs, seed=seed)
        table = ss.tl.evaluate(
            held,
            {"reference mode, copula": sim},
            groupby=LABELS,
            metrics=["precision_recall", "correlation"],
            train=train,
            seed=seed,
            n_repeats=5,
        )
        judged = pd.read_csv(results / f"judge_pbmc_{seed}.csv", index_col=0)
        judged = judged[(judged["group"] == "all") & (judged["synthetic"] == "vae")]
        for frame in (table[table["group"] == "all"], judged):
            for _, row in frame.iterrows():
                values = {name: row[column] for column, name in columns.items()}
                rows.append({"set": row["synthetic"], "seed": seed, **values})
    return _spread(pd.DataFrame(rows))


def _spread(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean ± standard deviation over seeds, sets in first-seen order."""
    grouped = frame.drop(columns="seed").groupby("set", sort=False)
    mean, sd = grouped.mean(), grouped.std().fillna(0.0)
    return mean.round(3).astype(str) + " ± " + sd.round(3).astype(str)


_FIT = """
import resource, sys, time, warnings
import sc_synth as ss
warnings.simplefilter("ignore")
ref = ss.pp.simulate(50_000, 2_000, group_prob=[0.125] * 8, de_prob=0.2, seed=0)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start, cpu = time.perf_counter(), time.process_time()
fitted = ss.pp.estimate_params(ref, labels_key="group")
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
print(wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, base / 2**20, cpu)
"""

_SIMULATE = """
import resource, sys, time, warnings
import numpy as np
import sc_synth as ss
warnings.simplefilter("ignore")
n_cells, out = int(sys.argv[1]), sys.argv[2]
# The Splat model has no gene-gene correlation, so its cells alone would fit no copula factors:
# plant 20 co-expressed modules of 1,000 genes (loading 0.8) per label into its marginals, draw
# the reference through that copula, and fit it again.
splat = ss.pp.simulate(2_000, 20_000, group_prob=[0.25] * 4, de_prob=0.2, lib_loc=8.3, seed=0)
planted = ss.pp.estimate_params(splat, labels_key="group")
rng = np.random.default_rng(0)
n_labels, n_genes, n_factors = planted.factors.shape
for g in range(n_labels):
    module = rng.permutation(n_genes) % n_factors
    planted.factors[g] = 0.8 * (module[:, None] == np.arange(n_factors))
ref = ss.pp.simulate(2_000, params=planted, seed=0)
fitted = ss.pp.estimate_params(ref, labels_key="group")
factors = int((np.abs(fitted.factors).sum(axis=1) > 0).sum())
ss.pp.simulate(64, params=fitted, seed=0)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start, cpu = time.perf_counter(), time.process_time()
adata = ss.pp.simulate(n_cells, params=fitted, seed=0, out=out)
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
nnz = adata.X.group["data"].shape[0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(wall, peak, base / 2**20, nnz, cpu, factors / n_labels)
"""


def _fit():
    fit = subprocess.run(
        [sys.executable, "-c", _FIT], capture_output=True, text=True, check=True
    ).stdout.split()
    return {
        "task": "fit 50,000 cells × 2,000 genes, 8 labels",
        "wall s": float(fit[0]),
        "CPU s": float(fit[3]),
        "peak RSS GB": float(fit[1]),
    }


def _simulate(n_cells: int) -> dict:
    """Simulate in a fresh process under ``/usr/bin/time -v`` (whole-process totals too)."""
    timed = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run(
            [*timed, sys.executable, "-c", _SIMULATE, str(n_cells), f"{tmp}/x.zarr"],
            capture_output=True,
            text=True,
            check=True,
        )
    sim = run.stdout.split()
    row = {
        "task": f"simulate {n_cells:,} cells × 20,000 genes, copula, zarr",
        "wall s": float(sim[0]),
        "CPU s": float(sim[4]),
        "peak RSS GB": float(sim[1]),
        "non-zeros": int(sim[3]),
        "factors per label": float(sim[5]),
    }
    if timed:
        report = dict(
            line.strip().rsplit(": ", 1) for line in run.stderr.splitlines() if ": " in line
        )
        clock = [float(v) for v in report["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")]
        row["process wall s"] = sum(v * 60**i for i, v in enumerate(reversed(clock)))
        row["process CPU s"] = float(report["User time (seconds)"]) + float(
            report["System time (seconds)"]
        )
        row["process peak RSS GB"] = int(report["Maximum resident set size (kbytes)"]) / 2**20
    return row


def speed(n_cells: int, fit: bool = True) -> pd.DataFrame:
    return pd.DataFrame(([_fit()] if fit else []) + [_simulate(n_cells)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "tables", nargs="+", choices=["profile", "cells", "known", "vae", "speed", "simulate"]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--cells", type=int, default=100_000, help="cells of the speed and simulate runs"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for table in args.tables:
        if table in ("speed", "simulate"):
            result = speed(args.cells, fit=table == "speed")
        else:
            result = {"profile": profile, "cells": cells, "known": known, "vae": vae}[table](
                args.seeds
            )
        print(f"\n{table}\n")
        print(result.to_markdown())
    print(json.dumps({"seeds": args.seeds}))


if __name__ == "__main__":
    main()
