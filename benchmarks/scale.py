"""How training, records, generation and quality of the generators scale with the cell count.

For each cell count, ``ss.pp.simulate`` draws that many training cells plus ``--held-out``
more (2,000 genes, six labels of which two are rare, three batches); the held-out cells are
drawn at random within labels. Both sets are written to ``.h5ad`` files once; each kind then
reads them and trains with the package's defaults (``--max-epochs`` overrides them) in a process
of its own, so that its peak resident memory (RSS) is its own, and generates the held-out
composition; ``ss.tl.evaluate`` scores it against the held-out cells beside the real-vs-real
reference. Printed per cell count and kind: the load average over training, training wall and
CPU time, RSS once the data are read, the peak while reading and the peak in training (the
count matrix's size is printed beside it), record size (bytes of the record alone written to
``.h5ad``), precision, recall and classifier AUC on all cells, and generation speed.

    python benchmarks/scale.py                                   # 10,000 50,000 200,000 cells
    python benchmarks/scale.py --cells 10000 --kinds vae gan

With ``--write N ...``, a VAE trained for ``--max-epochs`` (default 5) on the first of
``--cells`` writes ``N`` generated cells with ``ss.tl.generate(out=...)`` instead, each count in a
process of its own that reports its time and peak RSS:

    python benchmarks/scale.py --cells 3000 --write 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import anndata as ad
import numpy as np
import pandas as pd

COLUMNS = ["precision", "recall", "classifier_auc"]
LABEL_SHARES = [0.35, 0.25, 0.2, 0.15, 0.04, 0.01]
N_BATCHES = 3


def simulate(n_cells: int, n_held_out: int, n_genes: int, seed: int):
    """Training and held-out cells of one simulated data set."""
    import sc_synth as ss

    total = n_cells + n_held_out
    sizes = [total // N_BATCHES] * N_BATCHES
    sizes[0] += total - sum(sizes)
    adata = ss.pp.simulate(
        n_cells=total, n_genes=n_genes, batch_cells=sizes, group_prob=LABEL_SHARES, seed=seed
    )
    rng = np.random.default_rng(seed)
    # Held-out cells in the labels' proportions, at least one of each label.
    held = np.zeros(total, dtype=bool)
    for _, rows in adata.obs.groupby("group", observed=True).indices.items():
        n = max(1, round(n_held_out * len(rows) / total))
        held[rng.choice(rows, size=n, replace=False)] = True
    return adata[~held].copy(), adata[held].copy()


def rss_mb() -> int:
    """Resident memory of this process now, in MiB."""
    with open("/proc/self/statm") as statm:
        return round(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20)


def peak_rss_mb() -> int:
    """Peak resident memory of this process since it started or :func:`reset_peak`, in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 2**10)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10)


def reset_peak() -> None:
    """Restart the peak of :func:`peak_rss_mb` at the current RSS (Linux 4.0 and later)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def write_data(n_cells: int, args, folder: str) -> None:
    """Simulate one data set and write its training and held-out cells to ``folder``."""
    train, test = simulate(n_cells, args.held_out, args.genes, args.seed)
    train.write_h5ad(os.path.join(folder, "train.h5ad"))
    test.write_h5ad(os.path.join(folder, "test.h5ad"))


def record_bytes(record: dict) -> int:
    """Size of the record alone in an ``.h5ad`` file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "record.h5ad")
        ad.AnnData(uns={"record": record}).write_h5ad(path)
        return os.path.getsize(path)


def run_one(kind: str, folder: str, args) -> dict:
    """Train, record, generate and score one kind on the data in ``folder`` (in this process)."""
    # Imported before the data are read, so that the RSS then counts libraries and data alone.
    import scvi  # noqa: F401

    import sc_synth as ss

    start = time.perf_counter()
    train = ad.read_h5ad(os.path.join(folder, "train.h5ad"))
    test = ad.read_h5ad(os.path.join(folder, "test.h5ad"))
    load_s = time.perf_counter() - start
    rss_loaded, peak_read = rss_mb(), peak_rss_mb()
    # From here on, the peak is training's: reading the file may peak higher than it holds.
    reset_peak()
    matrix_bytes = train.X.data.nbytes + train.X.indices.nbytes + train.X.indptr.nbytes
    options = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    trainer = {"vae": ss.tl.train_vae, "gan": ss.tl.train_gan, "flow": ss.tl.train_flow}[kind]
    load_before = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    trainer(train, labels_key="group", batch_key="batch", seed=args.seed, **options)
    train_s, train_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    load_after = os.getloadavg()[0]
    peak = peak_rss_mb()
    record = train.uns[kind]
    groups = {
        (label, batch): int(n)
        for (label, batch), n in test.obs.groupby(["group", "batch"], observed=True).size().items()
        if n > 0
    }
    start = time.perf_counter()
    synthetic = ss.tl.generate(train, kind, groups=groups, seed=args.seed)
    generate_s = time.perf_counter() - start
    table = ss.tl.evaluate(
        test,
        {kind: synthetic},
        groupby="group",
        batch_key="batch",
        train=train,
        metrics=["precision_recall", "classifier_auc"],
        seed=args.seed,
    )
    table = table[table["group"] == "all"][COLUMNS]
    return {
        "cells": train.n_obs,
        "kind": kind,
        "epochs": len(next(iter(record["history"].values()), [])),
        "load (1 min)": f"{load_before:.1f}–{load_after:.1f}",
        "read_s": round(load_s, 1),
        "train_s": round(train_s, 1),
        "train_cpu_s": round(train_cpu_s, 1),
        "rss_loaded_mb": rss_loaded,
        "peak_read_mb": peak_read,
        "peak_train_mb": peak,
        "counts_mb": round(matrix_bytes / 2**20, 1),
        "record_bytes": record_bytes(record),
        "generate_cells_per_s": round(synthetic.n_obs / generate_s),
        "scores": {row: table.loc[row].round(3).to_dict() for row in table.index},
    }


def write_one(record_path: str, n_cells: int) -> dict:
    """Generate ``n_cells`` from the record at ``record_path`` into a zarr store (in this process)."""
    import sc_synth as ss

    holder = ad.read_h5ad(record_path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = ss.tl.generate(holder, "vae", n_cells=n_cells, out=os.path.join(tmp, "cells.zarr"))
        seconds = time.perf_counter() - start
        nnz = out.X.group["data"].shape[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "cells written": n_cells,
        "non-zeros": nnz,
        "seconds": round(seconds),
        "cells/s": round(n_cells / seconds),
        "peak_rss_mb": round(peak / 2**20),
        "rss_before_mb": round(before / 2**20),
        "csr_in_memory_mb": round(nnz * 8 / 2**20),
    }


def write(args) -> None:
    """Train a VAE briefly, then write each of ``args.write`` cell counts out of core."""
    import sc_synth as ss

    train, _ = simulate(args.cells[0], 0, args.genes, args.seed)
    ss.tl.train_vae(train, labels_key="group", batch_key="batch", max_epochs=args.max_epochs or 5)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        record_path = os.path.join(tmp, "record.h5ad")
        ad.AnnData(uns={"vae": train.uns["vae"]}).write_h5ad(record_path)
        for n_cells in args.write:
            command = [sys.executable, __file__, "--write-one", record_path, str(n_cells)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(pd.DataFrame([rows[-1]]).to_markdown(index=False), flush=True)
    print(pd.DataFrame(rows).to_markdown(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--kinds", nargs="+", default=["vae", "gan", "flow"])
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--held-out", type=int, default=4000)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", type=int, nargs="+", default=None)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--data", nargs=2, metavar=("CELLS", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--write-one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args)))
        return
    if args.data:
        write_data(int(args.data[0]), args, args.data[1])
        return
    if args.write_one:
        print(json.dumps(write_one(args.write_one[0], int(args.write_one[1]))))
        return
    if args.write:
        print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
        write(args)
        return

    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    rows, others = [], {}
    common = ["--genes", str(args.genes), "--held-out", str(args.held_out)]
    common += ["--seed", str(args.seed)]
    if args.max_epochs is not None:
        common += ["--max-epochs", str(args.max_epochs)]
    for n_cells in args.cells:
        with tempfile.TemporaryDirectory() as folder:
            command = [sys.executable, __file__, "--data", str(n_cells), folder, *common]
            subprocess.run(command, check=True)
            for kind in args.kinds:
                command = [sys.executable, __file__, "--one", kind, folder, *common]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                scores = result.pop("scores")
                for row, values in scores.items():
                    if row == kind:
                        rows.append({**result, **values})
                    else:
                        # the real-vs-real reference and the baseline, alike for every kind
                        others[n_cells, row] = {"cells": n_cells, "kind": row, **values}
                print(pd.DataFrame([rows[-1]]).to_markdown(index=False), flush=True)
    table = pd.DataFrame(rows + list(others.values()))
    print(table.sort_values(["cells"], kind="stable").to_markdown(index=False))


if __name__ == "__main__":
    main()
