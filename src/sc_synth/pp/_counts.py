"""Splat's counts: means from library sizes and profiles, the core's negative binomial, dropout.

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
