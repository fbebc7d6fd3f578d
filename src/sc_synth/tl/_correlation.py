"""Co-expression kept: gene-gene correlation matrices of real and compared cells."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._inputs import log_normalised

if TYPE_CHECKING:
    from ._comparison import Row

#: The most variable genes (of the real cells compared) whose correlations are compared.
N_GENES = 200
#: Cells needed on each side: correlations of a handful of cells are mostly noise.
MIN_CELLS = 10
COLUMNS = ["gene_gene_corr"]


def row(cells: Row) -> dict[str, float]:
    """``gene_gene_corr`` of a row; none (with a note) below ``MIN_CELLS`` cells per side."""
    if cells.n < MIN_CELLS:
        cells.notes.append(f"correlation: fewer than {MIN_CELLS} cells per side")
        return {}
    return {"gene_gene_corr": correlation(cells.real_counts, cells.counts)}


def summary(rows: list[dict]) -> None:
    """Set the ``"all"`` row (first) to the mean over the label rows.

    Between labels, genes follow the labels' profiles, which any generator of labelled cells
    keeps: the ``"all"`` row reports the co-expression within labels.
    """
    within = [r["gene_gene_corr"] for r in rows[1:] if "gene_gene_corr" in r]
    rows[0]["gene_gene_corr"] = float(np.mean(within)) if within else np.nan


def variable_genes(counts, n_genes: int = N_GENES) -> np.ndarray:
    """Return the indices of the ``n_genes`` genes of largest variance of ``log1p`` normalised expression."""
    return _most_variable(log_normalised(counts), n_genes)


def _most_variable(x, n_genes: int) -> np.ndarray:
    mean = np.asarray(x.mean(axis=0)).ravel()
    var = np.asarray(x.multiply(x).mean(axis=0)).ravel() - mean**2
    return np.sort(np.argsort(-var, kind="stable")[:n_genes])


def gene_correlations(counts, genes: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix of ``genes`` over cells (``log1p`` normalised expression).

    A gene constant over the cells correlates with nothing: its row and column are 0.
    """
    return _correlations(log_normalised(counts), genes)


def _correlations(logged, genes: np.ndarray) -> np.ndarray:
    x = logged[:, genes].toarray()
    x -= x.mean(axis=0)
    norm = np.sqrt((x * x).sum(axis=0))
    x /= np.where(norm > 0, norm, np.inf)
    corr = x.T @ x
    np.fill_diagonal(corr, 1.0)
    return corr


def correlation(real_counts, counts, n_genes: int = N_GENES) -> float:
    """Pearson r between the upper triangles of the gene-gene correlation matrices of two sets.

    The genes are the ``n_genes`` most variable of the real cells.
    """
    real_logged = log_normalised(real_counts)
    genes = _most_variable(real_logged, n_genes)
    upper = np.triu_indices(len(genes), k=1)
    real = _correlations(real_logged, genes)[upper]
    fake = gene_correlations(counts, genes)[upper]
    if np.ptp(real) == 0 or np.ptp(fake) == 0:
        return float("nan")
    return float(np.corrcoef(real, fake)[0, 1])
