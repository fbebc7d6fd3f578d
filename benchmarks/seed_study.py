"""VAE vs vanilla GAN vs WGAN-GP vs flow on several simulated data sets of 2 batches × 2 groups.

Each data set comes from ``ss.pp.simulate`` with its own seed; every generator is trained on one
half of the cells and judged on the other half (``ss.tl.evaluate``). Prints precision and recall
per data set and their mean and spread, and writes ``benchmarks/results/seed_study.csv``.

    python benchmarks/seed_study.py --n-datasets 5
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from sc_synth._study import Settings, run_study, simulated_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-datasets", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="the demo's quick sizes")
    parser.add_argument("--models", nargs="+", default=["vae", "vanilla-gan", "wgan-gp", "flow"])
    args = parser.parse_args()
    settings = Settings.make(args.quick)
    rows = []
    for seed in range(args.n_datasets):
        adata = simulated_data(settings, seed)
        with tempfile.TemporaryDirectory() as out:
            table = run_study(
                adata,
                labels_key="group",
                batch_key="batch",
                models=args.models,
                out=Path(out),
                settings=settings,
                seed=seed,
            )
        overall = table[table["group"] == "all"]
        for name, row in overall.iterrows():
            rows.append(
                {"dataset": seed, "set": name, **row[["precision", "recall", "classifier_auc"]]}
            )
    frame = pd.DataFrame(rows)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    frame.to_csv(results / "seed_study.csv", index=False)
    wide = frame.pivot(index="dataset", columns="set", values=["precision", "recall"])
    print(wide.round(3).to_markdown())
    summary = frame.groupby("set")[["precision", "recall", "classifier_auc"]].agg(["mean", "std"])
    print()
    print(summary.round(3).to_markdown())


if __name__ == "__main__":
    main()
