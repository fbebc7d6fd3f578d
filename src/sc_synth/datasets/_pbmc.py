from __future__ import annotations

import numpy as np
from anndata import AnnData
from scipy import sparse


def pbmc68k_counts() -> AnnData:
    """Scanpy's bundled ``pbmc68k_reduced`` with integer counts recovered from ``raw``.

    ``pbmc68k_reduced().raw`` holds ``log1p`` of per-cell scaled counts for 700 cells and 765
    genes. Within a cell, the smallest non-zero scaled value is one count, so dividing
    ``expm1(raw.X)`` by it and rounding recovers the integer counts of those genes. Nothing is
    downloaded: the file ships inside scanpy.

    Returns
    -------
    AnnData
        ``X`` a CSR matrix of integer counts (``float32``), ``var_names`` the 765 genes of
        ``raw``, ``obs`` the original annotation (``bulk_labels``: 10 cell types, ``louvain``,
        ``phase``, …) and ``obsm["X_umap"]`` the original embedding.
    """
    # scanpy takes seconds to import; `import sc_synth` should not pay for it.
    import scanpy as sc

    reduced = sc.datasets.pbmc68k_reduced()
    scaled = sparse.csr_matrix(reduced.raw.X, dtype=np.float64)
    scaled.data = np.expm1(scaled.data)
    # One count per cell is the smallest non-zero scaled value of that cell.
    unit = np.minimum.reduceat(scaled.data, scaled.indptr[:-1])
    scaled.data = np.rint(scaled.data / np.repeat(unit, np.diff(scaled.indptr)))
    counts = scaled.astype(np.float32)
    counts.eliminate_zeros()
    obs = reduced.obs[["bulk_labels", "louvain", "phase", "percent_mito"]].copy()
    adata = AnnData(X=counts, obs=obs, var=reduced.raw.var[[]].copy())
    adata.obsm["X_umap"] = reduced.obsm["X_umap"].copy()
    return adata
