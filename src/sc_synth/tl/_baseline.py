"""The evaluation floor: independent negative binomials per label (and batch), fitted by moments."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from ..models._counts import negative_binomial_counts

_CHUNK = 4096  # cells drawn at once, to bound memory on large data
# A label x batch combination with fewer cells is fitted on its label's cells of all batches:
# moment dispersions from a handful of cells are noise.
MIN_CELLS_PER_BATCH = 10


def nb_per_label(
    counts, labels: np.ndarray, seed: int, batches: np.ndarray | None = None
) -> sparse.csr_matrix:
    """Draw one cell per input cell, with its label, from a negative binomial fitted to that label.

    Per label (per label and batch with ``batches``): one pooled expression profile (gene share
    of the cells' total counts), a per-gene dispersion from the moments of the counts around
    ``profile * library size``, and library sizes resampled from the same cells. Genes are
    independent given the library size. A label x batch combination with fewer than
    ``MIN_CELLS_PER_BATCH`` cells draws from the fit to all cells of its label, whatever their
    batch.

    Parameters
    ----------
    counts
        Cells x genes counts (dense or sparse) to fit.
    labels
        One label per cell.
    seed
        Seed of the draws.
    batches
        One batch per cell, or ``None`` to ignore batches.

    Returns
    -------
    Cells x genes counts (``float32`` CSR) in the input's cell order; each drawn cell has the label
    (and batch) of the input cell in its place. The counts come from the compiled sampler of
    :mod:`sc_synth._core._negative_binomial`, the same for a seed whatever the number of threads.
    """
    rng = np.random.default_rng(seed)
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    labels = np.asarray(labels)
    blocks, order = [], []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        if batches is None:
            fits = [(rows, rows)]
        else:
            batch_of = pd.Series(np.asarray(batches)[rows])
            sizes = batch_of.value_counts()
            small = batch_of.isin(sizes.index[sizes < MIN_CELLS_PER_BATCH]).to_numpy()
            fits = [
                (rows[(batch_of == batch).to_numpy()],) * 2
                for batch in sorted(sizes.index[sizes >= MIN_CELLS_PER_BATCH])
            ]
            if small.any():
                fits.append((rows, rows[small]))
        for fitted, drawn in fits:
            blocks += _draw(counts[fitted].toarray(), len(drawn), rng)
            order.append(drawn)
    drawn = sparse.vstack(blocks, format="csr")
    return drawn[np.argsort(np.concatenate(order))]


def _draw(x: np.ndarray, n: int, rng: np.random.Generator) -> list[sparse.csr_matrix]:
    """``n`` cells from independent negative binomials fitted by moments to the cells ``x``."""
    library, profile, phi = fit(x)
    # NB size 1 / phi; a gene fitted as Poisson (phi 0) has an infinite size, which the sampler
    # draws as Poisson
    size = np.divide(1.0, phi, out=np.full_like(phi, np.inf), where=phi > 0)
    blocks = []
    for start in range(0, n, _CHUNK):
        mean = np.outer(rng.choice(library, min(_CHUNK, n - start), replace=True), profile)
        blocks.append(negative_binomial_counts(mean, size, np.zeros(len(mean), int), rng))
    return blocks


def fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Library sizes, expression profile and per-gene dispersion φ of the cells ``x``.

    The profile is each gene's share of the total count; φ is fitted by moments of the counts
    around ``profile * library`` (NB variance ``μ + φ μ²``), and 0 (Poisson) where they
    underdisperse.
    """
    library = x.sum(axis=1)
    profile = x.sum(axis=0) / max(library.sum(), 1.0)
    mu = np.outer(library, profile)
    excess = ((x - mu) ** 2 - mu).sum(axis=0)
    phi = np.maximum(excess / np.maximum((mu**2).sum(axis=0), 1e-300), 0.0)
    return library, profile, phi
