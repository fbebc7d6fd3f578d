"""Sparse negative binomial counts from a model's per-cell means, drawn on a few threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import sparse

from .._core._csr import RowsBuffer
from .._core._negative_binomial import draw_negative_binomial
from .._threads import usable_cores

# Rows drawn per work unit: each has its own seeds, so the counts do not depend on the threads.
_BLOCK_ROWS = 512


def negative_binomial_counts(
    mean: np.ndarray, size: np.ndarray, size_index: np.ndarray, rng: np.random.Generator
) -> sparse.csr_matrix:
    """Draw ``Y[i, j] ~ NB(mean[i, j], size[size_index[i], j])`` as a CSR matrix of ``float32``.

    The compiled sampler of the simulator (CDF inversion, no dense count array) draws blocks of
    rows in parallel; ``rng`` gives every block its seeds up front. ``mean`` needs one row at
    least; ``float32`` means give the same counts as the same values in ``float64``.
    """
    # the sampler takes float32 means as they are (each becomes float64 inside, exactly as a
    # conversion here would): a copy of the cells × genes means would cost more than the draw
    mean = np.asarray(mean)
    mean = np.ascontiguousarray(mean, dtype=np.float32 if mean.dtype == np.float32 else np.float64)
    size = np.ascontiguousarray(np.atleast_2d(size), dtype=np.float64)
    size_index = np.ascontiguousarray(size_index, dtype=np.int64)
    n_rows, n_genes = mean.shape
    starts = range(0, n_rows, _BLOCK_ROWS)
    seeds = rng.integers(2**63, size=(len(starts), 2))

    def block(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = slice(starts[k], min(starts[k] + _BLOCK_ROWS, n_rows))
        room = (rows.stop - rows.start) * n_genes
        data = np.empty(room, dtype=np.float32)
        indices = np.empty(room, dtype=np.int32)
        row_nnz = np.empty(rows.stop - rows.start, dtype=np.int64)
        nnz = draw_negative_binomial(
            np.random.default_rng(seeds[k, 1]), np.uint64(seeds[k, 0]), mean[rows], size,
            size_index[rows], data, indices, row_nnz,
        )  # fmt: skip
        return data[:nnz], indices[:nnz], row_nnz

    with ThreadPoolExecutor(min(usable_cores(), len(starts))) as pool:
        parts = pool.map(block, range(len(starts)))
        counts = RowsBuffer(n_rows, n_genes)
        for data, indices, row_nnz in parts:
            counts.append(data, indices, row_nnz)
    return counts.to_csr()
