"""Public evaluation of synthetic cells against real cells."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scipy import sparse

from .._threads import keeps_torch_threads
from . import _metrics
from ._baseline import nb_per_label
from ._inputs import as_sets, counts_of, labels_of, shared_genes
from ._neighbors import prdc

METRICS = (
    "precision_recall",
    "density_coverage",
    "classifier_auc",
    "mmd",
    "gene_stats",
    "memorization",
)
REFERENCE = "real (reference)"
BASELINE = "baseline (NB per label)"
ALL = "all"
_COLUMNS = {
    "precision_recall": ["precision", "recall"],
    "density_coverage": ["density", "coverage"],
    "classifier_auc": ["classifier_auc"],
    "mmd": ["mmd"],
    "gene_stats": ["gene_mean_corr", "gene_var_corr", "gene_zero_frac_corr", "library_size_ks"],
    "memorization": ["dcr_ratio", "copy_fraction"],
}


@keeps_torch_threads
def evaluate(
    real: AnnData,
    synthetic: AnnData | Mapping[str, AnnData],
    *,
    groupby: str | None = None,
    metrics: str | Sequence[str] | None = None,
    k: int = 5,
    n_pcs: int = 30,
    seed: int = 0,
    key_added: str = "evaluation",
) -> pd.DataFrame:
    """Judge how real synthetic cells are.

    The real cells are shuffled with ``seed`` and split into two halves, A and B. Every synthetic
    set is compared with half A, after both are subsampled (with ``seed``) to the same number of
    cells. Two more rows frame the numbers: ``"real (reference)"`` compares half A with half B
    (the ceiling: what a perfect generator reaches on this data) and, with ``groupby``,
    ``"baseline (NB per label)"`` compares half A with cells drawn from independent negative
    binomials per label fitted on half B (the floor a learned generator must clear).

    Each comparison has its own shared space: counts scaled to 10,000 per cell, ``log1p``, and a
    PCA fitted on the two compared sets *together*, each cell once (cells a PCA was fitted on
    spread wider along its PCs than cells projected into it, so fitting on one side alone, or on
    more cells of one side, makes the other side look synthetic). The remaining real cells are
    projected, for the memorisation distances. Genes are matched by name.

    Parameters
    ----------
    real
        Real cells, raw counts in ``X``.
    synthetic
        Synthetic cells (raw counts in ``X``), or several sets as ``{name: AnnData}``. A single
        AnnData is named ``"synthetic"``.
    groupby
        Column of ``obs`` (in ``real`` and every synthetic set) with cell labels: adds one row
        per label and the baseline row.
    metrics
        Metric families to compute; ``None`` for all:

        ``"precision_recall"``
            ``precision``: share of compared cells inside the real manifold (the union of real
            cells' balls reaching their ``k``-th nearest real neighbour); ``recall``: share of real
            cells inside the compared cells' manifold (Kynkäänniemi et al. 2019).
        ``"density_coverage"``
            ``density``: mean number of real balls holding a compared cell, divided by ``k``
            (about 1 when alike, above 1 when crowding dense regions); ``coverage``: share of real
            balls holding at least one compared cell (Naeem et al. 2020).
        ``"classifier_auc"``
            ``classifier_auc``: 5-fold cross-validated ROC AUC of a random forest telling real from
            compared cells on the PCs; 0.5 means indistinguishable, 1 trivially told apart.
        ``"mmd"``
            ``mmd``: unbiased squared maximum mean discrepancy on the PCs, RBF kernel with the
            median pooled distance as bandwidth; about 0 when alike.
        ``"gene_stats"``
            ``gene_mean_corr``, ``gene_var_corr``: Pearson correlation over genes of the mean and
            variance of ``log1p`` of counts scaled to 10,000; ``gene_zero_frac_corr``: of the share
            of zero counts; ``library_size_ks``: Kolmogorov-Smirnov distance of library sizes
            (0 alike, 1 disjoint).
        ``"memorization"``
            Distance to the closest record in the PCs. The training cells are taken to be all of
            ``real`` for synthetic sets (a generator trained on ``real``), half A for the
            reference row and half B for the baseline. ``dcr_ratio``: median distance from a
            compared cell to its nearest training cell over the median distance from a training
            cell to its nearest other training cell: about 1 for fresh cells, toward 0 for copies;
            ``copy_fraction``: share of compared cells sitting on a training cell.
    k
        Neighbourhood size of the precision, recall, density and coverage balls.
    n_pcs
        Number of principal components of the shared space.
    seed
        Seed of the split, the subsampling, the PCA, the classifier and the baseline draws:
        the same seed gives the same numbers.
    key_added
        Key in ``real.uns`` under which the table is stored.

    Returns
    -------
    One row per compared set, reference row first, then baseline, then the synthetic sets in
    their given order; with ``groupby`` every set has a row for all its cells (``group`` is
    ``"all"``) followed by one row per label of ``real``. The index is the set name, or
    ``"<name> | <label>"`` for label rows. Columns: ``synthetic`` (set name), ``group``,
    ``n_cells`` (cells per side of the comparison) and the metric columns above. Metrics of a label
    with fewer than ``k + 1`` cells on either side are NaN.

    The same table is written to ``real.uns[key_added]``; nothing else of the inputs is changed.
    """
    families = _check_metrics(metrics)
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    sets = as_sets(synthetic, reserved=(REFERENCE, BASELINE))
    genes = shared_genes(real, sets)
    real_counts = counts_of(real, genes, "real")
    real_labels = labels_of(real, groupby, "real")

    rng = np.random.default_rng(seed)
    half = real.n_obs // 2
    if half < k + 1:
        raise ValueError(
            f"real has {real.n_obs} cells: at least {2 * (k + 1)} are needed to split it into two "
            f"halves of k + 1 = {k + 1}"
        )
    order = rng.permutation(real.n_obs)
    half_a, half_b = order[:half], order[half : 2 * half]
    everyone = np.arange(real.n_obs)

    candidates = [(REFERENCE, real_counts[half_b], _take(real_labels, half_b), half_a)]
    if groupby is not None:
        drawn = nb_per_label(real_counts[half_b], real_labels[half_b], seed)
        candidates.append((BASELINE, drawn, real_labels[half_b], half_b))
    for name, adata in sets.items():
        counts = counts_of(adata, genes, name)
        if adata.n_obs < k + 1:
            raise ValueError(
                f"synthetic set {name!r} has {adata.n_obs} cells, fewer than k + 1 = {k + 1}"
            )
        # A generator of its own per set: a set's numbers do not depend on the others compared.
        take = _subsample(adata.n_obs, half, np.random.default_rng([seed, 1]))
        candidates.append(
            (name, counts[take], _take(labels_of(adata, groupby, name), take), everyone)
        )

    rows = []
    for name, counts, labels, train in candidates:
        rows += _compare(
            name, real_counts, real_labels, half_a, counts, labels, train,
            families=families, k=k, n_pcs=n_pcs, seed=seed,
        )  # fmt: skip
    columns = [c for family in families for c in _COLUMNS[family]]
    table = pd.DataFrame(rows, columns=["synthetic", "group", "n_cells", *columns])
    table.index = [
        s if g == ALL else f"{s} | {g}"
        for s, g in zip(table["synthetic"], table["group"], strict=True)
    ]
    real.uns[key_added] = table.copy()
    return table


def _check_metrics(metrics) -> list[str]:
    if metrics is None:
        return list(METRICS)
    requested = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in requested if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
    if not requested:
        raise ValueError("metrics is empty; pass None for all metrics")
    return [m for m in METRICS if m in requested]


def _take(labels: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if labels is None else labels[idx]


def _subsample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


def _shared_space(
    real_counts, counts, fit_rows: np.ndarray, n_pcs: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """PCs of all real cells and the compared cells, fitted on ``fit_rows`` of real and ``counts``.

    The PCA is fitted on exactly the two sets being compared, each cell once: cells a PCA was
    fitted on spread wider than cells projected into it, so fitting on more real cells than the
    compared ones (or on a cell twice) would make one side look unlike the other. The remaining
    real cells are projected, for the memorisation distances.
    """
    joint = AnnData(sparse.vstack([real_counts, counts], format="csr", dtype=np.float32))
    sc.pp.normalize_total(joint, target_sum=1e4)
    sc.pp.log1p(joint)
    n_real = real_counts.shape[0]
    fit = np.concatenate([fit_rows, n_real + np.arange(counts.shape[0])])
    fitted = joint[fit].copy()
    n_comps = min(n_pcs, fitted.n_obs - 1, fitted.n_vars - 1)
    sc.pp.pca(fitted, n_comps=n_comps, random_state=seed)
    loadings = np.asarray(fitted.varm["PCs"], dtype=np.float64)
    center = np.asarray(fitted.X.mean(axis=0), dtype=np.float64).ravel() @ loadings
    # One projection for every cell, so identical counts land on identical coordinates.
    pcs = np.asarray(joint.X @ loadings, dtype=np.float64) - center
    return pcs[:n_real], pcs[n_real:]


@dataclass
class _Comparison:
    """One compared set in its shared space with what every row of it needs."""

    name: str
    x_real: np.ndarray  # PCs of all real cells
    x_cand: np.ndarray  # PCs of the compared cells
    real_counts: sparse.csr_matrix
    counts: sparse.csr_matrix
    train: np.ndarray  # real cells taken as the generator's training cells
    families: list[str]
    k: int
    seed: int

    def row(self, group: str, a: np.ndarray, cand: np.ndarray, probe: np.ndarray) -> dict:
        """Metrics of real cells ``a`` against compared cells ``cand``."""
        row = {"synthetic": self.name, "group": str(group), "n_cells": len(a)}
        if min(len(a), len(cand)) < self.k + 1 or len(probe) == 0:
            warnings.warn(
                f"{self.name}, {group}: fewer than k + 1 = {self.k + 1} cells; its metrics are NaN",
                UserWarning,
                stacklevel=4,
            )
            return row
        xa, xc = self.x_real[a], self.x_cand[cand]
        if "precision_recall" in self.families or "density_coverage" in self.families:
            row.update(prdc(xa, xc, self.k))
        if "classifier_auc" in self.families:
            row["classifier_auc"] = _metrics.classifier_auc(xa, xc, self.seed)
        if "mmd" in self.families:
            row["mmd"] = _metrics.mmd(xa, xc, self.seed)
        if "gene_stats" in self.families:
            row.update(_metrics.gene_stats(self.real_counts[a], self.counts[cand]))
        if "memorization" in self.families:
            row.update(_metrics.memorization(xc, self.x_real[self.train], self.x_real[probe]))
        return row


def _compare(
    name, real_counts, real_labels, half_a, counts, labels, train, *, families, k, n_pcs, seed
) -> list[dict]:
    # Compared sets hold at most as many cells as half A; a smaller one takes the first cells of
    # A, which is in random order.
    a = half_a[: counts.shape[0]]
    x_real, x_cand = _shared_space(real_counts, counts, a, n_pcs, seed)
    comparison = _Comparison(
        name, x_real, x_cand, real_counts, counts, train, families, k, seed
    )  # fmt: skip
    cand = np.arange(counts.shape[0])
    rows = [comparison.row(ALL, a, cand, train)]
    if real_labels is not None:
        rng = np.random.default_rng(seed)
        for group in pd.unique(real_labels):
            a_g = a[real_labels[a] == group]
            cand_g = cand[labels == group]
            n = min(len(a_g), len(cand_g))
            a_g = a_g[_subsample(len(a_g), n, rng)]
            cand_g = cand_g[_subsample(len(cand_g), n, rng)]
            rows.append(comparison.row(group, a_g, cand_g, train[real_labels[train] == group]))
    return rows
