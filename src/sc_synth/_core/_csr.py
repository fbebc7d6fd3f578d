"""CSR matrices assembled from rows drawn piece by piece, without a copy of the result."""

from __future__ import annotations

import numpy as np
from scipy import sparse


class RowsBuffer:
    """CSR rows appended piece by piece into arrays sized from the density seen so far.

    On the first piece the arrays are allocated at the projected size of all ``n_rows`` rows
    plus a margin: pages never written are never resident, so the margin costs no memory, and
    the result needs no copy. Should the projection fall short, ``ndarray.resize`` grows the
    arrays in place (large blocks are remapped, not copied), so the peak stays near the size of
    the result.
    """

    _MARGIN = 1.25

    def __init__(self, n_rows: int, n_cols: int) -> None:
        self.n_rows = n_rows
        self.n_cols = n_cols
        self.data = np.empty(0, dtype=np.float32)
        self.indices = np.empty(0, dtype=np.int32)
        self.row_nnz: list[np.ndarray] = []
        self.rows = 0
        self.nnz = 0

    def append(self, data: np.ndarray, indices: np.ndarray, row_nnz: np.ndarray) -> None:
        """Append rows: their values and columns one row after the other, and their lengths."""
        end = self.nnz + data.size
        self.rows += row_nnz.size
        if end > self.data.size:
            projected = int(end / self.rows * self.n_rows * self._MARGIN)
            capacity = min(max(end, projected), self.n_rows * self.n_cols)
            if self.nnz == 0:
                self.data = np.empty(capacity, dtype=np.float32)
                self.indices = np.empty(capacity, dtype=np.int32)
            else:
                self.data.resize(capacity, refcheck=False)
                self.indices.resize(capacity, refcheck=False)
        self.data[self.nnz : end] = data
        self.indices[self.nnz : end] = indices
        self.row_nnz.append(row_nnz)
        self.nnz = end

    def to_csr(self) -> sparse.csr_matrix:
        """Return the rows appended so far as ``float32`` CSR (int64 indices past 2³¹ values)."""
        self.data.resize(self.nnz, refcheck=False)
        self.indices.resize(self.nnz, refcheck=False)
        index_dtype = np.int32 if self.nnz < np.iinfo(np.int32).max else np.int64
        row_nnz = np.concatenate(self.row_nnz)
        indptr = np.zeros(row_nnz.size + 1, dtype=index_dtype)
        np.cumsum(row_nnz, out=indptr[1:])
        return sparse.csr_matrix(
            (self.data, self.indices.astype(index_dtype, copy=False), indptr),
            shape=(row_nnz.size, self.n_cols),
            copy=False,
        )
