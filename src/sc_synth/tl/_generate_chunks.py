"""Generated cells drawn chunk by chunk, then gathered in memory or written to a zarr store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from numbers import Integral
from pathlib import Path

import numpy as np
from anndata import AnnData
from scipy import sparse

from .._progress import over_chunks
from ..models._sampler import Sampler
from ..pp._splat import Piece
from ..pp._store import write_zarr


def chunk_cells(chunk_size: int | None, unit: int) -> int:
    """Cells per chunk: ``chunk_size`` rounded up to a whole number of ``unit`` cells (one unit if ``None``)."""
    if chunk_size is None:
        return unit
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, Integral) or chunk_size < 1:
        raise ValueError(f"`chunk_size` must be a positive integer or None, got {chunk_size!r}.")
    return -(-int(chunk_size) // unit) * unit


def draw_chunks(
    sampler: Sampler,
    label: np.ndarray,
    batch: np.ndarray,
    library: np.ndarray,
    rng: np.random.Generator,
    unit: int,
    chunk: int,
) -> Iterator[sparse.csr_matrix]:
    """Yield the counts of ``chunk`` consecutive cells at a time, drawn ``unit`` cells at a time.

    The sampler draws from ``rng`` one unit after the other whatever ``chunk`` is (a whole
    number of units), so the counts do not depend on it. From
    :data:`~sc_synth._progress.FROM_CHUNKS` chunks on, a progress bar counts them (see
    :func:`~sc_synth._progress.over_chunks`).
    """
    firsts = range(0, len(label), chunk)
    for first in over_chunks(firsts, len(firsts), "generate"):
        units = [
            sampler.sample(label[part], batch[part], library[part], rng)
            for start in range(first, min(first + chunk, len(label)), unit)
            for part in [slice(start, min(start + unit, first + chunk))]
        ]
        # a chunk of one unit (the default) is yielded as drawn: stacking would copy it
        yield units[0] if len(units) == 1 else sparse.vstack(units, format="csr")


def write_chunks(
    adata: AnnData, chunks: Iterable[sparse.csr_matrix], out: Path, overwrite: bool
) -> AnnData:
    """Write ``adata``'s annotations and the rows of ``chunks`` as its ``X`` to the zarr store ``out``.

    Returns the AnnData backed by the store (``X`` read lazily). Nothing is left at ``out``
    unless the whole store was written (see :func:`~sc_synth.pp._store.write_zarr`).
    """
    pieces = ((Piece(c.data, c.indices, np.diff(c.indptr)),) for c in chunks)
    return write_zarr(adata, pieces, dropout=False, path=out, overwrite=overwrite)
