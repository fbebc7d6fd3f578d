"""Speed and peak memory of ``sc_synth.pp.simulate``: one fresh process per run.

Prints, per size, the median over runs of wall time, cells per second, CPU time, the peak
resident memory of the process and that peak less the memory after ``import sc_synth`` and a
first small simulation. Each run first simulates 64
cells × 100 genes, untimed in the table but shown as "start s": it carries the one-off cost of a
process's first simulation (numba's start-up and loading the compiled sampler from its cache,
or compiling it on the very first run).

Usage::

    python benchmarks/simulate.py              # the table in docs/simulate.md
    python benchmarks/simulate.py --repeats 1 --quick
    python benchmarks/simulate.py --repeats 1 --million   # 1,000,000 × 20,000 out of core
    python benchmarks/simulate.py --repeats 1 --design    # a sample design against groups alone

"zarr" runs write to a store with dask's default (threaded) scheduler; "cluster" runs do the
same on a ``dask.distributed`` cluster of one single-threaded worker process per core, started
before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

# (cells, genes, extra keyword arguments, mode: "memory", "zarr" or "cluster")
SIZES = [
    (1_000, 2_000, {}, "memory"),
    (10_000, 2_000, {}, "memory"),
    (100_000, 2_000, {}, "memory"),
    (2_000, 10_000, {}, "memory"),
    (10_000, 20_000, {}, "memory"),
    (20_000, 20_000, {"lib_loc": 8.3}, "zarr"),
    (100_000, 20_000, {"lib_loc": 8.3}, "zarr"),
    (100_000, 20_000, {"lib_loc": 8.3}, "cluster"),
]
QUICK = SIZES[:2] + SIZES[3:4]
# out of core at realistic depth: about 1.7 billion non-zero counts, some 4 GB of zarr on disk
MILLION = [(1_000_000, 20_000, {"lib_loc": 8.3}, "zarr")]
# 8 cell types in 2 batches, without and with 10 donors in each of 2 conditions (the sample
# design's extra cost: per-sample compositions, and profiles per batch, sample and type)
_TYPES = {"lib_loc": 8.3, "batch_cells": [100_000, 100_000], "group_prob": [0.125] * 8}
DESIGN = [
    (200_000, 10_000, _TYPES, "zarr"),
    (200_000, 10_000, _TYPES | {"n_samples": 20, "condition_prob": [0.5, 0.5]}, "zarr"),
]

_RUN = """
import json, os, resource, sys, time
import sc_synth as ss
n_cells, n_genes, kwargs, out, mode = json.loads(sys.argv[1])
if mode == "cluster":
    from distributed import Client, LocalCluster
    client = Client(LocalCluster(n_workers=os.cpu_count(), threads_per_worker=1))
start = time.perf_counter()
ss.pp.simulate(64, 100, seed=0)
start = time.perf_counter() - start
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
wall, cpu = time.perf_counter(), time.process_time()
adata = ss.pp.simulate(n_cells, n_genes, seed=0, out=out, **kwargs)
nnz = adata.X.nnz if out is None else adata.X.group["data"].shape[0]
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"wall": wall, "cpu": cpu, "peak": peak / 2**20, "own": (peak - base) / 2**20, "nnz": nnz, "start": start}))
"""


def run_once(n_cells: int, n_genes: int, kwargs: dict, mode: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = None if mode == "memory" else os.path.join(tmp, "sim.zarr")
        args = json.dumps([n_cells, n_genes, kwargs, out, mode])
        result = subprocess.run(
            [sys.executable, "-c", _RUN, args], capture_output=True, text=True, check=True
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument(
        "--million", action="store_true", help="only 1,000,000 cells × 20,000 genes to zarr"
    )
    parser.add_argument(
        "--design", action="store_true", help="only a sample design against groups alone"
    )
    args = parser.parse_args()
    sizes = DESIGN if args.design else MILLION if args.million else QUICK if args.quick else SIZES
    print(f"CPU cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}")
    header = (
        f"{'cells':>8} {'genes':>6} {'mode':>7} {'nnz':>12} {'wall s':>7} {'cells/s':>9} "
        f"{'CPU s':>7} {'peak GB':>8} {'own GB':>7} {'start s':>7}"
    )
    print(header)
    print("-" * len(header))
    per_entry = []
    for n_cells, n_genes, kwargs, mode in sizes:
        runs = [run_once(n_cells, n_genes, kwargs, mode) for _ in range(args.repeats)]
        wall = statistics.median(r["wall"] for r in runs)
        per_entry.append(wall / (n_cells * n_genes))
        print(
            f"{n_cells:>8} {n_genes:>6} {mode:>7} {runs[0]['nnz']:>12} "
            f"{wall:>7.2f} {n_cells / wall:>9.0f} {statistics.median(r['cpu'] for r in runs):>7.2f} "
            f"{statistics.median(r['peak'] for r in runs):>8.2f} "
            f"{statistics.median(r['own'] for r in runs):>7.2f} "
            f"{statistics.median(r['start'] for r in runs):>7.2f}",
            flush=True,
        )
    if args.design:
        print(
            f"ns per entry: groups {per_entry[0] * 1e9:.2f}, design {per_entry[1] * 1e9:.2f}; "
            f"ratio design / groups {per_entry[1] / per_entry[0]:.2f}"
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
