"""What capping the VAE's latent prior (``max_prior_codes``) costs on held-out PBMC cells.

For each training seed, ``ss.datasets.pbmc68k_counts()`` is split in halves within every label
(as ``benchmarks/quality.py`` does), one VAE is trained on one half, and it is calibrated again
with the latent prior capped at each number of codes per label before it generates the other
half's composition; ``ss.tl.evaluate`` compares each set with the held-out half, beside the
real-vs-real reference. The cap acts after training only (:meth:`~sc_synth.models.VAEGenerator.calibrate`), so one
training serves every cap.

    python benchmarks/prior_codes.py                       # seeds 0 1 2, caps 2000 50 20 5
    python benchmarks/prior_codes.py --seeds 0 --caps 2000 10
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd
import scvi

import sc_synth as ss
from sc_synth._study import split_halves

COLUMNS = ["precision", "recall", "classifier_auc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--caps", type=int, nargs="+", default=[2000, 50, 20, 5])
    parser.add_argument("--epochs", type=int, default=400)
    args = parser.parse_args()
    adata, labels_key = ss.datasets.pbmc68k_counts(), "bulk_labels"
    print(f"pbmc68k: {adata.n_obs} cells x {adata.n_vars} genes; load {os.getloadavg()[0]:.2f}")
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        train, test = split_halves(adata, [labels_key], seed)
        groups = {k: int(n) for k, n in test.obs[labels_key].value_counts().items() if n > 0}
        largest = int(train.obs[labels_key].value_counts().max())
        scvi.settings.seed = seed
        ss.models.VAEGenerator.setup_anndata(train, labels_key=labels_key)
        model = ss.models.VAEGenerator(train)
        model.train(max_epochs=args.epochs)
        synthetic = {}
        for cap in args.caps:
            model.max_prior_codes = cap
            model.calibrate(seed=seed)
            train.uns[f"cap {cap}"] = model.to_uns()
            synthetic[f"cap {cap}"] = ss.tl.generate(train, f"cap {cap}", groups=groups, seed=seed)
        table = ss.tl.evaluate(test, synthetic, groupby=labels_key, train=train, seed=seed)
        table = table[table["group"] == "all"][COLUMNS].assign(seed=seed)
        rows.append(table)
        print(
            f"seed {seed}: largest label {largest} training cells, {time.perf_counter() - start:.0f} s"
        )
        print(table.round(3).to_markdown())
    both = pd.concat(rows)
    summary = both.groupby(level=0, sort=False)[COLUMNS].agg(["mean", "std"])
    print(summary.round(3).to_markdown())


if __name__ == "__main__":
    main()
