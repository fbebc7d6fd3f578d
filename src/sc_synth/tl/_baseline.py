"""The evaluation floor: independent negative binomials per label, fitted by moments."""

from __future__ import annotations

import numpy as np
from scipy import sparse

_CHUNK = 4096  # cells drawn at once, to bound memory on large data


def nb_per_label(counts, labels: np.ndarray, seed: int) -> sparse.csr_matrix:
    """Draw one cell per input cell, with its label, from a negative binomial fitted to that label.

    Per label: one pooled expression profile (gene share of the label's total counts), a per-gene
    dispersion from the moments of the counts around ``profile * library size``, and library sizes
    resampled from the label's cells. Genes are independent given the library size.

    Parameters
    ----------
    counts
        Cells x genes counts (dense or sparse) to fit.
    labels
        One label per cell.
    seed
        Seed of the draws.

    Returns
    -------
    Cells x genes counts (``float32`` CSR) in the input's cell order.
    """
    rng = np.random.default_rng(seed)
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    blocks, order = [], []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        x = counts[rows].toarray()
        library = x.sum(axis=1)
        profile = x.sum(axis=0) / max(library.sum(), 1.0)
        mu = np.outer(library, profile)
        # NB variance mu + phi mu^2: phi by moments, clipped at 0 (Poisson) where counts underdisperse
        excess = ((x - mu) ** 2 - mu).sum(axis=0)
        phi = np.maximum(excess / np.maximum((mu**2).sum(axis=0), 1e-300), 0.0)
        for start in range(0, len(rows), _CHUNK):
            n = min(_CHUNK, len(rows) - start)
            mean = np.outer(rng.choice(library, n, replace=True), profile)
            rate = np.where(phi > 0, rng.gamma(1.0 / np.where(phi > 0, phi, 1.0), mean * phi), mean)
            blocks.append(sparse.csr_matrix(rng.poisson(rate).astype(np.float32)))
            order.append(rows[start : start + n])
    drawn = sparse.vstack(blocks, format="csr")
    return drawn[np.argsort(np.concatenate(order))]
