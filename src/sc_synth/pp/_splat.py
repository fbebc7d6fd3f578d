"""The Splat model's random steps: gene-level truth drawn once, counts drawn per block of cells.

Randomness is split so that results do not depend on how cells are grouped for work:
gene-level draws and per-cell draws (library sizes, groups) come from their own streams,
and the count noise of every block of ``BLOCK_CELLS`` consecutive cells comes from a stream
keyed by the block's index alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK_CELLS = 64

# Spawn keys of the independent streams under the user's seed.
_GENE_STREAM, _CELL_STREAM, _BLOCK_STREAM = 0, 1, 2

# Floor for cell means so that genes with a zero mean give BCV = inf and counts of 0, not NaN.
_TINY_MEAN = np.float32(1e-30)


def stream(seed: int, *key: int) -> np.random.Generator:
    """Return a generator for stream ``key`` under ``seed``, independent of every other key."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def gene_stream(seed: int) -> np.random.Generator:
    """Stream for gene-level parameters."""
    return stream(seed, _GENE_STREAM)


def cell_stream(seed: int) -> np.random.Generator:
    """Stream for per-cell library sizes and group labels."""
    return stream(seed, _CELL_STREAM)


def block_stream(seed: int, block: int) -> np.random.Generator:
    """Stream for the count noise of block ``block`` of ``BLOCK_CELLS`` cells."""
    return stream(seed, _BLOCK_STREAM, block)


def lognormal_factors(
    rng: np.random.Generator, n: int, sel_prob: float, down_prob: float, loc: float, scale: float
) -> np.ndarray:
    """Splat's selected log-normal factors: 1 for unselected genes, ``exp(±|N(loc, scale)|)`` else.

    A selected gene goes down (factor < 1) with probability ``down_prob``. Splatter draws a
    log-normal factor and inverts it when its direction disagrees; taking ``|log factor|`` with
    the drawn sign is the same distribution.
    """
    factors = np.ones(n)
    selected = np.flatnonzero(rng.random(n) < sel_prob)
    down = rng.random(selected.size) < down_prob
    magnitude = np.abs(rng.normal(loc, scale, selected.size))
    factors[selected] = np.exp(np.where(down, -magnitude, magnitude))
    return factors


@dataclass
class GeneTruth:
    """Per-gene ground truth; ``batch_fac`` is batches × genes and ``de_fac`` groups × genes."""

    base_gene_mean: np.ndarray
    outlier_factor: np.ndarray
    gene_mean: np.ndarray
    batch_fac: np.ndarray
    de_fac: np.ndarray
    bcv_factor: np.ndarray


def draw_genes(
    rng: np.random.Generator,
    n_genes: int,
    params,
    n_batches: int,
    n_groups: int,
    reference_means: np.ndarray | None = None,
    reference_bcv_factor: np.ndarray | None = None,
) -> GeneTruth:
    """Gene means, outliers, batch and DE factors and BCV factors, drawn once for all cells."""
    if reference_means is None:
        base = rng.gamma(params.mean_shape, 1.0 / params.mean_rate, n_genes)
        outlier = lognormal_factors(
            rng, n_genes, params.out_prob, 0.0, params.out_fac_loc, params.out_fac_scale
        )
        # Outlier means are relative to the median mean, not to the gene's own mean.
        gene_mean = np.where(outlier != 1.0, np.median(base) * outlier, base)
    else:
        base = np.asarray(reference_means, dtype=float)
        outlier = np.ones(n_genes)
        gene_mean = base.copy()

    batch_fac = np.ones((n_batches, n_genes))
    if n_batches > 1:
        locs = per_unit(params.batch_fac_loc, n_batches)
        scales = per_unit(params.batch_fac_scale, n_batches)
        for b in range(n_batches):
            batch_fac[b] = lognormal_factors(rng, n_genes, 1.0, 0.5, locs[b], scales[b])
        if params.batch_rm_effect:
            batch_fac[:] = 1.0

    de_fac = np.ones((n_groups, n_genes))
    if n_groups > 1:
        per_group = [
            per_unit(getattr(params, name), n_groups)
            for name in ("de_prob", "de_down_prob", "de_fac_loc", "de_fac_scale")
        ]
        for g in range(n_groups):
            de_fac[g] = lognormal_factors(rng, n_genes, *(values[g] for values in per_group))

    if reference_bcv_factor is not None:
        bcv_factor = np.asarray(reference_bcv_factor, dtype=float)
    elif np.isinf(params.bcv_df):
        bcv_factor = np.ones(n_genes)
    else:
        bcv_factor = np.sqrt(params.bcv_df / rng.chisquare(params.bcv_df, n_genes))
    return GeneTruth(base, outlier, gene_mean, batch_fac, de_fac, bcv_factor)


def per_unit(value, n: int) -> np.ndarray:
    """Broadcast a scalar or per-unit parameter to length ``n`` (lengths checked beforehand)."""
    return np.broadcast_to(np.asarray(value, dtype=float), (n,))


def library_sizes(rng: np.random.Generator, n_cells: int, params) -> np.ndarray:
    """Draw expected library sizes; normal draws below zero become half the smallest positive one."""
    if not params.lib_norm:
        return rng.lognormal(params.lib_loc, params.lib_scale, n_cells)
    sizes = rng.normal(params.lib_loc, params.lib_scale, n_cells)
    positive = sizes[sizes > 0]
    floor = positive.min() / 2 if positive.size else 1.0
    sizes[sizes <= 0] = floor
    return sizes


def profiles(truth: GeneTruth) -> np.ndarray:
    """Expression proportions per (batch, group) pair, shape (batches × groups) × genes.

    A cell's means are its batch-and-group gene means normalised to sum to one and scaled by
    its library size, so the normalisation depends only on the pair, not on the cell.
    """
    means = truth.gene_mean * truth.batch_fac[:, None, :] * truth.de_fac[None, :, :]
    means = means.reshape(-1, means.shape[-1])
    return (means / means.sum(axis=1, keepdims=True)).astype(np.float32)


@dataclass
class Piece:
    """CSR rows of one stretch of cells: values, column indices and non-zeros per row."""

    data: np.ndarray
    indices: np.ndarray
    row_nnz: np.ndarray


def _sparse_rows(values: np.ndarray) -> Piece:
    flat = np.flatnonzero(values)
    n_genes = values.shape[1]
    rows = flat // n_genes
    return Piece(
        data=values.ravel()[flat].astype(np.float32),
        indices=(flat - rows * n_genes).astype(np.int32),
        row_nnz=np.bincount(rows, minlength=values.shape[0]),
    )


def simulate_block(
    rng: np.random.Generator,
    lib_size: np.ndarray,
    profile_index: np.ndarray,
    profile_table: np.ndarray,
    bcv_common: float,
    bcv_factor: np.ndarray,
    dropout: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[Piece, Piece | None]:
    """Simulate one block of cells: BCV gamma means, Poisson counts, then optional dropout.

    Returns the counts and, with dropout, the counts before dropout (else ``None``).
    ``dropout`` holds the per-cell logistic midpoints and shapes.
    """
    base_means = profile_table[profile_index] * lib_size.astype(np.float32)[:, None]
    np.maximum(base_means, _TINY_MEAN, out=base_means)
    bcv = (np.float32(bcv_common) + 1.0 / np.sqrt(base_means)) * bcv_factor
    phi = bcv * bcv
    with np.errstate(over="ignore"):
        cell_means = rng.standard_gamma(1.0 / phi, dtype=np.float32)
    cell_means *= base_means * phi
    true_counts = rng.poisson(cell_means)
    if dropout is None:
        return _sparse_rows(true_counts), None

    mid, shape = dropout
    flat = np.flatnonzero(true_counts)
    rows = flat // true_counts.shape[1]
    log_mean = np.log(cell_means.ravel()[flat])
    drop_prob = 1.0 / (1.0 + np.exp(-shape[rows] * (log_mean - mid[rows])))
    dropped = flat[rng.random(flat.size) < drop_prob]
    truth = _sparse_rows(true_counts)
    true_counts.ravel()[dropped] = 0
    return _sparse_rows(true_counts), truth
