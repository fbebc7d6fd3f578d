"""Per-gene agreement of real and compared cells: mean, variance, zeros, library sizes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse, stats

if TYPE_CHECKING:
    from ._comparison import Row

COLUMNS = ["gene_mean_corr", "gene_var_corr", "gene_zero_frac_corr", "library_size_ks"]


def row(cells: Row) -> dict[str, float]:
    return gene_stats(cells.real_counts, cells.counts)


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


def _gene_moments(counts) -> dict[str, np.ndarray]:
    # sums over the stored entries of each gene (bincount over the column indices): one pass over
    # the non-zero counts, where sparse products and a CSC copy would make several
    counts = sparse.csr_matrix(counts)
    n_cells, n_genes = counts.shape
    library = np.asarray(counts.sum(axis=1, dtype=np.float64)).ravel()
    scale = 1e4 / np.where(library > 0, library, 1.0)
    logged = np.log1p(
        np.asarray(counts.data, dtype=np.float64) * np.repeat(scale, np.diff(counts.indptr))
    )
    genes = counts.indices
    mean = np.bincount(genes, weights=logged, minlength=n_genes) / n_cells
    mean_sq = np.bincount(genes, weights=logged * logged, minlength=n_genes) / n_cells
    nonzero = np.bincount(genes[counts.data != 0], minlength=n_genes)
    return {
        "mean": mean,
        "var": mean_sq - mean**2,
        "zero": 1.0 - nonzero / n_cells,
        "library": library,
    }


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])
