"""Splat's counts: means from library sizes and profiles, the core's negative binomial, dropout.

:func:`simulate_cells` draws a stretch of cells block by block, each block of ``BLOCK_CELLS``
cells from streams of its own, into growing CSR pieces.

Splat draws a cell mean ``λ ~ Gamma(shape=1/φ, scale=μφ)`` and a count ``Y ~ Poisson(λ)`` per
entry, so ``Y`` is negative binomial with mean ``μ`` and size ``a = 1/φ``: the core's compiled
sampler (:mod:`sc_synth._core._negative_binomial`) draws it by CDF inversion, tile by tile.

Dropout needs ``λ`` of non-zero entries: given ``Y = y``, ``λ ~ Gamma(a + y, scale=r)``
(gamma-Poisson conjugacy), so drawing ``λ`` after ``Y`` gives Splat's joint law of ``(λ, Y)``.
Dropout draws from a generator of its own, so the counts before dropout are those drawn
without dropout.
"""

from __future__ import annotations

import numpy as np

from .._core._negative_binomial import (
    MAX_INVERSION_MEAN,
    MAX_INVERSION_SCALE,
    TILE,
    draw_tile,
    emit,
    jit_kernel,
    jit_vector_kernel,
    work_arrays,
    zero_bound,
)
from ._splat import BLOCK_CELLS, Expression, Piece, block_stream, dropout_stream


@jit_vector_kernel
def _means_and_zero_bounds(
    lib, rsqrt_lib, profile, rsqrt_profile, bcv_common, bcv_factor, mu, x, bound
):
    """Means, gamma scales and a lower bound of P(Y = 0) for one tile (0 where inversion is off)."""
    for t in range(mu.shape[0]):
        mean = profile[t] * lib
        s = (bcv_common + rsqrt_profile[t] * rsqrt_lib) * bcv_factor[t]
        scale = mean * s * s
        bound[t] = zero_bound(mean, scale)
        mu[t] = mean
        x[t] = scale


@jit_kernel
def _dropout(rng, cand_mu, cand_x, y, lam, mid, shape, kept):
    # Splat's logistic dropout on log λ; λ of inverted entries is drawn given Y (see module)
    for n in range(y.shape[0]):
        kept[n] = y[n]
        if y[n] == 0:
            continue
        mean = cand_mu[n]
        scale = cand_x[n]
        if (mean <= MAX_INVERSION_MEAN) & (scale <= MAX_INVERSION_SCALE):
            lam[n] = rng.standard_gamma(mean / scale + y[n]) * (scale / (1.0 + scale))
        prob = 1.0 / (1.0 + np.exp(-shape * (np.log(lam[n]) - mid)))
        if rng.random() < prob:
            kept[n] = 0


@jit_kernel
def draw_block(
    rng,
    seed,
    drop_rng,
    lib_size,
    profile_index,
    profile_table,
    rsqrt_table,
    bcv_common,
    bcv_factor,
    dropout,
    drop_mid,
    drop_shape,
    data,
    indices,
    row_nnz,
    true_data,
    true_indices,
    true_row_nnz,
    nnz,
    true_nnz,
):
    """Draw the counts of one block of cells into CSR buffers; return the new ``(nnz, true_nnz)``.

    ``rng`` is the block's generator, ``seed`` (uint64) the key of its uniforms and ``drop_rng``
    the generator of its dropout. Row ``i`` goes to ``row_nnz[i]`` and after ``nnz`` in
    ``data``/``indices``, which must have room for every entry of the rows. With ``dropout``,
    the counts after dropout go there and the counts before dropout to the ``true_*`` buffers,
    which are otherwise unused.
    """
    n_genes = profile_table.shape[1]
    tile = min(TILE, n_genes)
    work = work_arrays(tile)
    mu, x, bound, cand, _, cand_mu, cand_x, y, lam, _, _, _, _, _ = work
    kept = np.empty(tile, dtype=np.int64)
    for i in range(lib_size.shape[0]):
        lib = lib_size[i]
        rsqrt_lib = 1.0 / np.sqrt(lib)
        profile = profile_table[profile_index[i]]
        rsqrt_profile = rsqrt_table[profile_index[i]]
        row_start, true_row_start = nnz, true_nnz
        for start in range(0, n_genes, tile):
            stop = min(start + tile, n_genes)
            width = stop - start
            _means_and_zero_bounds(
                lib, rsqrt_lib, profile[start:stop], rsqrt_profile[start:stop], bcv_common,
                bcv_factor[start:stop], mu[:width], x[:width], bound[:width],
            )  # fmt: skip
            n = draw_tile(rng, seed, i * n_genes + start, width, work)
            if dropout:
                true_nnz = emit(start, cand, y[:n], true_data, true_indices, true_nnz)
                _dropout(drop_rng, cand_mu, cand_x, y[:n], lam, drop_mid[i], drop_shape[i], kept)
                nnz = emit(start, cand, kept[:n], data, indices, nnz)
            else:
                nnz = emit(start, cand, y[:n], data, indices, nnz)
        row_nnz[i] = nnz - row_start
        if dropout:
            true_row_nnz[i] = true_nnz - true_row_start
    return nnz, true_nnz


# Values a piece has room for at first: as many as a default chunk has entries (see _simulate).
_FIRST_ROOM = 2**21


def _with_room(piece: Piece, nnz: int, room: int) -> Piece:
    """``piece``, or a copy of its first ``nnz`` values with room for ``room`` more after them.

    The sampler writes every entry's slot before knowing which are zero, so a block of rows
    needs room for all its entries; pages past the values written are never touched. Capacity
    at least doubles when it grows, so copies cost little even for huge chunks.
    """
    if nnz + room <= piece.data.size:
        return piece
    capacity = max(2 * piece.data.size, nnz + room)
    data = np.empty(capacity, dtype=np.float32)
    indices = np.empty(capacity, dtype=np.int32)
    data[:nnz] = piece.data[:nnz]
    indices[:nnz] = piece.indices[:nnz]
    return Piece(data, indices, piece.row_nnz)


def _empty_rows(n_rows: int, n_genes: int) -> Piece:
    room = min(n_rows * n_genes, max(BLOCK_CELLS * n_genes, _FIRST_ROOM))
    return Piece(
        data=np.empty(room, dtype=np.float32),
        indices=np.empty(room, dtype=np.int32),
        row_nnz=np.empty(n_rows, dtype=np.int64),
    )


def simulate_cells(
    seed: int,
    first_cell: int,
    lib_size: np.ndarray,
    profile_index: np.ndarray,
    genes: Expression,
    dropout: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[Piece, Piece | None]:
    """Simulate the cells from ``first_cell`` (a multiple of ``BLOCK_CELLS``) on.

    Each block of ``BLOCK_CELLS`` cells draws from its own streams (see
    :mod:`~sc_synth.pp._counts`). Returns the counts and, with dropout, the counts before
    dropout (else ``None``); ``dropout`` holds the per-cell logistic midpoints and shapes.
    """
    n_rows, n_genes = lib_size.shape[0], genes.profile_table.shape[1]
    counts = _empty_rows(n_rows, n_genes)
    truth = _empty_rows(n_rows, n_genes) if dropout is not None else _empty_rows(0, 0)
    # fixed dtypes and layouts, so that one compiled (and cached) version of the sampler serves
    lib_size = np.ascontiguousarray(lib_size, dtype=np.float64)
    profile_index = np.ascontiguousarray(profile_index, dtype=np.int64)
    mid, shape = (
        (np.ascontiguousarray(d, dtype=np.float64) for d in dropout)
        if dropout is not None
        else (np.empty(0), np.empty(0))
    )
    nnz = true_nnz = 0
    for first in range(0, n_rows, BLOCK_CELLS):
        cut = slice(first, min(first + BLOCK_CELLS, n_rows))
        room = (cut.stop - cut.start) * n_genes
        counts = _with_room(counts, nnz, room)
        if dropout is not None:
            truth = _with_room(truth, true_nnz, room)
        block = (first_cell + first) // BLOCK_CELLS
        rng = block_stream(seed, block)
        drop_rng = dropout_stream(seed, block) if dropout is not None else rng
        nnz, true_nnz = draw_block(
            rng, rng.integers(2**64, dtype=np.uint64), drop_rng, lib_size[cut], profile_index[cut],
            genes.profile_table, genes.rsqrt_table, genes.bcv_common, genes.bcv_factor,
            dropout is not None, mid[cut], shape[cut], counts.data, counts.indices,
            counts.row_nnz[cut], truth.data, truth.indices, truth.row_nnz[cut], nnz, true_nnz,
        )  # fmt: skip
    counts = Piece(counts.data[:nnz], counts.indices[:nnz], counts.row_nnz)
    if dropout is None:
        return counts, None
    return counts, Piece(truth.data[:true_nnz], truth.indices[:true_nnz], truth.row_nnz)
