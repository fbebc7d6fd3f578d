"""Exact nearest-neighbour radii and ball membership, chunked.

Every pass walks the full query-by-reference distance matrix one tile at a time and never stores
it: a tile of dot products comes from a float32 matrix product (torch) and compiled scans (numba)
reduce it at once. The scans first test whole stretches of a row with branch-free arithmetic that
the compiler turns into vector instructions, and look at single entries only where a stretch holds
a candidate. float32 products are only a filter: every decision whose float32 squared distance lies
within a rigorous rounding bound of its threshold is recomputed from the float64 coordinates by
direct differences, so the results equal those of a float64 brute-force pass.

Tiles are shared out to worker threads, each running single-threaded products and scans that
release the GIL; a worker keeps private copies of everything that tiles of other workers also
update, and the copies are merged at the end. None of the kernels uses numba's own parallel
layer: its OpenMP threads would share state with torch's and change torch's thread count for
everything the user runs afterwards.
"""

from __future__ import annotations

import queue
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numba
import numpy as np
import torch

from .._core._manifold import in_ball

_TILE = 2048  # square tiles of 16 MiB of float32 products, one buffer per worker
_STRETCH = 128  # columns tested at once before single entries are looked at
_EXTRA = 8  # candidates kept beyond the k-th, so the exactness check almost never falls back
_U32 = 2.0**-24
_SMALL = 1 << 22  # below this many point pairs, a second worker costs more than it saves
# Vector instructions need reassociation; every value they produce is only compared with a
# threshold that carries its own rounding allowance, or recomputed exactly.
_FAST = {"nnan", "ninf", "nsz", "reassoc", "contract"}
# The ball rule, for the exact decisions; the float32 filters only bracket its threshold.
_in_ball = numba.njit(cache=True, nogil=True, inline="always")(in_ball)


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


def _tiles(n: int) -> list[tuple[int, int]]:
    return [(start, min(n, start + _TILE)) for start in range(0, n, _TILE)]


def _n_workers(n_pairs: int) -> int:
    return 1 if n_pairs < _SMALL else max(1, torch.get_num_threads())


@contextmanager
def _single_threaded_products():
    # the workers are the parallelism; products spreading over threads of their own would only
    # compete with them. float32 products must stay IEEE single precision for the bound to hold.
    threads, precision = torch.get_num_threads(), torch.get_float32_matmul_precision()
    torch.set_num_threads(1)
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_float32_matmul_precision(precision)


def _run_workers(n_workers: int, tasks: list, work) -> None:
    """Call ``work(worker, task, buffer)`` for every task, spread over ``n_workers`` threads."""
    pending = queue.SimpleQueue()
    for task in tasks:
        pending.put(task)

    def worker(index: int) -> None:
        buffer = torch.empty(_TILE * _TILE, dtype=torch.float32)
        while True:
            try:
                task = pending.get_nowait()
            except queue.Empty:
                return
            work(index, task, buffer)

    with _single_threaded_products():
        if n_workers == 1:
            worker(0)
            return
        with ThreadPoolExecutor(n_workers) as pool:
            for future in [pool.submit(worker, index) for index in range(n_workers)]:
                future.result()


def _products(q: _Points, r: _Points, rows: tuple[int, int], cols: tuple[int, int], buffer):
    (i0, i1), (j0, j1) = rows, cols
    out = buffer[: (i1 - i0) * (j1 - j0)].view(i1 - i0, j1 - j0)
    return torch.mm(q.x32[i0:i1], r.x32[j0:j1].T, out=out).numpy()


@numba.njit(cache=True, inline="always")
def _sqdist(a, b):
    s = 0.0
    for t in range(a.shape[0]):
        diff = a[t] - b[t]
        s += diff * diff
    return s


@numba.njit(cache=True, inline="always")
def _insert(best_d, best_j, i, d, j):
    # best_d[i] holds the smallest float32-filtered squared distances seen so far, ascending
    p = best_d.shape[1] - 1
    while p > 0 and best_d[i, p - 1] > d:
        best_d[i, p] = best_d[i, p - 1]
        best_j[i, p] = best_j[i, p - 1]
        p -= 1
    best_d[i, p] = d
    best_j[i, p] = j


# The vector loops run over views from index 0: with a loop starting elsewhere, numba's handling of
# negative indices keeps the compiler from vectorising them.
@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _n_below(offset, g, threshold):
    # how many of offset - 2 g fall below a threshold
    n = 0
    for c in range(g.shape[0]):
        n += offset[c] - 2.0 * g[c] < threshold
    return n


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _n_below_each(offset, g, thresholds):
    # the same with one offset and one threshold per entry
    n = 0
    for c in range(g.shape[0]):
        n += offset - 2.0 * g[c] < thresholds[c]
    return n


@numba.njit(cache=True, nogil=True)
def _keep_smallest(g, i0, j0, q_sq, r_sq, best_d, best_j):
    """Offer every entry of a tile to its row's list of smallest squared distances."""
    n_keep = best_d.shape[1]
    n_cols = g.shape[1]
    r_tile = r_sq[j0 : j0 + n_cols]
    slack = 1e-12 * (q_sq[i0 : i0 + g.shape[0]].max() + r_tile.max())
    for ii in range(g.shape[0]):
        i = i0 + ii
        row = g[ii]
        for c0 in range(0, n_cols, _STRETCH):
            c1 = min(c0 + _STRETCH, n_cols)
            worst = best_d[i, n_keep - 1]
            if _n_below(r_tile[c0:c1], row[c0:c1], worst - q_sq[i] + slack) == 0:
                continue
            for c in range(c0, c1):
                d = q_sq[i] + r_tile[c] - 2.0 * row[c]
                if d < best_d[i, n_keep - 1]:
                    _insert(best_d, best_j, i, d, j0 + c)


@numba.njit(cache=True, nogil=True)
def _keep_smallest_by_column(g, i0, j0, sq, best_d, best_j):
    """Offer every entry of a tile to its column's list: the transposed tile of a symmetric pass."""
    n_keep = best_d.shape[1]
    n_rows, n_cols = g.shape
    slack = 1e-12 * (sq[i0 : i0 + n_rows].max() + sq[j0 : j0 + n_cols].max())
    limit = np.empty(n_cols)
    for c in range(n_cols):
        limit[c] = best_d[j0 + c, n_keep - 1] - sq[j0 + c] + slack
    for ii in range(n_rows):
        row = g[ii]
        sq_i = sq[i0 + ii]
        for c0 in range(0, n_cols, _STRETCH):
            c1 = min(c0 + _STRETCH, n_cols)
            if _n_below_each(sq_i, row[c0:c1], limit[c0:c1]) == 0:
                continue
            for c in range(c0, c1):
                j = j0 + c
                d = sq_i + sq[j] - 2.0 * row[c]
                if d < best_d[j, n_keep - 1]:
                    _insert(best_d, best_j, j, d, i0 + ii)
                    limit[c] = best_d[j, n_keep - 1] - sq[j] + slack


@numba.njit(cache=True, nogil=True)
def _merge_lists(best_d, best_j, extra_d, extra_j):
    # fold each worker's private lists into the main ones
    for w in range(extra_d.shape[0]):
        for i in range(best_d.shape[0]):
            for p in range(extra_d.shape[2]):
                d = extra_d[w, i, p]
                if d >= best_d[i, best_d.shape[1] - 1]:
                    break
                _insert(best_d, best_j, i, d, extra_j[w, i, p])


@numba.njit(cache=True, nogil=True)
def _exact_kth(q64, q_sq, q_norm, r64, r_sq, r_norm, best_d, best_j, kth, tol, rows, out):
    n_r = r64.shape[0]
    n_keep = min(best_d.shape[1], n_r)
    max_norm = r_norm.max()
    max_sq = r_sq.max()
    exact = np.empty(n_keep)
    for i in range(rows[0], rows[1]):
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


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _ball_stretch(g, a_sq_i, b_sq, lo_a, hi_a, lo_b, hi_b, counts):
    # counts the b points safely inside a's ball, the balls of b safely reaching a, and the
    # entries too close to either threshold to decide from float32 products
    inside_a = 0
    inside_b = 0
    unsure = 0
    for c in range(g.shape[0]):
        d = a_sq_i + b_sq[c] - 2.0 * g[c]
        in_a = d < lo_a
        in_b = d < lo_b[c]
        counts[c] += in_a
        inside_a += in_a
        inside_b += in_b
        unsure += (d < hi_a) - in_a + (d < hi_b[c]) - in_b
    return inside_a, inside_b, unsure


@numba.njit(cache=True, nogil=True)
def _scan_balls(
    g, i0, j0, a64, a_sq, a_norm, a_rad, b64, b_sq, b_norm, b_rad, tol, counts, a_covered, a_reached
):
    """Ball membership over one tile: a's balls holding b's points, b's balls reaching a's points.

    ``counts[j]`` gains the balls of a holding ``b_j``; ``a_covered[i]`` says a point of b lies in
    the ball of ``a_i``, ``a_reached[i]`` that ``a_i`` lies in a ball of b.
    """
    n_rows, n_cols = g.shape
    b_tile_sq = b_sq[j0 : j0 + n_cols]
    b_tile_norm = b_norm[j0 : j0 + n_cols]
    # one rounding allowance per row and per column, from the largest norm on the other side
    a_norm_max = a_norm[i0 : i0 + n_rows].max()
    a_sq_max = a_sq[i0 : i0 + n_rows].max()
    b_norm_max = b_tile_norm.max()
    b_sq_max = b_tile_sq.max()
    allow_b = tol * b_tile_norm * a_norm_max + 1e-13 * (b_tile_sq + a_sq_max)
    lo_b = b_rad[j0 : j0 + n_cols] - allow_b
    hi_b = b_rad[j0 : j0 + n_cols] + allow_b
    tile_counts = counts[j0 : j0 + n_cols]
    for ii in range(n_rows):
        i = i0 + ii
        row = g[ii]
        allow_a = tol * a_norm[i] * b_norm_max + 1e-13 * (a_sq[i] + b_sq_max)
        lo_a, hi_a = a_rad[i] - allow_a, a_rad[i] + allow_a
        covered = a_covered[i]
        reached = a_reached[i]
        for c0 in range(0, n_cols, _STRETCH):
            c1 = min(c0 + _STRETCH, n_cols)
            inside_a, inside_b, unsure = _ball_stretch(
                row[c0:c1],
                a_sq[i],
                b_tile_sq[c0:c1],
                lo_a,
                hi_a,
                lo_b[c0:c1],
                hi_b[c0:c1],
                tile_counts[c0:c1],
            )
            covered |= inside_a > 0
            reached |= inside_b > 0
            if unsure == 0:
                continue
            for c in range(c0, c1):
                d = a_sq[i] + b_tile_sq[c] - 2.0 * row[c]
                if lo_a <= d < hi_a and _in_ball(_sqdist(a64[i], b64[j0 + c]), a_rad[i]):
                    tile_counts[c] += 1
                    covered = True
                if lo_b[c] <= d < hi_b[c] and _in_ball(_sqdist(a64[i], b64[j0 + c]), b_rad[j0 + c]):
                    reached = True
        a_covered[i] = covered
        a_reached[i] = reached


def _kth_sq(q: _Points, r: _Points, kth: int, n_workers: int) -> np.ndarray:
    n_keep = kth + _EXTRA
    best_d = np.full((len(q), n_keep), np.inf)
    best_j = np.zeros((len(q), n_keep), dtype=np.int64)
    symmetric = q is r
    # in a symmetric pass each off-diagonal tile also serves its columns, which halves the
    # products; the columns' lists belong to other tiles' rows, so each worker keeps its own
    extra_d = np.full((n_workers if symmetric else 0, len(q), n_keep), np.inf)
    extra_j = np.zeros(extra_d.shape, dtype=np.int64)
    col_tiles = _tiles(len(r))

    def work(worker: int, rows: tuple[int, int], buffer) -> None:
        for cols in col_tiles:
            if symmetric and cols[0] < rows[0]:
                continue
            g = _products(q, r, rows, cols, buffer)
            _keep_smallest(g, rows[0], cols[0], q.sq, r.sq, best_d, best_j)
            if symmetric and cols[0] != rows[0]:
                _keep_smallest_by_column(
                    g, rows[0], cols[0], q.sq, extra_d[worker], extra_j[worker]
                )

    _run_workers(n_workers, _tiles(len(q)), work)
    _merge_lists(best_d, best_j, extra_d, extra_j)
    tol = _tolerance(q.x64.shape[1])
    out = np.empty(len(q))

    def exact(worker: int, rows: tuple[int, int], buffer) -> None:
        _exact_kth(q.x64, q.sq, q.norm, r.x64, r.sq, r.norm, best_d, best_j, kth, tol, rows, out)

    _run_workers(n_workers, _tiles(len(q)), exact)
    return out


def kth_neighbor_sq(query: np.ndarray, ref: np.ndarray, kth: int) -> np.ndarray:
    """Exact squared Euclidean distance from each query point to its ``kth`` nearest reference point.

    ``kth`` counts from 1, and a query point that is also in ``ref`` counts itself (distance 0), as
    in a full distance matrix: pass ``kth=k + 1`` for the k-NN radius of a set within itself.
    """
    if len(ref) < kth:
        raise ValueError(f"need at least {kth} reference points, got {len(ref)}")
    center = np.concatenate([query, ref]).mean(axis=0)
    n_workers = _n_workers(len(query) * len(ref))
    return _kth_sq(_Points(query, center), _Points(ref, center), kth, n_workers)


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
    n_workers = _n_workers(max(len(r), len(f)) ** 2)
    r_rad = _kth_sq(r, r, k + 1, n_workers)
    f_rad = _kth_sq(f, f, k + 1, n_workers)
    counts = np.zeros((n_workers, len(f)), dtype=np.int64)
    covered = np.zeros(len(r), dtype=bool)
    reached = np.zeros(len(r), dtype=bool)
    tol = _tolerance(r.x64.shape[1])
    col_tiles = _tiles(len(f))

    def work(worker: int, rows: tuple[int, int], buffer) -> None:
        for cols in col_tiles:
            g = _products(r, f, rows, cols, buffer)
            _scan_balls(
                g, rows[0], cols[0], r.x64, r.sq, r.norm, r_rad, f.x64, f.sq, f.norm, f_rad, tol,
                counts[worker], covered, reached,
            )  # fmt: skip

    _run_workers(n_workers, _tiles(len(r)), work)
    counts = counts.sum(axis=0)
    return {
        "precision": float(np.mean(counts > 0)),
        "recall": float(np.mean(reached)),
        "density": float(counts.sum() / (k * len(f))),
        "coverage": float(np.mean(covered)),
    }
