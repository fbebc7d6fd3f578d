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
    # one n x n matrix, worked on in place: distances, then the kernel
    kernel = _sq_distances(pooled)
    # the median heuristic keeps the kernel informative at any scale; a fixed gamma saturates
    bandwidth_sq = _median_off_diagonal(kernel)
    if bandwidth_sq <= 0:
        bandwidth_sq = 1.0
    kernel *= -1.0 / (2.0 * bandwidth_sq)
    np.exp(kernel, out=kernel)
    n, m = len(x_real), len(x_fake)
    k_rr, k_ff, k_rf = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    within_r = (k_rr.sum() - np.trace(k_rr)) / (n * (n - 1))
    within_f = (k_ff.sum() - np.trace(k_ff)) / (m * (m - 1))
    return float(within_r + within_f - 2.0 * k_rf.mean())


def _sq_distances(x: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between all rows of ``x``, clipped at 0."""
    sq = x @ x.T
    norms = np.diag(sq).copy()
    sq *= -2.0
    sq += norms[:, None]
    sq += norms[None, :]
    return np.maximum(sq, 0.0, out=sq)


def _median_off_diagonal(sq: np.ndarray) -> float:
    """Median of the upper triangle of ``sq`` (without its diagonal), as ``np.median`` gives it.

    Gathered row by row, where fancy indexing would build two index arrays as large, and
    selected with one partition (the lower middle value is the largest below the upper one).
    """
    upper = np.concatenate([sq[i, i + 1 :] for i in range(len(sq) - 1)])
    middle = len(upper) // 2
    upper.partition(middle)
    if len(upper) % 2:
        return float(upper[middle])
    return float((upper[middle] + upper[:middle].max()) / 2.0)
