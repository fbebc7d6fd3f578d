"""Chunks of cells simulated on a few threads, in order, and gathered into one CSR matrix."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from anndata import AnnData

from .._core._csr import RowsBuffer
from .._progress import over_chunks
from .._threads import usable_cores
from ._counts import simulate_cells
from ._dask import computed_in_order
from ._splat import Expression, Piece


@dataclass
class ChunkInputs:
    """What simulating any chunk of cells needs, shared by all chunks."""

    seed: int
    chunk_cells: int
    genes: Expression
    lib_size: np.ndarray
    profile_index: np.ndarray
    # per-cell dropout midpoints and shapes; None without dropout
    dropout: tuple[np.ndarray, np.ndarray] | None


def simulate_chunk(inputs: ChunkInputs, start: int) -> tuple[Piece, Piece | None]:
    """Simulate the chunk of cells from ``start`` on: counts, and counts before dropout."""
    cut = slice(start, start + inputs.chunk_cells)
    dropout = None if inputs.dropout is None else tuple(d[cut] for d in inputs.dropout)
    return simulate_cells(
        inputs.seed, start, inputs.lib_size[cut], inputs.profile_index[cut], inputs.genes, dropout
    )


def pieces(inputs: ChunkInputs, starts: range) -> Iterator[tuple[Piece, Piece | None]]:
    """Chunks in order, simulated by a few threads (the compiled sampler releases the GIL).

    At most two chunks per thread are in flight, so that pieces not yet copied into the result
    never add up to much memory. From :data:`~sc_synth._progress.FROM_CHUNKS` chunks on, a
    progress bar counts them (see :func:`~sc_synth._progress.over_chunks`).
    """
    return over_chunks(_in_threads(inputs, starts), len(starts), "simulate")


def _in_threads(inputs: ChunkInputs, starts: range) -> Iterator[tuple[Piece, Piece | None]]:
    n_workers = min(usable_cores(), len(starts))
    with ThreadPoolExecutor(n_workers) as pool:
        pending: deque = deque()
        for start in starts:
            pending.append(pool.submit(simulate_chunk, inputs, start))
            if len(pending) >= 2 * n_workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def computed_pieces(inputs: ChunkInputs, starts: range) -> Iterator[tuple[Piece, Piece | None]]:
    """Chunks in order, simulated by dask's active scheduler (see :func:`.computed_in_order`)."""
    return over_chunks(computed_in_order(simulate_chunk, inputs, starts), len(starts), "simulate")


def assemble(adata: AnnData, pieces: Iterator, dropout: bool) -> AnnData:
    """Set ``X`` (and, with dropout, ``layers["true_counts"]``) from the pieces, in order."""
    counts = RowsBuffer(adata.n_obs, adata.n_vars)
    truths = RowsBuffer(adata.n_obs, adata.n_vars)
    for count_part, true_part in pieces:
        counts.append(count_part.data, count_part.indices, count_part.row_nnz)
        if dropout:
            truths.append(true_part.data, true_part.indices, true_part.row_nnz)
    adata.X = counts.to_csr()
    if dropout:
        adata.layers["true_counts"] = truths.to_csr()
    return adata
