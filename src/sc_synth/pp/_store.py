"""Write an AnnData's sparse counts to a new zarr store row piece by row piece, in bounded memory."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from anndata import AnnData

from ._splat import Piece

# Values per zarr chunk of the data, indices and indptr arrays (4–8 MB before compression).
_CHUNK = 2**20


class _ChunkedAppender:
    """A one-dimensional zarr array written at its end in whole chunks only.

    Values are held back until they fill a chunk, so no chunk is ever read back, decompressed
    and written again; appending costs the same however long the array already is.
    """

    def __init__(self, group, name: str, dtype) -> None:
        self.array = group.create_array(name, shape=(0,), chunks=(_CHUNK,), dtype=dtype)
        self.held = np.empty(0, dtype=dtype)
        self.written = 0

    def append(self, values: np.ndarray) -> None:
        held = np.concatenate([self.held, values.astype(self.held.dtype, copy=False)])
        full = held.size - held.size % _CHUNK
        if full:
            self._write(held[:full])
        self.held = held[full:].copy()

    def close(self) -> None:
        if self.held.size:
            self._write(self.held)
            self.held = self.held[:0]

    def _write(self, values: np.ndarray) -> None:
        end = self.written + values.size
        self.array.resize((end,))
        self.array[self.written : end] = values
        self.written = end


class CSRWriter:
    """Rows of a CSR matrix appended to a new zarr group in anndata's on-disk format."""

    def __init__(self, parent, key: str, shape: tuple[int, int]) -> None:
        group = parent.create_group(key)
        group.attrs.update(
            {"encoding-type": "csr_matrix", "encoding-version": "0.1.0", "shape": list(shape)}
        )
        self.shape = shape
        self.data = _ChunkedAppender(group, "data", np.float32)
        self.indices = _ChunkedAppender(group, "indices", np.int32)
        # 64-bit row offsets: a million cells at droplet depth have billions of non-zeros.
        self.indptr = _ChunkedAppender(group, "indptr", np.int64)
        self.indptr.append(np.zeros(1, dtype=np.int64))
        self.rows = 0
        self.nnz = 0

    def append(self, piece: Piece) -> None:
        self.data.append(piece.data)
        self.indices.append(piece.indices)
        self.indptr.append(self.nnz + np.cumsum(piece.row_nnz))
        self.rows += piece.row_nnz.size
        self.nnz += piece.data.size

    def close(self) -> None:
        if self.rows != self.shape[0]:
            msg = f"{self.rows} rows were written, {self.shape[0]} expected."
            raise RuntimeError(msg)
        for array in (self.data, self.indices, self.indptr):
            array.close()


def check_out(out, overwrite: bool = False) -> Path:
    """Return ``out`` as a path for :func:`write_zarr`, refusing one that exists unless ``overwrite``."""
    if not isinstance(out, str | os.PathLike):
        raise TypeError(f"`out` must be a path (str or os.PathLike), got {out!r}.")
    if not isinstance(overwrite, bool):
        raise TypeError(f"`overwrite` must be True or False, got {overwrite!r}.")
    out = Path(out)
    if out.exists() and not overwrite:
        raise ValueError(
            f"`out` must be a new path; {str(out)!r} already exists (pass overwrite=True to "
            "replace it)."
        )
    return out


def write_zarr(
    adata: AnnData,
    pieces: Iterable[tuple[Piece, Piece | None]],
    dropout: bool,
    path: Path,
    overwrite: bool = False,
) -> AnnData:
    """Write ``adata`` (without ``X``) and the rows in ``pieces`` to a new zarr store at ``path``.

    ``pieces`` yields the counts of consecutive cells and, with ``dropout``, their counts before
    dropout (``layers["true_counts"]``). The store is built under a temporary name beside
    ``path`` and renamed when complete, so ``path`` never holds a partial data set; with
    ``overwrite``, what was at ``path`` is removed only then. Returns the AnnData backed by the
    store (``X`` and layers read lazily).
    """
    import anndata
    import zarr
    from anndata.io import sparse_dataset, write_elem

    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        root = zarr.open_group(partial, mode="w-", zarr_format=anndata.settings.zarr_write_format)
        write_elem(root, "/", adata)
        writers = [CSRWriter(root, "X", adata.shape)]
        if dropout:
            writers.append(CSRWriter(root["layers"], "true_counts", adata.shape))
        for chunk in pieces:
            for writer, piece in zip(writers, chunk, strict=False):
                writer.append(piece)
        for writer in writers:
            writer.close()
        zarr.consolidate_metadata(partial)
        if overwrite and path.is_dir():
            shutil.rmtree(path)
        elif overwrite and path.exists():
            path.unlink()
        os.rename(partial, path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    root = zarr.open_group(path, mode="r")
    backed = AnnData(
        X=sparse_dataset(root["X"]), obs=adata.obs, var=adata.var, varm=adata.varm, uns=adata.uns
    )
    if dropout:
        backed.layers["true_counts"] = sparse_dataset(root["layers"]["true_counts"])
    return backed
