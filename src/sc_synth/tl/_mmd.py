"""Maximum mean discrepancy between real and compared cells in the shared PCs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._classifier import at_most

if TYPE_CHECKING:
    from ._comparison import Row

COLUMNS = ["mmd"]
#: Cells per set beyond which the O(n^2) kernel works on a seeded subsample.
MAX_CELLS = 2000


def row(cells: Row) -> dict[str, float]:
    return {"mmd": mmd(cells.x_real, cells.x_cand, cells.seed)}


def mmd(x_real: np.ndarray, x_fake: np.ndarray, seed: int) -> float:
    """Unbiased squared MMD with an RBF kernel whose bandwidth is the median pooled distance."""
    rng = np.random.default_rng(seed)
    x_real = at_most(x_real, MAX_CELLS, rng).astype(np.float64)
    x_fake = at_most(x_fake, MAX_CELLS, rng).astype(np.float64)
    pooled = np.concatenate([x_real, x_fake])
    sq = _sq_distances(pooled, pooled)
    # the median heuristic keeps the kernel informative at any scale; a fixed gamma saturates
    off_diagonal = sq[np.triu_indices(len(pooled), k=1)]
    bandwidth_sq = np.median(off_diagonal)
    if bandwidth_sq <= 0:
        bandwidth_sq = 1.0
    kernel = np.exp(-sq / (2.0 * bandwidth_sq))
    n, m = len(x_real), len(x_fake)
    k_rr, k_ff, k_rf = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    within_r = (k_rr.sum() - np.trace(k_rr)) / (n * (n - 1))
    within_f = (k_ff.sum() - np.trace(k_ff)) / (m * (m - 1))
    return float(within_r + within_f - 2.0 * k_rf.mean())


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(sq, 0.0)
