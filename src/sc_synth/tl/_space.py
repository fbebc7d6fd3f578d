"""The shared PCA space in which an evaluation compares real cells with one compared set."""

from __future__ import annotations

import numpy as np
import scanpy as sc
from anndata import AnnData
from scipy import sparse


def shared_space(
    real_counts, counts, fit_rows: np.ndarray, n_pcs: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """PCs of all real cells and the compared cells, fitted on ``fit_rows`` of real and ``counts``.

    The PCA is fitted on exactly the two sets being compared, each cell once: cells a PCA was
    fitted on spread wider than cells projected into it, so fitting on more real cells than the
    compared ones (or on a cell twice) would make one side look unlike the other. The remaining
    real cells are projected, for the distances of ``"privacy"`` without ``train``.
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
