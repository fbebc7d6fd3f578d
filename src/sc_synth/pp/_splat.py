"""The Splat model's random steps: gene-level truth drawn once, the streams of the counts.

Randomness is split so that results do not depend on how cells are grouped for work:
gene-level draws and per-cell draws (library sizes, groups) come from their own streams,
and the count noise of every block of ``BLOCK_CELLS`` consecutive cells comes from a stream
keyed by the block's index alone (:func:`~sc_synth.pp._counts.simulate_cells` draws them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

BLOCK_CELLS = 64

# Spawn keys of the independent streams under the user's seed.
_GENE_STREAM, _CELL_STREAM, _BLOCK_STREAM, _DROPOUT_STREAM, _DESIGN_STREAM = 0, 1, 2, 3, 4

# Floor of expression proportions (see Expression).
_TINY_PROPORTION = 1e-30

# A non-linear path is a random walk pinned at both ends, sampled at this many points (the
# ends included) and interpolated by a natural cubic spline, as Splatter's bridges are...
_BRIDGE_KNOTS = 5
# ...and path factors that the spline takes below zero become this.
_PATH_FLOOR = 1e-6


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


def dropout_stream(seed: int, block: int) -> np.random.Generator:
    """Stream for the dropout of block ``block``, apart so that dropout leaves true counts as is."""
    return stream(seed, _DROPOUT_STREAM, block)


def design_stream(seed: int, *key: int) -> np.random.Generator:
    """Stream ``key`` of a sample design's draws, apart so that a design leaves the others as is."""
    return stream(seed, _DESIGN_STREAM, *key)


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
class PathTruth:
    """Per-gene truth of differentiation paths (``method="paths"``), paths numbered from 0.

    ``local_de_fac`` (paths × genes) holds the DE factors drawn for each path alone, the
    change from its start to its end; ``nonlinear`` (paths × genes) marks the genes whose
    change follows a bridge; ``factors[k]`` (steps × genes) holds path ``k``'s factor of every
    gene at every step, relative to the gene means.
    """

    local_de_fac: np.ndarray
    nonlinear: np.ndarray
    factors: list[np.ndarray]


@dataclass
class GeneTruth:
    """Per-gene ground truth; ``batch_fac`` is batches × genes and ``de_fac`` groups × genes.

    With paths, ``de_fac`` holds each path's factors at its end, relative to the gene means
    (so including the factors of the paths it starts from), and ``paths`` the rest.
    """

    base_gene_mean: np.ndarray
    outlier_factor: np.ndarray
    gene_mean: np.ndarray
    batch_fac: np.ndarray
    de_fac: np.ndarray
    bcv_factor: np.ndarray
    paths: PathTruth | None = None


def draw_genes(
    rng: np.random.Generator,
    n_genes: int,
    params,
    n_batches: int,
    n_groups: int,
    reference_means: np.ndarray | None = None,
    reference_bcv_factor: np.ndarray | None = None,
) -> GeneTruth:
    """Gene means, outliers, batch and DE factors, BCV factors and paths, drawn once for all cells.

    Path draws come last, so that the other draws are those of ``method="groups"``.
    """
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

    paths = params.method == "paths"
    de_fac = np.ones((n_groups, n_genes))
    # A single path still changes from its start to its end, unlike a single group.
    if n_groups > 1 or paths:
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
    if not paths:
        return GeneTruth(base, outlier, gene_mean, batch_fac, de_fac, bcv_factor)
    path_truth, end_fac = draw_paths(rng, de_fac, params)
    return GeneTruth(base, outlier, gene_mean, batch_fac, end_fac, bcv_factor, path_truth)


def draw_paths(
    rng: np.random.Generator, local_de_fac: np.ndarray, params
) -> tuple[PathTruth, np.ndarray]:
    """Factors of every gene at every step of every path, and at the end of each path.

    A path starts from the origin (factors 1) or from the end of the path it branches from,
    and its end is its start times its own DE factors ``local_de_fac``. Linear genes move
    from start to end in equal steps; the others follow a bridge (see :func:`_bridges`).
    """
    n_paths, n_genes = local_de_fac.shape
    starts = np.broadcast_to(np.asarray(params.path_from, dtype=int), (n_paths,))
    n_steps = np.broadcast_to(np.asarray(params.path_n_steps, dtype=int), (n_paths,))
    end_fac = np.empty_like(local_de_fac)
    for path in sorted(range(n_paths), key=lambda k: _depth(starts, k)):
        start = end_fac[starts[path] - 1] if starts[path] else 1.0
        end_fac[path] = start * local_de_fac[path]
    nonlinear = np.empty((n_paths, n_genes), dtype=bool)
    factors = []
    for path in range(n_paths):
        start = end_fac[starts[path] - 1] if starts[path] else np.ones(n_genes)
        nonlinear[path] = rng.random(n_genes) < params.path_nonlinear_prob
        factors.append(
            _bridges(
                rng, start, end_fac[path], nonlinear[path], n_steps[path], params.path_sigma_fac
            )
        )
    return PathTruth(local_de_fac, nonlinear, factors), end_fac


def _depth(starts: np.ndarray, path: int) -> int:
    """Paths between path ``path`` (from 0) and the origin; ``starts`` holds no cycles."""
    depth = 0
    while starts[path]:
        path = starts[path] - 1
        depth += 1
    return depth


def _bridges(
    rng: np.random.Generator,
    start: np.ndarray,
    end: np.ndarray,
    nonlinear: np.ndarray,
    n_steps: int,
    sigma_fac: float,
) -> np.ndarray:
    """Factors (steps × genes) along a path, step ``s`` of ``n`` at ``t = (s - 1) / (n - 1)``.

    A non-linear gene takes a Gaussian random walk over ``_BRIDGE_KNOTS`` points of
    ``[0, 1]``, whose standard deviation per unit of time is uniform on
    ``[0, sigma_fac · (start + end) / 2]``; the walk is tilted to run from ``start`` to ``end``
    (a Brownian bridge), interpolated through its points by a natural cubic spline, and
    floored at ``_PATH_FLOOR``. With ``sigma_fac = 0``, or for linear genes, this is the
    straight line from ``start`` to ``end``.
    """
    t = np.linspace(0.0, 1.0, n_steps)
    factors = start + t[:, None] * (end - start)
    genes = np.flatnonzero(nonlinear)
    if genes.size:
        x, y = start[genes], end[genes]
        sigma = rng.uniform(0.0, sigma_fac * (x + y) / 2)
        knots = np.linspace(0.0, 1.0, _BRIDGE_KNOTS)
        increments = rng.normal(size=(_BRIDGE_KNOTS - 1, genes.size)) * sigma
        walk = np.vstack([np.zeros(genes.size), np.cumsum(increments, axis=0)])
        walk *= np.sqrt(knots[1])
        bridge = x + walk - knots[:, None] * (walk[-1] - y + x)
        values = CubicSpline(knots, bridge, axis=0, bc_type="natural")(t)
        factors[:, genes] = np.where(values < 0, _PATH_FLOOR, values)
    return factors


def step_probabilities(n_steps: int, skew: float) -> np.ndarray:
    """Probability of each step of a path: linear in the step, from ``skew`` to ``1 - skew``."""
    if n_steps == 1:
        return np.ones(1)
    weights = np.linspace(skew, 1.0 - skew, n_steps)
    return weights / weights.sum()


def draw_steps(rng: np.random.Generator, path: np.ndarray, n_paths: int, params) -> np.ndarray:
    """Step (from 1) of every cell on its path ``path`` (from 0), one uniform per cell."""
    n_steps = np.broadcast_to(np.asarray(params.path_n_steps, dtype=int), (n_paths,))
    skew = per_unit(params.path_skew, n_paths)
    u = rng.random(path.size)
    steps = np.empty(path.size, dtype=np.int64)
    for k in range(n_paths):
        cdf = np.cumsum(step_probabilities(n_steps[k], skew[k]))
        # u < 1, so every cell lands on a step whatever the rounding of the sum
        cdf[-1] = 1.0
        cells = path == k
        steps[cells] = np.searchsorted(cdf, u[cells], side="right") + 1
    return steps


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

    With paths, a group is a path's step: rows run over batches, then paths, then steps.
    A cell's means are its batch-and-group gene means normalised to sum to one and scaled by
    its library size, so the normalisation depends only on the pair, not on the cell.
    """
    group_fac = truth.de_fac if truth.paths is None else np.concatenate(truth.paths.factors)
    means = truth.gene_mean * truth.batch_fac[:, None, :] * group_fac[None, :, :]
    means = means.reshape(-1, means.shape[-1])
    return means / means.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Expression:
    """What the count sampler needs of the genes, computed once for all cells.

    ``profile_table`` holds the proportions of :func:`profiles`, floored at ``_TINY_PROPORTION``
    so that genes with a zero mean get finite BCVs (and, in effect, counts of 0);
    ``rsqrt_table`` is ``1 / sqrt(profile_table)``, so that ``1 / sqrt(μ)`` costs a product.
    """

    profile_table: np.ndarray
    rsqrt_table: np.ndarray
    bcv_common: float
    bcv_factor: np.ndarray


def expression(
    truth: GeneTruth, bcv_common: float, profile_table: np.ndarray | None = None
) -> Expression:
    """Gather the per-gene inputs of the count sampler.

    ``profile_table`` replaces the proportions of :func:`profiles` where a sample design gives
    cells profiles of their own (see :mod:`~sc_synth.pp._design`).
    """
    table = profiles(truth) if profile_table is None else profile_table
    table = np.maximum(table, _TINY_PROPORTION)
    return Expression(
        profile_table=table,
        rsqrt_table=1.0 / np.sqrt(table),
        bcv_common=float(bcv_common),
        bcv_factor=np.ascontiguousarray(truth.bcv_factor, dtype=float),
    )


@dataclass
class Piece:
    """CSR rows of one stretch of cells: values, column indices and non-zeros per row."""

    data: np.ndarray
    indices: np.ndarray
    row_nnz: np.ndarray
