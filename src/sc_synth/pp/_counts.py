"""Compiled sampler of Splat counts: negative binomial draws by CDF inversion, tile by tile.

Splat draws a cell mean ``λ ~ Gamma(shape=1/φ, scale=μφ)`` and a count ``Y ~ Poisson(λ)`` per
entry, so ``Y`` is negative binomial with mean ``μ`` and size ``a = 1/φ``. With ``x = μφ``
(the gamma scale) and ``r = x / (1 + x)``::

    P(Y = 0) = (1 + x)^-a,    P(Y = k) = P(Y = k - 1) · (k - 1 + a) r / k

and ``Y`` is drawn exactly by inverting this CDF with one uniform ``u`` per entry: ``Y`` is the
number of ``k`` with ``P(Y <= k) <= u``. Inversion takes about ``μ`` steps, so entries with a
large mean (or an extreme BCV, whose long tail would take many steps) draw ``λ`` and ``Y`` as
Splat does, from the block's numpy generator.

Work runs on one tile of genes of one cell at a time, in passes that the compiler vectorises or
that have no branch on the random draws:

1. means, ``x`` and a lower bound of ``P(Y = 0)`` for every entry;
2. a uniform per entry; one below the bound is a zero without any ``log`` or ``exp`` (most
   zeros, which are the majority of entries at usual depths); the others are "candidates";
3. the exact ``P(Y = 0)`` and the first inversion steps of every candidate;
4. sweeps of further steps for the candidates still unfinished, the finished ones dropping out
   between sweeps.

Dropout needs ``λ`` of non-zero entries: given ``Y = y``, ``λ ~ Gamma(a + y, scale=r)``
(gamma-Poisson conjugacy), so drawing ``λ`` after ``Y`` gives Splat's joint law of ``(λ, Y)``.
Dropout draws from a generator of its own, so the counts before dropout are those drawn
without dropout.

The uniforms come from SplitMix64 (the generator that seeds numpy's and Java's) in counter form:
the uniform of entry ``(i, j)`` of a block hashes ``seed + (i · n_genes + j + 1) · γ``, with
``seed`` drawn from the block's generator, so it does not depend on the tiling.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

# Genes per tile: the working arrays of one tile stay in the core's fast caches.
TILE = 2048

# Inversion is used up to this mean (it takes about one step per unit of mean, and a gamma and a
# Poisson draw cost about as much as 150 steps)...
MAX_INVERSION_MEAN = 100.0
# ...and up to this gamma scale x, so that the steps' ratio r = x / (1 + x) stays below 0.985:
# the search then ends within a few thousand steps, and the rounding of the running CDF stays
# below 1e-12.
MAX_INVERSION_SCALE = 64.0

# Inversion steps taken by the vectorised pass, for every candidate, before the search...
_FIRST_STEPS = 8
# ...and by each sweep of the search, for every candidate still unfinished.
_SWEEP_STEPS = 16

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 2.0**-53

# Cody-Waite split of log(2): n · _LN2_HI is exact for the exponents met here.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
# Adding 2**52 puts a small non-negative integer in the low bits of a double: _TWO52's bits.
_TWO52 = 4503599627370496.0
_TWO52_BITS = 0x4330000000000000
_ONE_BITS = 0x3FF0000000000000
_MANTISSA = 0xFFFFFFFFFFFFF
_INV_FACTORIALS = 1.0 / np.cumprod(np.r_[1.0, np.arange(1.0, 14.0)])

# error_model="numpy" drops Python's zero-division checks, which would keep the compiler from
# vectorising the arithmetic passes: a zero denominator gives inf or NaN, which the passes turn
# into a zero count or route to the gamma-Poisson draw.
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
# Contracting a * b + c into one fused multiply-add only removes a rounding.
_jit_vector = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})


@intrinsic
def _bits(typingctx, value):
    # the IEEE-754 bits of a double, as an int64 (the vectorised log and exp need them)
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, bits):
    # the double with the given IEEE-754 bits
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"}, inline="always")
def _log(y):
    """``log(y)`` for finite ``y >= 1``, within 2 ulp, in operations the compiler vectorises.

    ``y = 2^e m`` with ``m`` in ``[√½, √2)``; ``log m = 2 atanh(s)`` with ``s = (m - 1)/(m + 1)``,
    ``|s| < 0.172``, whose odd series stops where its terms fall below ``1e-19``.
    """
    bits = _bits(y)
    m = _from_bits((bits & _MANTISSA) | _ONE_BITS)
    high = m > _SQRT2
    m = m * 0.5 if high else m
    e = _from_bits((bits >> 52) | _TWO52_BITS) - (_TWO52 + 1023.0) + high
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    series = 1.0 / 21.0
    for k in range(9, 0, -1):
        series = series * z + 1.0 / (2 * k + 1)
    return e * _LN2_HI + (2.0 * s + (2.0 * s * z * series + e * _LN2_LO))


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"}, inline="always")
def _exp_neg(g):
    """``exp(-g)`` for ``0 <= g <= 700``, within 1 ulp, in operations the compiler vectorises.

    ``exp(-g) = 2^-n exp(r)`` with ``n`` the integer nearest ``g / log 2`` and ``|r| <= log(2)/2``,
    whose Taylor series stops at degree 13 (remainder below ``1e-17``).
    """
    n = np.floor(g * (1.0 / _LN2_HI) + 0.5)
    r = (n * _LN2_HI - g) + n * _LN2_LO
    series = _INV_FACTORIALS[13]
    for k in range(12, -1, -1):
        series = series * r + _INV_FACTORIALS[k]
    return series * _from_bits((1023 - (_bits(n + _TWO52) - _TWO52_BITS)) << 52)


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"}, inline="always")
def _zero_bound(mean, scale):
    """Bound P(Y = 0) from below for mean ``mean`` and gamma scale ``scale``; 0 past inversion.

    With ``g = a log(1 + x)``, ``P(Y = 0) = exp(-g)``. Since ``log(1 + x) <= x (6 + x) / (6 + 4x)``
    and ``a x = μ``, ``g <= h = μ (6 + x) / (6 + 4x)``, and ``exp(-g) >= max(1 - h/8, 0)^8``.
    """
    h = mean * (6.0 + scale) / (6.0 + 4.0 * scale)
    z = max(1.0 - 0.125 * h, 0.0)
    z *= z
    z *= z
    z *= z
    inverted = (mean <= MAX_INVERSION_MEAN) & (scale <= MAX_INVERSION_SCALE)
    return z if inverted else 0.0


@_jit_vector
def _means_and_zero_bounds(
    lib, rsqrt_lib, profile, rsqrt_profile, bcv_common, bcv_factor, mu, x, bound
):
    """Means, gamma scales and a lower bound of P(Y = 0) for one tile (0 where inversion is off)."""
    for t in range(mu.shape[0]):
        mean = profile[t] * lib
        s = (bcv_common + rsqrt_profile[t] * rsqrt_lib) * bcv_factor[t]
        scale = mean * s * s
        bound[t] = _zero_bound(mean, scale)
        mu[t] = mean
        x[t] = scale


@_jit
def _candidates(seed, counter, bound, mu, x, cand, cand_u, cand_mu, cand_x):
    """Draw the tile's uniforms and list the entries not settled as zeros by the bound.

    The uniform of entry ``t`` is SplitMix64's output for ``seed + (counter + t + 1) γ`` on the
    53-bit grid of ``[0, 1)``. Listing makes this loop scalar, which suits the hash: its 64-bit
    products are slower in vector registers.
    """
    n = 0
    base = seed + np.uint64(counter) * _GOLDEN
    for t in range(bound.shape[0]):
        z = base + np.uint64(t + 1) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z ^= z >> np.uint64(31)
        u = np.int64(z >> np.uint64(11)) * _TO_UNIT
        cand[n] = t
        cand_u[n] = u
        cand_mu[n] = mu[t]
        cand_x[n] = x[t]
        n += u >= bound[t]
    return n


@_jit_vector
def _first_steps(cand_u, cand_mu, cand_x, y, p, q, r, v):
    """Exact P(Y = 0) and the first inversion steps of every candidate.

    Leaves ``y`` = the number of ``k <= _FIRST_STEPS`` with ``P(Y <= k) <= u`` and, for
    ``k = _FIRST_STEPS``, ``P(Y = k)`` in ``p``, ``(k + a) r`` in ``q`` and ``u - P(Y <= k)``
    in ``v``. Values for candidates outside the inversion range are meaningless.
    """
    for n in range(cand_u.shape[0]):
        mean = cand_mu[n]
        scale = cand_x[n]
        one_plus = 1.0 + scale
        inv = 1.0 / one_plus
        # log(1 + x), corrected for the rounding of 1 + x
        log_y0 = _log(one_plus) + (scale - (one_plus - 1.0)) * inv
        prob = _exp_neg(mean / scale * log_y0)
        ratio = scale * inv
        step = mean * inv
        left = cand_u[n] - prob
        count = left >= 0.0
        for k in range(1, _FIRST_STEPS + 1):
            prob *= step * (1.0 / k)
            step += ratio
            left -= prob
            count += (left >= 0.0) & (prob > 0.0)
        y[n] = count
        p[n] = prob
        q[n] = step
        r[n] = ratio
        v[n] = left


@_jit
def _pack_unfinished(rng, cand_mu, cand_x, y, lam, p, q, r, v, act_n):
    """Move the candidates whose inversion goes on to the front; draw the others' gamma-Poisson.

    Returns how many go on; ``act_n`` maps them back to candidates. After the first steps few
    go on, so the branch is well predicted.
    """
    n_active = 0
    for n in range(cand_mu.shape[0]):
        mean = cand_mu[n]
        scale = cand_x[n]
        if not ((mean <= MAX_INVERSION_MEAN) & (scale <= MAX_INVERSION_SCALE)):
            lam[n] = rng.standard_gamma(mean / scale) * scale
            y[n] = rng.poisson(lam[n])
        elif (v[n] >= 0.0) & (p[n] > 0.0):
            p[n_active] = p[n]
            q[n_active] = q[n]
            r[n_active] = r[n]
            v[n_active] = v[n]
            act_n[n_active] = n
            n_active += 1
    return n_active


@_jit_vector
def _steps(inv_k, p, q, r, v, more):
    """Take the next inversion steps (``1 / k`` in ``inv_k``) of every unfinished candidate.

    ``more[m]`` is the number of these steps after which ``P(Y <= k) <= u`` still holds.
    """
    for m in range(p.shape[0]):
        prob = p[m]
        step = q[m]
        left = v[m]
        ratio = r[m]
        count = 0
        for s in range(_SWEEP_STEPS):
            prob *= step * inv_k[s]
            step += ratio
            left -= prob
            # should rounding leave the summed CDF below u for good, P(Y = k) reaching 0 ends it
            count += (left >= 0.0) & (prob > 0.0)
        p[m] = prob
        q[m] = step
        v[m] = left
        more[m] = count


@_jit
def _search(n_active, y, p, q, r, v, act_n):
    """Advance the inversion of the unfinished candidates until all stop.

    Each sweep takes ``_SWEEP_STEPS`` steps of every unfinished candidate in vector registers,
    then packs the still unfinished ones to the front.
    """
    inv_k = np.empty(_SWEEP_STEPS)
    more = np.empty(n_active, dtype=np.int64)
    k = _FIRST_STEPS
    while n_active > 0:
        for s in range(_SWEEP_STEPS):
            inv_k[s] = 1.0 / (k + s + 1)
        _steps(inv_k, p[:n_active], q[:n_active], r[:n_active], v[:n_active], more[:n_active])
        kept = 0
        for m in range(n_active):
            n = act_n[m]
            y[n] += more[m]
            p[kept] = p[m]
            q[kept] = q[m]
            r[kept] = r[m]
            v[kept] = v[m]
            act_n[kept] = n
            kept += more[m] == _SWEEP_STEPS
        n_active = kept
        k += _SWEEP_STEPS


@_jit
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


@_jit
def _emit(first_gene, cand, counts, data, indices, nnz):
    # append the non-zero counts; writing every candidate needs room for all the row's entries
    for n in range(counts.shape[0]):
        data[nnz] = counts[n]
        indices[nnz] = first_gene + cand[n]
        nnz += counts[n] > 0
    return nnz


@_jit
def _work_arrays(tile):
    """Scratch arrays of one tile: entries, candidates and the unfinished candidates' state."""
    return (
        np.empty(tile),  # mu
        np.empty(tile),  # x
        np.empty(tile),  # bound
        np.empty(tile, dtype=np.int32),  # cand
        np.empty(tile),  # cand_u
        np.empty(tile),  # cand_mu
        np.empty(tile),  # cand_x
        np.empty(tile, dtype=np.int64),  # y
        np.empty(tile),  # lam
        np.empty(tile),  # p
        np.empty(tile),  # q
        np.empty(tile),  # r
        np.empty(tile),  # v
        np.empty(tile, dtype=np.int32),  # act_n
    )


@_jit
def _draw_tile(rng, seed, counter, width, work):
    """Draw the counts of the tile's candidates from the means and bounds already in ``work``.

    Returns the number of candidates ``n``: their tile positions are ``cand[:n]`` and their
    counts ``y[:n]`` (zeros included).
    """
    mu, x, bound, cand, cand_u, cand_mu, cand_x, y, lam, p, q, r, v, act_n = work
    n = _candidates(seed, counter, bound[:width], mu, x, cand, cand_u, cand_mu, cand_x)
    _first_steps(cand_u[:n], cand_mu[:n], cand_x[:n], y[:n], p[:n], q[:n], r[:n], v[:n])
    n_active = _pack_unfinished(rng, cand_mu[:n], cand_x[:n], y, lam, p, q, r, v, act_n)
    _search(n_active, y, p, q, r, v, act_n)
    return n


@_jit
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
    work = _work_arrays(tile)
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
            n = _draw_tile(rng, seed, i * n_genes + start, width, work)
            if dropout:
                true_nnz = _emit(start, cand, y[:n], true_data, true_indices, true_nnz)
                _dropout(drop_rng, cand_mu, cand_x, y[:n], lam, drop_mid[i], drop_shape[i], kept)
                nnz = _emit(start, cand, kept[:n], data, indices, nnz)
            else:
                nnz = _emit(start, cand, y[:n], data, indices, nnz)
        row_nnz[i] = nnz - row_start
        if dropout:
            true_row_nnz[i] = true_nnz - true_row_start
    return nnz, true_nnz


@_jit_vector
def _nb_zero_bounds(mean, size, mu, x, bound):
    """Gamma scales ``x = μ / a`` and the bound of P(Y = 0) for given means and sizes."""
    for t in range(mu.shape[0]):
        scale = mean[t] / size[t]
        bound[t] = _zero_bound(mean[t], scale)
        mu[t] = mean[t]
        x[t] = scale


@_jit
def draw_negative_binomial(rng, seed, mean, size, size_index, data, indices, row_nnz):
    """Negative binomial counts with mean ``mean[i, j]`` and size ``size[size_index[i], j]``.

    The same inversion as Splat's counts, for means given per entry (e.g. a decoder's output):
    row ``i`` goes to ``row_nnz[i]``, its values and columns one after the other into
    ``data``/``indices``, which need room for every entry. Returns the number of non-zeros.
    ``seed`` keys the uniforms of entry ``(i, j)`` as in ``draw_block``; ``rng`` draws the
    gamma-Poisson of entries outside the inversion range.
    """
    n_genes = mean.shape[1]
    tile = min(TILE, n_genes)
    work = _work_arrays(tile)
    mu, x, bound, cand, _, _, _, y, _, _, _, _, _, _ = work
    nnz = 0
    for i in range(mean.shape[0]):
        row_start = nnz
        row_size = size[size_index[i]]
        for start in range(0, n_genes, tile):
            stop = min(start + tile, n_genes)
            width = stop - start
            _nb_zero_bounds(
                mean[i, start:stop], row_size[start:stop], mu[:width], x[:width], bound[:width]
            )
            n = _draw_tile(rng, seed, i * n_genes + start, width, work)
            nnz = _emit(start, cand, y[:n], data, indices, nnz)
        row_nnz[i] = nnz - row_start
    return nnz
