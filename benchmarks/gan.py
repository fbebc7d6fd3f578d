"""Speed of ``ss.tl.train_gan``: generator steps per second, and time to train on PBMC cells.

Run ``python benchmarks/gan.py`` (add ``--skip-pbmc`` for the step rates only). Step rates are
the median of ``--repeats`` runs on ``make_counts``-like data (1,024 cells × 1,000 genes, 4
labels, 2 batches, minibatches of 128), timed around the whole ``train_gan`` call, on the CPU and,
when CUDA is available, on the GPU. The PBMC timing trains the default model on half of
``ss.datasets.pbmc68k_counts()`` (350 cells, 765 genes) with ``max_epochs=None``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

import sc_synth as ss

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import make_counts


def _train(adata, **kwargs) -> tuple[float, dict]:
    start = time.perf_counter()
    ss.tl.train_gan(adata, enable_progress_bar=False, **kwargs)
    return time.perf_counter() - start, adata.uns["gan"]["plan_params"]


def step_rate(loss: str, accelerator: str, repeats: int, epochs: int) -> float:
    """Median generator steps per second over ``repeats`` trainings."""
    rates = []
    for seed in range(repeats):
        adata = make_counts(n_cells=1024, n_genes=1000, n_labels=4, seed=seed)
        seconds, plan = _train(
            adata,
            labels_key="cell_type",
            batch_key="batch",
            loss=loss,
            max_epochs=epochs,
            accelerator=accelerator,
            devices=1,
            seed=seed,
        )
        rates.append(plan["generator_steps"] / seconds)
    return statistics.median(rates)


def pbmc_training_time() -> tuple[float, dict]:
    """Seconds to train the default WGAN-GP on half of the PBMC cells, and its plan."""
    adata = ss.datasets.pbmc68k_counts()
    half = adata[np.random.default_rng(0).permutation(adata.n_obs)[:350]].copy()
    return _train(half, labels_key="bulk_labels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--skip-pbmc", action="store_true")
    parser.add_argument(
        "--accelerators",
        nargs="+",
        default=["cpu"] + (["gpu"] if torch.cuda.is_available() else []),
        help="where to time the step rates (default: the CPU and, when CUDA is available, the GPU)",
    )
    args = parser.parse_args()

    print(f"torch threads: {torch.get_num_threads()}")
    for accelerator in args.accelerators:
        for loss in ("wgan-gp", "vanilla"):
            rate = step_rate(loss, accelerator, args.repeats, args.epochs)
            print(f"{accelerator} {loss}: {rate:.1f} generator steps/s (median of {args.repeats})")
    if not args.skip_pbmc:
        seconds, plan = pbmc_training_time()
        print(
            f"pbmc68k half (350 cells), default wgan-gp: {seconds:.0f} s for "
            f"{plan['generator_steps']} generator steps"
        )


if __name__ == "__main__":
    main()
