"""Exact nearest-neighbour radii and ball membership, chunked.

Every pass walks the full query-by-reference distance matrix one tile at a time and never stores
it: a tile of dot products comes from a float32 matrix product (torch) and a compiled scan (numba)
reduces it at once. float32 products are only a filter: every decision whose float32 squared
distance lies within a rigorous rounding bound of its threshold is recomputed from the float64
coordinates by direct differences, so the results equal those of a float64 brute-force pass.
"""

from __future__ import annotations

from contextlib import contextmanager

import numba
import numpy as np
import torch

_TILE_ROWS = 1024
_TILE_COLS = 4096  # tiles of at most 16 MiB of float32 bound the memory of every pass
_EXTRA = 8  # candidates kept beyond the k-th, so the exactness check almost never falls back
_U32 = 2.0**-24
_SMALL = 1 << 22  # below this many point pairs, waking worker threads costs more than the pass


def _tolerance(n_dims: int) -> float:
    # |x32.y32 computed in float32 - x.y| <= (2u + gamma_D) |x||y| for any summation order; the
    # squared distance carries twice that. Doubled again for safety.
    gamma = n_dims * _U32 / (1 - n_dims * _U32)
    return 4.0 * (2.0 * _U32 + gamma)


class _Points:
    """A point set as the scans need it: centred float64 and float32 coordinates, norms."""

    def __init__(self, x: np.ndarray, center: np.ndarray):
        self.x64 = np.ascontiguousarray(x, dtype=np.float64) - center
        self.x32 = torch.from_numpy(self.x64.astype(np.float32))
        self.sq = np.einsum("ij,ij->i", self.x64, self.x64)
        self.norm = np.sqrt(self.sq)

    def __len__(self) -> int:
        return self.x64.shape[0]


@contextmanager
def _threads_for(n_pairs: int):
    previous = numba.get_num_threads()
    if n_pairs < _SMALL:
        numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _tiles(n: int, size: int):
    return [(start, min(n, start + size)) for start in range(0, n, size)]


def _dot_tiles(q: _Points, r: _Points, *, upper: bool = False):
    """Yield ``(i0, j0, g)`` with ``g`` the float32 dot products of one query-by-reference tile.

    With ``upper``, square tiles on and above the diagonal only (for ``q`` and ``r`` the same set).
    """
    rows, cols = (_TILE_COLS // 2, _TILE_COLS // 2) if upper else (_TILE_ROWS, _TILE_COLS)
    # float32 products must stay IEEE single precision for the rounding bound to hold
    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        # one buffer serves every tile, so a pass holds a single tile of products at a time
        buffer = torch.empty(rows * cols, dtype=torch.float32)
        for i0, i1 in _tiles(len(q), rows):
            for j0, j1 in _tiles(len(r), cols):
                if not upper or j0 >= i0:
                    out = buffer[: (i1 - i0) * (j1 - j0)].view(i1 - i0, j1 - j0)
                    yield i0, j0, torch.mm(q.x32[i0:i1], r.x32[j0:j1].T, out=out).numpy()
    finally:
        torch.set_float32_matmul_precision(precision)


@numba.njit(cache=True, inline="always")
def _sqdist(a, b):
    s = 0.0
    for t in range(a.shape[0]):
        diff = a[t] - b[t]
        s += diff * diff
    return s


@numba.njit(parallel=True, cache=True)
def _keep_smallest(g, i0, j0, q_sq, r_sq, best_d, best_j):
    # best_d[i] holds the smallest float32-filtered squared distances seen so far, ascending
    n_keep = best_d.shape[1]
    for ii in numba.prange(g.shape[0]):
        i = i0 + ii
        worst = best_d[i, n_keep - 1]
        for jj in range(g.shape[1]):
            d = q_sq[i] + r_sq[j0 + jj] - 2.0 * g[ii, jj]
            if d < worst:
                p = n_keep - 1
                while p > 0 and best_d[i, p - 1] > d:
                    best_d[i, p] = best_d[i, p - 1]
                    best_j[i, p] = best_j[i, p - 1]
                    p -= 1
                best_d[i, p] = d
                best_j[i, p] = j0 + jj
                worst = best_d[i, n_keep - 1]


@numba.njit(parallel=True, cache=True)
def _keep_smallest_by_column(g, i0, j0, sq, best_d, best_j, n_chunks):
    # _keep_smallest for the transposed tile of a symmetric pass: the columns' lists take the rows
    # as candidates. Each thread owns a range of columns and reads g row by row, in memory order.
    n_keep = best_d.shape[1]
    n_rows, n_cols = g.shape
    for chunk in numba.prange(n_chunks):
        c0 = chunk * n_cols // n_chunks
        c1 = (chunk + 1) * n_cols // n_chunks
        worst = best_d[j0 + c0 : j0 + c1, n_keep - 1].copy()
        for ii in range(n_rows):
            sq_i = sq[i0 + ii]
            for jj in range(c0, c1):
                d = sq_i + sq[j0 + jj] - 2.0 * g[ii, jj]
                if d < worst[jj - c0]:
                    j = j0 + jj
                    p = n_keep - 1
                    while p > 0 and best_d[j, p - 1] > d:
                        best_d[j, p] = best_d[j, p - 1]
                        best_j[j, p] = best_j[j, p - 1]
                        p -= 1
                    best_d[j, p] = d
                    best_j[j, p] = i0 + ii
                    worst[jj - c0] = best_d[j, n_keep - 1]


@numba.njit(parallel=True, cache=True)
def _exact_kth(q64, q_sq, q_norm, r64, r_sq, r_norm, best_d, best_j, kth, tol):
    n_r = r64.shape[0]
    n_keep = min(best_d.shape[1], n_r)
    max_norm = r_norm.max()
    max_sq = r_sq.max()
    out = np.empty(q64.shape[0])
    for i in numba.prange(q64.shape[0]):
        exact = np.empty(n_keep)
        for p in range(n_keep):
            exact[p] = _sqdist(q64[i], r64[best_j[i, p]])
        exact.sort()
        value = exact[kth - 1]
        if n_keep < n_r:
            # every point left out has a float32 distance >= the last one kept, hence an exact
            # distance >= that minus the bound; a k-th kept value below that is final
            bound = tol * q_norm[i] * max_norm + 1e-13 * (q_sq[i] + max_sq)
            if value > best_d[i, n_keep - 1] - bound:
                full = np.empty(n_r)
                for j in range(n_r):
                    full[j] = _sqdist(q64[i], r64[j])
                full.sort()
                value = full[kth - 1]
        out[i] = value
    return out


@numba.njit(cache=True, inline="always")
def _inside(d, threshold, bound, a, b):
    # the float32 verdict where it is safely away from the threshold, float64 recomputation else
    if d < threshold - bound:
        return True
    if d >= threshold + bound:
        return False
    return _sqdist(a, b) < threshold


@numba.njit(parallel=True, cache=True)
def _scan_balls(
    g, i0, j0, a64, a_sq, a_norm, a_rad, b64, b_sq, b_norm, b_rad, tol, counts, a_covered, a_reached
):
    # counts[s, j]: balls of a holding b_j, one row per slot so that no two threads share a cell
    n_slots = counts.shape[0]
    n_rows = g.shape[0]
    for slot in numba.prange(n_slots):
        for ii in range(slot * n_rows // n_slots, (slot + 1) * n_rows // n_slots):
            i = i0 + ii
            covered = a_covered[i]
            reached = a_reached[i]
            for jj in range(g.shape[1]):
                j = j0 + jj
                d = a_sq[i] + b_sq[j] - 2.0 * g[ii, jj]
                bound = tol * a_norm[i] * b_norm[j] + 1e-13 * (a_sq[i] + b_sq[j])
                if _inside(d, a_rad[i], bound, a64[i], b64[j]):
                    counts[slot, j] += 1
                    covered = True
                if not reached and _inside(d, b_rad[j], bound, a64[i], b64[j]):
                    reached = True
            a_covered[i] = covered
            a_reached[i] = reached


def _kth_sq(q: _Points, r: _Points, kth: int) -> np.ndarray:
    n_keep = kth + _EXTRA
    best_d = np.full((len(q), n_keep), np.inf)
    best_j = np.zeros((len(q), n_keep), dtype=np.int64)
    if q is r:
        # distances are symmetric: each off-diagonal tile serves its rows and, transposed, its
        # columns, which halves the matrix products
        for i0, j0, g in _dot_tiles(q, r, upper=True):
            _keep_smallest(g, i0, j0, q.sq, r.sq, best_d, best_j)
            if j0 != i0:
                chunks = min(g.shape[1], 4 * numba.get_num_threads())
                _keep_smallest_by_column(g, i0, j0, q.sq, best_d, best_j, chunks)
    else:
        for i0, j0, g in _dot_tiles(q, r):
            _keep_smallest(g, i0, j0, q.sq, r.sq, best_d, best_j)
    tol = _tolerance(q.x64.shape[1])
    return _exact_kth(q.x64, q.sq, q.norm, r.x64, r.sq, r.norm, best_d, best_j, kth, tol)


def kth_neighbor_sq(query: np.ndarray, ref: np.ndarray, kth: int) -> np.ndarray:
    """Exact squared Euclidean distance from each query point to its ``kth`` nearest reference point.

    ``kth`` counts from 1, and a query point that is also in ``ref`` counts itself (distance 0), as
    in a full distance matrix: pass ``kth=k + 1`` for the k-NN radius of a set within itself.
    """
    if len(ref) < kth:
        raise ValueError(f"need at least {kth} reference points, got {len(ref)}")
    center = np.concatenate([query, ref]).mean(axis=0)
    with _threads_for(len(query) * len(ref)):
        return _kth_sq(_Points(query, center), _Points(ref, center), kth)


def prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Precision, recall, density and coverage, exactly as from full distance matrices.

    Parameters
    ----------
    real, fake
        Points (cells by dimensions) of the two sets.
    k
        Neighbourhood size: a point's ball reaches its k-th nearest neighbour in its own set.

    Returns
    -------
    ``{"precision", "recall", "density", "coverage"}`` (Kynkäänniemi et al. 2019, Naeem et al. 2020).
    """
    center = np.concatenate([real, fake]).mean(axis=0)
    r, f = _Points(real, center), _Points(fake, center)
    with _threads_for(max(len(r), len(f)) ** 2):
        r_rad = _kth_sq(r, r, k + 1)
        f_rad = _kth_sq(f, f, k + 1)
        counts = np.zeros((numba.get_num_threads(), len(f)), dtype=np.int64)
        covered = np.zeros(len(r), dtype=bool)
        reached = np.zeros(len(r), dtype=bool)
        tol = _tolerance(r.x64.shape[1])
        for i0, j0, g in _dot_tiles(r, f):
            _scan_balls(
                g, i0, j0, r.x64, r.sq, r.norm, r_rad, f.x64, f.sq, f.norm, f_rad, tol,
                counts, covered, reached,
            )  # fmt: skip
    counts = counts.sum(axis=0)
    return {
        "precision": float(np.mean(counts > 0)),
        "recall": float(np.mean(reached)),
        "density": float(counts.sum() / (k * len(f))),
        "coverage": float(np.mean(covered)),
    }
