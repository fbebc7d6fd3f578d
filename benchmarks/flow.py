"""The flow-matching generator: held-out quality beside the VAE, ODE steps, speed, batch transfer.

Sections (``--part``):

``quality``
    pbmc68k split in halves within each label; VAE and flow (default settings) trained on one half
    per seed, asked for the other half's composition and judged against it with
    ``ss.tl.evaluate(..., groupby="bulk_labels", train=train_half)``. Prints mean ± sd over the
    seeds of the ``"all"`` rows: precision, recall, classifier AUC, DCR ratio, DE slope and
    gene-gene correlation, beside the real (reference) row.
``steps``
    One flow per seed (pbmc, as above): the same metrics for 1 to 16 midpoint steps and guidance
    1, 1.5 and 2 (the record is sampled again, not retrained).
``speed``
    ``ss.pp.simulate`` 10,000 cells × 2,000 genes (2 batches × 4 groups), a flow trained briefly,
    then cells per second of ``ss.tl.generate`` (20,000 cells, including decoding and the count
    draw) on the CPU with 1 to 8 midpoint steps: median wall and CPU time of three runs, and the
    integration's share (one draw unit of 8,388 cells).
``transfer``
    Simulated 2 batches × 3 groups with the Group2 × Batch2 cells held out: the flow generates
    that pair (with 1, 2, 4 and 8 midpoint steps), judged against its true cells, beside the same
    label's real cells of the other batch.

    python benchmarks/flow.py --part quality --seeds 0 1 2
    python benchmarks/flow.py --part steps --seeds 0
    python benchmarks/flow.py --part speed
    python benchmarks/flow.py --part transfer --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

import sc_synth as ss
from sc_synth._study import split_halves
from sc_synth._threads import torch_threads
from sc_synth.models._sampler import load_sampler

METRICS = ["precision", "recall", "classifier_auc", "dcr_ratio", "de_slope", "gene_gene_corr"]
FAMILIES = ["precision_recall", "classifier_auc", "privacy", "de", "correlation"]
# Midpoint steps the unseen pair is sampled with (the same trained flow each time).
TRANSFER_STEPS = (1, 2, 4, 8)


def pbmc_split(seed: int):
    adata = ss.datasets.pbmc68k_counts()
    train, test = split_halves(adata, ["bulk_labels"], seed)
    groups = {k: int(n) for k, n in test.obs["bulk_labels"].value_counts().items() if n > 0}
    return train, test, groups


def judged(test, synthetic, train, seed) -> pd.DataFrame:
    table = ss.tl.evaluate(
        test, synthetic, groupby="bulk_labels", metrics=FAMILIES, train=train, seed=seed
    )
    return table[table["group"] == "all"][METRICS]


def summary(rows: pd.DataFrame, by: list[str], columns: list[str] = METRICS) -> pd.DataFrame:
    grouped = rows.groupby(by, sort=False)[columns]
    mean, sd = grouped.mean(), grouped.std()
    return mean.round(3).astype(str) + " ± " + sd.round(3).astype(str)


def quality(seeds: list[int]) -> None:
    rows = []
    for seed in seeds:
        train, test, groups = pbmc_split(seed)
        clock = time.perf_counter()
        ss.tl.train_vae(train, labels_key="bulk_labels", seed=seed)
        vae_s = time.perf_counter() - clock
        clock = time.perf_counter()
        ss.tl.train_flow(train, labels_key="bulk_labels", seed=seed)
        flow_s = time.perf_counter() - clock
        synthetic = {
            kind: ss.tl.generate(train, kind, groups=groups, seed=seed) for kind in ("vae", "flow")
        }
        table = judged(test, synthetic, train, seed)
        print(f"seed {seed}: training VAE {vae_s:.0f} s, flow {flow_s:.0f} s")
        print(table.round(3).to_markdown())
        rows.append(table.assign(seed=seed).rename_axis("model").reset_index())
    print(f"\n### pbmc68k, {len(seeds)} seeds (mean ± sd)")
    print(summary(pd.concat(rows), ["model"]).to_markdown())


def steps(seeds: list[int]) -> None:
    rows = []
    for seed in seeds:
        train, test, groups = pbmc_split(seed)
        ss.tl.train_flow(train, labels_key="bulk_labels", seed=seed)
        synthetic = {
            f"steps {n}, guidance {g}": ss.tl.generate(
                train, "flow", groups=groups, seed=seed, n_steps=n, guidance=g
            )
            for n, g in [(1, 1.0), (2, 1.0), (4, 1.0), (8, 1.0), (16, 1.0), (8, 1.5), (8, 2.0)]
        }
        table = judged(test, synthetic, train, seed)
        rows.append(table.assign(seed=seed).rename_axis("model").reset_index())
    print(f"\n### pbmc68k flow, sampling settings, {len(seeds)} seed(s) (mean ± sd)")
    print(summary(pd.concat(rows), ["model"]).to_markdown())


def speed(repeats: int = 3) -> None:
    adata = ss.pp.simulate(
        n_cells=10_000, n_genes=2_000, batch_cells=[5_000, 5_000], group_prob=[0.4, 0.3, 0.2, 0.1]
    )
    # Sampling time does not depend on how long the networks trained: a short run suffices.
    ss.tl.train_flow(
        adata, labels_key="group", batch_key="batch", autoencoder_epochs=5, max_epochs=5
    )
    ss.tl.generate(adata, "flow", n_cells=1_000)  # loads the compiled count sampler
    model = load_sampler(adata.uns["flow"])
    rng = np.random.default_rng(0)
    label, batch = rng.integers(4, size=8_388), rng.integers(2, size=8_388)
    rows = []
    for n_steps in (1, 2, 4, 8):
        wall, cpu, ode = [], [], []
        for _ in range(repeats):
            clock, process = time.perf_counter(), time.process_time()
            out = ss.tl.generate(adata, "flow", n_cells=20_000, n_steps=n_steps, seed=1)
            wall.append(time.perf_counter() - clock)
            cpu.append(time.process_time() - process)
            model.n_steps, clock = n_steps, time.perf_counter()
            with torch_threads():
                model.codes(label, batch, rng)
            ode.append(time.perf_counter() - clock)
        rows.append(
            {
                "midpoint steps": n_steps,
                "cells/s": round(out.n_obs / np.median(wall)),
                "wall s": round(np.median(wall), 2),
                "CPU s": round(np.median(cpu), 2),
                "of it ODE s (8,388 cells)": round(np.median(ode), 2),
            }
        )
    print(f"\n### speed: generate 20,000 cells × 2,000 genes on the CPU (median of {repeats})")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(pd.DataFrame(rows).to_markdown(index=False))


def transfer(seeds: list[int]) -> None:
    rows = []
    for seed in seeds:
        sim = ss.pp.simulate(
            n_cells=1800, n_genes=200, batch_cells=[900, 900], group_prob=[1 / 3] * 3, seed=seed
        )
        hold = ((sim.obs["group"] == "Group2") & (sim.obs["batch"] == "Batch2")).to_numpy()
        train, test = sim[~hold].copy(), sim[hold].copy()
        ss.tl.train_flow(train, labels_key="group", batch_key="batch", seed=seed)
        pair = {("Group2", "Batch2"): int(hold.sum())}
        made = {
            f"flow (unseen pair), {n} step{'s' * (n > 1)}": ss.tl.generate(
                train, "flow", groups=pair, seed=seed, n_steps=n
            )
            for n in TRANSFER_STEPS
        }
        other_batch = train[(train.obs["group"] == "Group2").to_numpy()].copy()
        table = ss.tl.evaluate(
            test,
            {**made, "same label, other batch (real)": other_batch},
            metrics=["precision_recall", "classifier_auc"],
            seed=seed,
        )
        rows.append(table.assign(seed=seed).rename_axis("model").reset_index())
    print(f"\n### unseen Group2 × Batch2, {len(seeds)} simulated sets (mean ± sd)")
    columns = ["precision", "recall", "classifier_auc"]
    print(summary(pd.concat(rows), ["model"], columns).to_markdown())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["quality", "steps", "speed", "transfer"], required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    if args.part == "speed":
        speed()
    else:
        {"quality": quality, "steps": steps, "transfer": transfer}[args.part](args.seeds)


if __name__ == "__main__":
    main()
