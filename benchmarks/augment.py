"""Does augmenting rare cell types help a downstream classifier? Compared with plain baselines.

For each data set and seed, the cells of every label are split in half (train / test). A logistic
regression on log-normalised counts (``normalize_total`` + ``log1p``) is trained on the training
half, with the rare labels topped up to ``--target`` cells in seven ways:

(a) ``real``: no augmentation;
(b) ``oversample``: rare training cells duplicated at random;
(c) ``smote``: SMOTE-style interpolation between a rare cell and one of its 5 nearest neighbours
    of the same label, in log-normalised space;
(d) ``vae``: ``ss.tl.augment`` with ``ss.tl.train_vae`` trained on the training half;
(e) ``gan``: the same with ``ss.tl.train_gan(loss="wgan-gp")``;
(f) ``flow``: the same with ``ss.tl.train_flow`` (default epochs);
(g) ``simulate``: ``ss.pp.simulate(reference=<the label's training cells>)`` per rare label.

Per-class F1 on the held-out real cells is averaged over seeds (mean ± std). As a check of the
generated cells themselves, "fidelity" is the share of the added cells of each rare label that the
classifier trained on real cells alone (a) assigns to that label.

Run (about 9 minutes on a 2-core CPU, one thread)::

    OMP_NUM_THREADS=1 python benchmarks/augment.py

Markdown tables are printed and written to ``benchmarks/results/augment.md`` (raw numbers in
``augment_f1.csv`` and ``augment_fidelity.csv``).
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.neighbors import NearestNeighbors

import sc_synth as ss

METHODS = ["real", "oversample", "smote", "vae", "gan", "flow", "simulate"]
# A label is rare below this share of the cells: < 30 of 700 PBMCs; the two small groups.
RARE_SHARE = {"pbmc68k": 0.04, "simulated": 0.1}
RESULTS = Path(__file__).parent / "results"


def log_normalise(counts) -> np.ndarray:
    data = AnnData(X=sparse.csr_matrix(counts, dtype=np.float32))
    sc.pp.normalize_total(data, target_sum=1e4)
    sc.pp.log1p(data)
    return data.X.toarray()


def split(labels: pd.Series, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Half of each label's cells for training (rounded up), the rest for testing."""
    train = np.zeros(len(labels), dtype=bool)
    for label in labels.unique():
        where = np.flatnonzero((labels == label).to_numpy())
        train[rng.choice(where, size=(len(where) + 1) // 2, replace=False)] = True
    return train, ~train


def oversample(x, y, deficits, rng):
    picks = [rng.choice(np.flatnonzero(y == label), n) for label, n in deficits.items()]
    picks = np.concatenate(picks)
    return x[picks], y[picks]


def smote(x, y, deficits, rng, k=5):
    new_x, new_y = [], []
    for label, n in deficits.items():
        cells = x[y == label]
        neighbours = NearestNeighbors(n_neighbors=min(k, len(cells) - 1) + 1).fit(cells)
        _, index = neighbours.kneighbors(cells)
        start = rng.integers(len(cells), size=n)
        partner = index[start, rng.integers(1, index.shape[1], size=n)]
        gap = rng.random((n, 1))
        new_x.append(cells[start] + gap * (cells[partner] - cells[start]))
        new_y += [label] * n
    return np.vstack(new_x), np.array(new_y)


def generated(train: AnnData, labels_key: str, method: str, deficits, seed, args):
    """Return counts and labels of the synthetic cells a generator adds to ``train``."""
    if method == "simulate":
        parts, names = [], []
        for label, n in deficits.items():
            reference = train[train.obs[labels_key] == label].copy()
            parts.append(ss.pp.simulate(n, reference=reference, seed=seed).X)
            names += [label] * n
        return sparse.vstack(parts), np.array(names)
    if method == "vae":
        ss.tl.train_vae(
            train,
            labels_key=labels_key,
            max_epochs=args.vae_epochs,
            seed=seed,
            enable_progress_bar=False,
        )
    elif method == "flow":
        ss.tl.train_flow(train, labels_key=labels_key, seed=seed, enable_progress_bar=False)
    else:
        ss.tl.train_gan(
            train,
            labels_key=labels_key,
            loss="wgan-gp",
            max_epochs=args.gan_epochs,
            seed=seed,
            enable_progress_bar=False,
        )
    sizes = train.obs[labels_key].astype(str).value_counts()
    goal = {label: int(sizes[label] + n) for label, n in deficits.items()}
    out = ss.tl.augment(
        train,
        key=method,
        labels_key=labels_key,
        target=goal,
        seed=seed,
    )
    added = out[out.obs["synthetic"].to_numpy()]
    return added.X, added.obs[labels_key].astype(str).to_numpy()


def classifier(x, y, seed):
    return LogisticRegression(max_iter=2000, random_state=seed).fit(x, y)


def run_one(adata, labels_key, rare, seed, args):
    rng = np.random.default_rng(seed)
    labels = adata.obs[labels_key].astype(str)
    train_mask, test_mask = split(labels, rng)
    train = adata[train_mask].copy()
    y_train = labels[train_mask].to_numpy()
    y_test = labels[test_mask].to_numpy()
    x_train = log_normalise(train.X)
    x_test = log_normalise(adata[test_mask].X)
    sizes = pd.Series(y_train).value_counts()
    deficits = {
        label: args.target - int(sizes[label]) for label in rare if sizes[label] < args.target
    }
    classes = sorted(labels.unique())

    f1, fidelity, times = {}, {}, {}
    base = None
    for method in METHODS:
        start = time.perf_counter()
        if method == "real":
            extra_x, extra_y = x_train[:0], y_train[:0]
        elif method == "oversample":
            extra_x, extra_y = oversample(x_train, y_train, deficits, rng)
        elif method == "smote":
            extra_x, extra_y = smote(x_train, y_train, deficits, rng)
        else:
            counts, extra_y = generated(train, labels_key, method, deficits, seed, args)
            extra_x = log_normalise(counts)
            predicted = base.predict(extra_x)
            for label in deficits:
                fidelity[(method, label)] = float(np.mean(predicted[extra_y == label] == label))
        model = classifier(np.vstack([x_train, extra_x]), np.concatenate([y_train, extra_y]), seed)
        if method == "real":
            base = model
        times[method] = time.perf_counter() - start
        scores = f1_score(
            y_test, model.predict(x_test), labels=classes, average=None, zero_division=0
        )
        f1.update({(method, label): score for label, score in zip(classes, scores, strict=True)})
    return f1, fidelity, times


def simulated_data(seed: int) -> AnnData:
    adata = ss.pp.simulate(
        1000,
        1000,
        group_prob=[0.45, 0.45, 0.07, 0.03],
        de_prob=0.2,
        de_fac_loc=0.2,
        lib_loc=7.0,
        seed=seed,
    )
    adata.obs["group"] = adata.obs["group"].astype(str)
    return adata


def table(frame: pd.DataFrame, rare: list[str]) -> str:
    """Markdown table: rows labels (rare first) plus rare/common macro F1, columns methods."""
    mean = frame.groupby(["method", "label"])["f1"].mean().unstack("method")[METHODS]
    std = frame.groupby(["method", "label"])["f1"].std().unstack("method")[METHODS]
    macro = frame.assign(kind=np.where(frame["label"].isin(rare), "rare", "common"))
    macro = macro.groupby(["kind", "method", "seed"])["f1"].mean().groupby(["kind", "method"])
    sizes = frame.drop_duplicates("label").set_index("label")["n_cells"]
    common = [label for label in mean.index if label not in rare]
    rows = [
        (f"{label} ({sizes[label]})", mean.loc[label], std.loc[label])
        for label in rare + sorted(common, key=lambda la: sizes[la])
    ]
    rows += [
        (f"**{kind} (macro)**", macro.mean()[kind], macro.std()[kind])
        for kind in ("rare", "common")
    ]
    lines = ["| label (cells) | " + " | ".join(METHODS) + " |", "|---" * (len(METHODS) + 1) + "|"]
    for name, m, s in rows:
        cells = [f"{m[method]:.2f} ± {s[method]:.2f}" for method in METHODS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fidelity_table(frame: pd.DataFrame) -> str:
    grouped = frame.groupby(["label", "method"])["fidelity"]
    mean, std = grouped.mean().unstack("method"), grouped.std().unstack("method")
    methods = [m for m in METHODS if m in mean.columns]
    lines = ["| label | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for label in mean.index:
        cells = [f"{mean.loc[label, m]:.2f} ± {std.loc[label, m]:.2f}" for m in methods]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--target", type=int, default=50, help="cells per rare label after")
    parser.add_argument("--vae-epochs", type=int, default=100)
    parser.add_argument("--gan-epochs", type=int, default=200)
    parser.add_argument("--datasets", nargs="+", default=["pbmc68k", "simulated"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("scvi").setLevel(logging.ERROR)
    RESULTS.mkdir(exist_ok=True)

    f1_rows, fidelity_rows, report = [], [], []
    for name in args.datasets:
        for seed in range(args.seeds):
            if name == "pbmc68k":
                adata, labels_key = ss.datasets.pbmc68k_counts(), "bulk_labels"
            else:
                adata, labels_key = simulated_data(seed), "group"
            sizes = adata.obs[labels_key].astype(str).value_counts()
            share = RARE_SHARE[name]
            rare = sorted(sizes.index[sizes < share * adata.n_obs], key=lambda la: sizes[la])
            start = time.perf_counter()
            f1, fidelity, times = run_one(adata, labels_key, rare, seed, args)
            print(
                f"{name} seed {seed}: {time.perf_counter() - start:.0f} s "
                + ", ".join(f"{m} {t:.0f} s" for m, t in times.items()),
                flush=True,
            )
            f1_rows += [
                {"dataset": name, "seed": seed, "method": m, "label": la, "f1": v,
                 "n_cells": int(sizes[la])}
                for (m, la), v in f1.items()
            ]  # fmt: skip
            fidelity_rows += [
                {"dataset": name, "seed": seed, "method": m, "label": la, "fidelity": v}
                for (m, la), v in fidelity.items()
            ]
        frame = pd.DataFrame([r for r in f1_rows if r["dataset"] == name])
        fid = pd.DataFrame([r for r in fidelity_rows if r["dataset"] == name])
        report += [
            f"## {name}: F1 on held-out real cells (mean ± std over {args.seeds} seeds)",
            "",
            f"Rare labels (< {RARE_SHARE[name]:.0%} of cells) topped up to {args.target} training cells.",
            "",
            table(frame, rare),
            "",
            f"## {name}: fidelity of the added cells (share the real-only classifier gives their label)",
            "",
            fidelity_table(fid),
            "",
        ]
    text = "\n".join(report)
    print(text)
    (RESULTS / "augment.md").write_text(text + "\n")
    pd.DataFrame(f1_rows).to_csv(RESULTS / "augment_f1.csv", index=False)
    pd.DataFrame(fidelity_rows).to_csv(RESULTS / "augment_fidelity.csv", index=False)


if __name__ == "__main__":
    main()
