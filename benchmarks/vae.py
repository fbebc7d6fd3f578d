"""VAE training throughput against scvi-tools' SCVI on the same data, and generation speed.

Both models train for the same epochs with the same sizes (n_hidden 128, n_latent 10, one layer,
batch size 128) on simulated counts, in alternation; generation draws 100,000 cells from the
trained record. Median of ``--repeats`` runs; prints a Markdown table.

    python benchmarks/vae.py --n-cells 5000 --n-genes 2000 --epochs 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import scvi

import sc_synth as ss


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cells", type=int, default=5000)
    parser.add_argument("--n-genes", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--generate", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    adata = ss.pp.simulate(
        args.n_cells, args.n_genes, batch_cells=[args.n_cells // 2, args.n_cells - args.n_cells // 2],
        group_prob=[0.5, 0.3, 0.2], lib_loc=8.3,
    )  # fmt: skip
    quiet = {"enable_progress_bar": False}

    def ours():
        ss.tl.train_vae(
            adata, labels_key="group", batch_key="batch", max_epochs=args.epochs, **quiet
        )

    def reference():
        copy = adata.copy()
        scvi.model.SCVI.setup_anndata(copy, batch_key="batch", labels_key="group")
        scvi.model.SCVI(copy, dispersion="gene-label").train(max_epochs=args.epochs, **quiet)

    # Alternate the two, so that a change in the machine's load touches both alike.
    times = {"sc_synth train_vae": [], "scvi.model.SCVI": []}
    for _ in range(args.repeats):
        times["sc_synth train_vae"].append(_time(ours))
        times["scvi.model.SCVI"].append(_time(reference))
    rows = []
    for name, runs in times.items():
        seconds = float(np.median(runs))
        rows.append(
            {"what": name, "seconds": seconds, "cells/s": args.n_cells * args.epochs / seconds}
        )
    seconds = float(
        np.median(
            [
                _time(lambda: ss.tl.generate(adata, "vae", n_cells=args.generate))
                for _ in range(args.repeats)
            ]
        )
    )
    rows.append(
        {
            "what": f"generate {args.generate:,} cells",
            "seconds": seconds,
            "cells/s": args.generate / seconds,
        }
    )
    print(
        f"{args.n_cells} cells × {args.n_genes} genes, {args.epochs} epochs, median of {args.repeats}"
    )
    print(pd.DataFrame(rows).round(2).to_markdown(index=False))


if __name__ == "__main__":
    main()
