"""Metric families of :func:`sc_synth.tl.evaluate` besides the neighbour-ball ones (``_neighbors``).

All take cells in the shared PCA space (``x_*``) and/or their counts (``counts_*``, cells x genes),
with the two sets already subsampled to equal size.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse, stats
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score

from .._threads import n_threads
from ._neighbors import kth_neighbor_sq

# Cells per set beyond which the O(n^2) and classifier metrics work on a seeded subsample.
MAX_CELLS_CLASSIFIER = 5000
MAX_CELLS_MMD = 2000
# Trees of the classifier AUC's forest and the share of the cells each one is grown on.
FOREST_TREES = 100
FOREST_SHARE = 0.3
# Cells a side from which its score is out of bag rather than cross-validated.
FOREST_OOB_FROM = 100


def classifier_auc(x_real: np.ndarray, x_fake: np.ndarray, seed: int) -> float:
    """ROC AUC of a random forest telling real from candidate cells, held-out scores (0.5 = alike).

    From ``FOREST_OOB_FROM`` cells a side the scores are out of bag: each cell is scored by the
    trees whose draw (``FOREST_SHARE`` of the cells) left it out, so one fit scores every cell
    where a 5-fold cross-validation fits five forests. Smaller sets, where that is cheap, take the
    stratified 5-fold cross-validated AUC: out-of-bag scores of a handful of cells lean below
    0.5, as a cell left out of a tree's draw leaves its own side one cell short there.
    """
    rng = np.random.default_rng(seed)
    x_real = _at_most(x_real, MAX_CELLS_CLASSIFIER, rng)
    x_fake = _at_most(x_fake, MAX_CELLS_CLASSIFIER, rng)
    x = np.concatenate([x_real, x_fake])
    y = np.r_[np.zeros(len(x_real)), np.ones(len(x_fake))]
    smaller = min(len(x_real), len(x_fake))
    if smaller >= FOREST_OOB_FROM:
        forest = RandomForestClassifier(
            n_estimators=FOREST_TREES,
            max_samples=FOREST_SHARE,
            oob_score=True,
            random_state=seed,
            n_jobs=n_threads(),
        ).fit(x, y)
        return float(roc_auc_score(y, forest.oob_decision_function_[:, 1]))
    n_splits = min(5, smaller)
    if n_splits < 2:
        return float("nan")
    forest = RandomForestClassifier(
        n_estimators=FOREST_TREES, random_state=seed, n_jobs=n_threads()
    )
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return float(cross_val_score(forest, x, y, cv=folds, scoring="roc_auc").mean())


def mmd(x_real: np.ndarray, x_fake: np.ndarray, seed: int) -> float:
    """Unbiased squared MMD with an RBF kernel whose bandwidth is the median pooled distance."""
    rng = np.random.default_rng(seed)
    x_real = _at_most(x_real, MAX_CELLS_MMD, rng).astype(np.float64)
    x_fake = _at_most(x_fake, MAX_CELLS_MMD, rng).astype(np.float64)
    pooled = np.concatenate([x_real, x_fake])
    sq = _sq_distances(pooled, pooled)
    # the median heuristic keeps the kernel informative at any scale; a fixed gamma saturates
    off_diagonal = sq[np.triu_indices(len(pooled), k=1)]
    bandwidth_sq = np.median(off_diagonal)
    if bandwidth_sq <= 0:
        bandwidth_sq = 1.0
    kernel = np.exp(-sq / (2.0 * bandwidth_sq))
    n, m = len(x_real), len(x_fake)
    k_rr, k_ff, k_rf = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    within_r = (k_rr.sum() - np.trace(k_rr)) / (n * (n - 1))
    within_f = (k_ff.sum() - np.trace(k_ff)) / (m * (m - 1))
    return float(within_r + within_f - 2.0 * k_rf.mean())


def gene_stats(counts_real, counts_fake) -> dict[str, float]:
    """Per-gene agreement of mean, variance and zero fraction, and the KS distance of library sizes.

    Means and variances are those of ``log1p`` of counts scaled to 10,000 per cell, so that they
    compare expression profiles; zero fractions and library sizes use the raw counts.
    """
    real, fake = _gene_moments(counts_real), _gene_moments(counts_fake)
    return {
        "gene_mean_corr": _pearson(real["mean"], fake["mean"]),
        "gene_var_corr": _pearson(real["var"], fake["var"]),
        "gene_zero_frac_corr": _pearson(real["zero"], fake["zero"]),
        "library_size_ks": float(stats.ks_2samp(real["library"], fake["library"]).statistic),
    }


def memorization(
    x_fake: np.ndarray, x_train: np.ndarray, x_train_probe: np.ndarray | None = None
) -> dict[str, float]:
    """Distance to the closest training record, compared with that among training cells themselves.

    ``dcr_ratio`` is the median distance from a candidate cell to its nearest training cell divided
    by the median distance from a training cell (``x_train_probe``, a subset of ``x_train``; all of
    it when ``None``) to its nearest *other* training cell. Candidates drawn afresh from the same
    distribution give about 1; copies of training cells pull it toward 0. ``copy_fraction`` is the
    share of candidate cells that sit on a training cell (closer than 1e-6 of that median).
    """
    probe = x_train if x_train_probe is None else x_train_probe
    dcr_fake = np.sqrt(kth_neighbor_sq(x_fake, x_train, 1))
    # the probe cells belong to x_train, so their nearest record is themselves: take the second
    dcr_train = np.sqrt(kth_neighbor_sq(probe, x_train, 2))
    typical = np.median(dcr_train)
    if typical <= 0:
        return {"dcr_ratio": float("nan"), "copy_fraction": float(np.mean(dcr_fake <= 0))}
    return {
        "dcr_ratio": float(np.median(dcr_fake) / typical),
        "copy_fraction": float(np.mean(dcr_fake < 1e-6 * typical)),
    }


def _at_most(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(x) <= n:
        return x
    return x[np.sort(rng.choice(len(x), n, replace=False))]


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(sq, 0.0)


def _gene_moments(counts) -> dict[str, np.ndarray]:
    counts = sparse.csr_matrix(counts, dtype=np.float64, copy=True)
    counts.eliminate_zeros()
    library = np.asarray(counts.sum(axis=1)).ravel()
    scale = 1e4 / np.where(library > 0, library, 1.0)
    logged = sparse.diags(scale) @ counts
    logged.data = np.log1p(logged.data)
    mean = np.asarray(logged.mean(axis=0)).ravel()
    mean_sq = np.asarray(logged.multiply(logged).mean(axis=0)).ravel()
    zero = 1.0 - np.diff(counts.tocsc().indptr) / counts.shape[0]
    return {"mean": mean, "var": mean_sq - mean**2, "zero": zero, "library": library}


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])
