"""The PCA spaces in which an evaluation measures distances between cells.

A PCA here is exact: the leading eigenvectors of the covariance matrix of the fitted cells. With
up to ``MAX_GRAM_GENES`` genes that matrix is built from dense blocks of cells (a BLAS product
per block, the sparse counts never densified at once) and its top eigenvectors are taken
directly; the Gram matrix of a set of cells is kept, so that half A, which every compared set of
a seed meets, is summed once. More genes would make the matrix too large: scanpy's ARPACK PCA
then works on the sparse cells, centred implicitly. Both give the same components, up to
rounding and sign.
"""

from __future__ import annotations

import numpy as np
import scanpy as sc
from anndata import AnnData
from scipy import linalg, sparse

#: Most genes for which the covariance matrix (genes x genes, float64) is formed.
MAX_GRAM_GENES = 5000
#: Cells densified at once while the Gram matrix is summed.
_BLOCK = 2048


def shared_space(
    real_logged, logged, fit_rows: np.ndarray, n_pcs: int, seed: int, cache: dict | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """PCs of all real cells and the compared cells, fitted on ``fit_rows`` of real and ``logged``.

    Both are ``log1p`` of counts scaled to 10,000 per cell. The PCA is fitted on exactly the two
    sets being compared, each cell once: cells a PCA was fitted on spread wider than cells
    projected into it, so fitting on more real cells than the compared ones (or on a cell twice)
    would make one side look unlike the other. The remaining real cells are projected, for the
    distances of ``"privacy"`` without ``train``. ``cache`` keeps the Gram matrix of the real
    cells fitted, for the next compared set that meets the same cells.
    """
    key = ("gram", fit_rows.tobytes())
    loadings, center = pca(
        [(real_logged, fit_rows, key), (logged, np.arange(logged.shape[0]), None)],
        n_pcs, seed, cache,
    )  # fmt: skip
    return project(real_logged, loadings, center), project(logged, loadings, center)


def pca(
    parts: list[tuple], n_pcs: int, seed: int, cache: dict | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the loadings (genes x PCs) and centre (in PCs) of a PCA fitted on rows of matrices.

    ``parts`` holds ``(matrix, rows, key)``: the rows of each (cells x genes, CSR) that enter the
    fit, and a key under which ``cache`` keeps that part's Gram matrix (``None``: not kept).
    ``seed`` seeds ARPACK's start vector, with more than ``MAX_GRAM_GENES`` genes.
    """
    n_genes = parts[0][0].shape[1]
    n_cells = sum(len(rows) for _, rows, _ in parts)
    n_comps = min(n_pcs, n_cells - 1, n_genes - 1)
    if n_genes > MAX_GRAM_GENES:
        fitted = AnnData(sparse.vstack([x[rows] for x, rows, _ in parts], format="csr"))
        sc.pp.pca(fitted, n_comps=n_comps, random_state=seed)
        loadings = np.asarray(fitted.varm["PCs"], dtype=np.float64)
        mean = np.asarray(fitted.X.mean(axis=0), dtype=np.float64).ravel()
    else:
        cache = {} if cache is None else cache
        gram, total = np.zeros((n_genes, n_genes)), np.zeros(n_genes)
        for x, rows, key in parts:
            part = cache[key] if key in cache else _gram(x, rows)
            if key is not None:
                cache[key] = part
            gram += part[0]
            total += part[1]
        mean = total / n_cells
        # only the upper triangle is summed (syrk); eigh reads just that one
        gram -= n_cells * np.outer(mean, mean)
        _, vectors = linalg.eigh(
            gram, lower=False, subset_by_index=[n_genes - n_comps, n_genes - 1]
        )
        loadings = vectors[:, ::-1]
    # each component's largest loading positive, as scikit-learn's PCA signs them
    biggest = np.abs(loadings).argmax(axis=0)
    loadings = loadings * np.sign(loadings[biggest, np.arange(loadings.shape[1])])
    return loadings, mean @ loadings


def project(logged, loadings: np.ndarray, center: np.ndarray) -> np.ndarray:
    """PCs of every cell of ``logged``: the same product for every cell, so equal cells coincide."""
    return np.asarray(logged @ loadings) - center


def _gram(x, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper triangle of ``x[rows].T @ x[rows]`` and the column sums, in dense blocks of cells."""
    n_genes = x.shape[1]
    gram, total = np.zeros((n_genes, n_genes), order="F"), np.zeros(n_genes)
    for start in range(0, len(rows), _BLOCK):
        block = np.asarray(x[rows[start : start + _BLOCK]].toarray(), dtype=np.float64)
        # block.T is Fortran-ordered as it stands, so BLAS reads it without a copy
        gram = linalg.blas.dsyrk(1.0, block.T, beta=1.0, c=gram, overwrite_c=True)
        total += block.sum(axis=0)
    return gram, total
