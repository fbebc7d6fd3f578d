"""Compiled negative binomial sampler: draws by CDF inversion, tile by tile, into CSR buffers.

A negative binomial count with mean ``μ`` and size ``a`` is a Poisson count of a gamma mean
``λ ~ Gamma(shape=a, scale=x)`` with ``x = μ / a``. With ``r = x / (1 + x)``::

    P(Y = 0) = (1 + x)^-a,    P(Y = k) = P(Y = k - 1) · (k - 1 + a) r / k

An infinite size (dispersion ``1 / a = 0``, so ``x = 0``) is the Poisson limit, which the same
steps draw: ``P(Y = 0) = exp(-μ)`` and ``P(Y = k) = P(Y = k - 1) · μ / k``.

and ``Y`` is drawn exactly by inverting this CDF with one uniform ``u`` per entry: ``Y`` is the
number of ``k`` with ``P(Y <= k) <= u``. Inversion takes about ``μ`` steps, so entries with a
large mean (or a large ``x``, whose long tail would take many steps) draw ``λ`` and ``Y`` from
the block's numpy generator instead.

Work runs on one tile of entries of one row at a time, in passes that the compiler vectorises or
that have no branch on the random draws:

1. means, ``x`` and a lower bound of ``P(Y = 0)`` for every entry (the caller's pass: Splat's
   counts compute the means from library sizes and profiles, a model hands them over);
2. a uniform per entry; one below the bound is a zero without any ``log`` or ``exp`` (most
   zeros, which are the majority of entries at usual depths); the others are "candidates";
3. the exact ``P(Y = 0)`` and the first inversion steps of every candidate;
4. sweeps of further steps for the candidates still unfinished, the finished ones dropping out
   between sweeps.

The uniforms come from SplitMix64 (the generator that seeds numpy's and Java's) in counter form:
the uniform of entry ``(i, j)`` of a block hashes ``seed + (i · n_genes + j + 1) · γ``, with
``seed`` drawn from the block's generator, so it does not depend on the tiling.

Shared by the simulator (:mod:`sc_synth.pp`) and the generators' sampling
(:mod:`sc_synth.models`).
"""

from __future__ import annotations

import numba
import numpy as np

from ._fastmath import fast_exp_neg, fast_log

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

# error_model="numpy" drops Python's zero-division checks, which would keep the compiler from
# vectorising the arithmetic passes: a zero denominator gives inf or NaN, which the passes turn
# into a zero count or route to the gamma-Poisson draw.
jit_kernel = numba.njit(cache=True, nogil=True, error_model="numpy")
# Contracting a * b + c into one fused multiply-add only removes a rounding.
jit_vector_kernel = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"}, inline="always")
def zero_bound(mean, scale):
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


@jit_kernel
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


@jit_vector_kernel
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
        log_y0 = fast_log(one_plus) + (scale - (one_plus - 1.0)) * inv
        # a log(1 + x), whose limit at x = 0 (infinite size: Poisson) is the mean
        prob = fast_exp_neg(mean / scale * log_y0 if scale > 0.0 else mean)
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


@jit_kernel
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
            # an infinite size (x = 0) has no gamma: λ is the mean
            lam[n] = rng.standard_gamma(mean / scale) * scale if scale > 0.0 else mean
            y[n] = rng.poisson(lam[n])
        elif (v[n] >= 0.0) & (p[n] > 0.0):
            p[n_active] = p[n]
            q[n_active] = q[n]
            r[n_active] = r[n]
            v[n_active] = v[n]
            act_n[n_active] = n
            n_active += 1
    return n_active


@jit_vector_kernel
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


@jit_kernel
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


@jit_kernel
def emit(first_gene, cand, counts, data, indices, nnz):
    # append the non-zero counts; writing every candidate needs room for all the row's entries
    for n in range(counts.shape[0]):
        data[nnz] = counts[n]
        indices[nnz] = first_gene + cand[n]
        nnz += counts[n] > 0
    return nnz


@jit_kernel
def work_arrays(tile):
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


@jit_kernel
def draw_tile(rng, seed, counter, width, work):
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


@jit_vector_kernel
def _nb_zero_bounds(mean, size, mu, x, bound):
    """Gamma scales ``x = μ / a`` and the bound of P(Y = 0) for given means and sizes.

    ``float32`` means become ``float64`` here, exactly, so that they draw the same counts.
    """
    for t in range(mu.shape[0]):
        m = np.float64(mean[t])
        scale = m / size[t]
        bound[t] = zero_bound(m, scale)
        mu[t] = m
        x[t] = scale


@jit_kernel
def draw_negative_binomial(rng, seed, mean, size, size_index, data, indices, row_nnz):
    """Negative binomial counts with mean ``mean[i, j]`` and size ``size[size_index[i], j]``.

    An infinite size draws Poisson counts. ``mean`` is ``float32`` or ``float64`` (compiled for
    each: a model's float32 means need no converted copy) and the same values draw the same
    counts in either.

    For means given per entry (e.g. a decoder's output; Splat's counts compute theirs in
    :func:`sc_synth.pp._counts.draw_block`): row ``i`` goes to ``row_nnz[i]``, its values and
    columns one after the other into ``data``/``indices``, which need room for every entry.
    Returns the number of non-zeros. ``seed`` keys the uniforms of entry ``(i, j)`` (see the
    module); ``rng`` draws the gamma-Poisson of entries outside the inversion range.
    """
    n_genes = mean.shape[1]
    tile = min(TILE, n_genes)
    work = work_arrays(tile)
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
            n = draw_tile(rng, seed, i * n_genes + start, width, work)
            nnz = emit(start, cand, y[:n], data, indices, nnz)
        row_nnz[i] = nnz - row_start
    return nnz
