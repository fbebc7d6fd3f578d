"""Quality of the generators on held-out cells, with the real-vs-real and baseline rows.

Each data set is split in halves within every label (and batch); a generator is trained on one
half and asked for the other half's composition, and ``ss.tl.evaluate`` compares its cells with
the held-out half. Prints one Markdown table per data set and writes the full tables to
``benchmarks/results/quality_<data>.csv``.

    python benchmarks/quality.py                       # both data sets, VAE, both GANs, flow
    python benchmarks/quality.py --data pbmc --models vae
    python benchmarks/quality.py --data simulated --n-cells 4000   # a larger simulated set
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import sc_synth as ss
from sc_synth._study import Settings, run_study

COLUMNS = ["n_cells", "precision", "recall", "density", "coverage", "classifier_auc", "mmd"]


def datasets(names: list[str], lib_loc: float, n_cells: int):
    if "pbmc" in names:
        yield "pbmc", ss.datasets.pbmc68k_counts(), "bulk_labels", None
    if "simulated" in names:
        # Droplet-like depth (about 4,000 counts per cell); ``--lib-loc 11`` is Splat's default.
        adata = ss.pp.simulate(
            n_cells=n_cells,
            n_genes=1000,
            batch_cells=[n_cells // 2, n_cells - n_cells // 2],
            group_prob=[0.4, 0.3, 0.2, 0.1],
            lib_loc=lib_loc,
        )
        yield "simulated", adata, "group", "batch"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["pbmc", "simulated"])
    parser.add_argument("--models", nargs="+", default=["vae", "wgan-gp", "vanilla-gan", "flow"])
    parser.add_argument("--vae-epochs", type=int, default=400)
    parser.add_argument("--gan-epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--lib-loc", type=float, default=8.3, help="log library size, simulated set"
    )
    parser.add_argument("--n-cells", type=int, default=1000, help="cells of the simulated set")
    args = parser.parse_args()
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    settings = Settings(vae_epochs=args.vae_epochs, gan_epochs=args.gan_epochs)
    for name, adata, labels_key, batch_key in datasets(args.data, args.lib_loc, args.n_cells):
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            table = run_study(
                adata,
                labels_key=labels_key,
                batch_key=batch_key,
                models=args.models,
                out=Path(out),
                settings=settings,
                seed=args.seed,
            )
        table.to_csv(results / f"quality_{name}.csv")
        overall = table[table["group"] == "all"][[c for c in COLUMNS if c in table]]
        print(f"\n### {name}: {adata.n_obs} cells × {adata.n_vars} genes, labels `{labels_key}`")
        print(overall.round(3).to_markdown())
        print(f"(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
