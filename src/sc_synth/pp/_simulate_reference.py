"""Simulate cells in the image of a labelled reference, from fitted ReferenceParams."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import special
from threadpoolctl import threadpool_limits

from .._core._csr import RowsBuffer
from .._progress import over_chunks
from .._validation import check_obs_key, get_matrix
from ._checks import check_count, check_probabilities
from ._copula import blur, draw_counts, factor_normals, pick_cells, zero_bounds
from ._dask import computed_in_order
from ._design import DESIGN_PARAMS, Design, DesignTruth, check_design
from ._estimate import estimate_params
from ._params import PER_GROUP, SimParams, check_names
from ._reference import ReferenceParams, _cell_profiles
from ._reference_truth import truth_var, truth_varm
from ._splat import BLOCK_CELLS, Piece, stream
from ._store import write_zarr

# Spawn keys under the user's seed, apart from the Splat model's (0-3).
_CELL_STREAM, _BLOCK_STREAM = 16, 17
# Cells per chunk aim at this many cells × genes entries when `chunk_size` is not given.
_AUTO_CHUNK_ENTRIES = 2**21


@dataclass
class _Inputs:
    """What any chunk needs, shared by all chunks."""

    seed: int
    chunk_cells: int
    lib: np.ndarray
    profile_row: np.ndarray
    label: np.ndarray
    table: np.ndarray
    dispersion: np.ndarray
    zero_inflation: np.ndarray
    # labels × factors × genes, and the factors used per label (the rest are 0)
    loadings: np.ndarray
    n_loadings: np.ndarray
    noise_sd: np.ndarray
    # reference cells' factor scores (None: standard normal factors), the row each cell takes
    # (-1: none) and its kernel's bandwidth
    scores: np.ndarray | None
    picked: np.ndarray
    bandwidth: np.ndarray
    # per cell, the point of its (label, batch) library-size grid at or above its own size
    # (-1 beyond the grid), and the zero bounds at those points
    grid_index: np.ndarray
    bounds: np.ndarray


def simulate_labelled(
    n_cells,
    *,
    params,
    reference,
    layer,
    labels_key,
    batch_key,
    correlation,
    group_prob,
    seed,
    chunk_size,
    out,
    batch_cells,
    design_args: tuple,
    splat_params: dict,
) -> AnnData:
    """Check the arguments of :func:`~sc_synth.pp.simulate` in reference mode, fit, simulate.

    ``design_args`` are ``simulate``'s ``n_samples``, ``sample_cells``, ``condition_prob`` and
    ``sample_condition``; of ``splat_params`` only the design's parameters apply. Every check
    runs before the fit.
    """
    n_cells = check_count("n_cells", n_cells)
    seed = check_count("seed", seed, minimum=0)
    if chunk_size is not None:
        chunk_size = check_count("chunk_size", chunk_size)
    correlation = True if correlation is None else correlation
    if not isinstance(correlation, bool):
        raise TypeError(f"`correlation` must be True or False, got {correlation!r}.")
    check_names(splat_params)
    not_design = sorted(set(splat_params) - set(DESIGN_PARAMS))
    if not_design:
        raise TypeError(
            f"Splat parameters {not_design} do not apply to a labelled reference, "
            "whose marginals are fitted per label; drop them or use `params=SimParams(...)`."
        )
    design_params = SimParams().replace(**splat_params)
    if batch_cells is not None:
        raise ValueError(
            "`batch_cells` does not apply to a labelled reference: each cell's batch is drawn "
            "from the reference's batch shares within its label."
        )
    out = check_out(out)
    probs = (
        None if group_prob is None else np.asarray(check_probabilities("group_prob", group_prob))
    )
    if params is None:
        if reference is None:
            raise ValueError(
                "`labels_key` and `batch_key` need `reference`, the labelled AnnData to fit "
                "(or pass `params=ss.pp.estimate_params(reference, labels_key=...)`)."
            )
        get_matrix(reference, layer, name="reference")
        check_obs_key(reference, labels_key, "labels_key")
        check_obs_key(reference, batch_key, "batch_key")
        n_labels = reference.obs[labels_key].nunique() if labels_key else 1
        if probs is not None:
            _check_n_labels(probs, n_labels)
    elif reference is not None or labels_key is not None or batch_key is not None:
        raise ValueError(
            "Pass either fitted `params` (a ReferenceParams) or `reference` with "
            "`labels_key`/`batch_key`, not both."
        )
    elif layer is not None:
        raise ValueError("`layer` names the counts of `reference`; it needs `reference`.")
    else:
        n_labels = len(params.labels)
    design = _check_design(n_cells, design_args, design_params, splat_params, n_labels)
    if params is None:
        params = estimate_params(reference, layer=layer, labels_key=labels_key, batch_key=batch_key)
    if probs is None:
        probs = params.group_prob
    _check_n_labels(probs, len(params.labels), params.labels)
    if design is not None:
        design = (design, design_params)
    return simulate_reference(n_cells, params, probs, seed, chunk_size, correlation, out, design)


def _check_design(n_cells, design_args, design_params, given, n_labels) -> Design | None:
    """Check the design, whose groups are the reference's labels; ``None`` without one."""
    design = check_design(n_cells, *design_args, design_params, n_labels)
    if design is None:
        if given:
            raise ValueError(
                f"Design parameters {sorted(given)} need samples: give `n_samples` or "
                "`sample_cells` too."
            )
        return None
    for name in PER_GROUP:
        value = getattr(design_params, name)
        if name in DESIGN_PARAMS and isinstance(value, tuple) and len(value) not in (1, n_labels):
            raise ValueError(
                f"`{name}` must be one number or one per label ({n_labels}), "
                f"got {len(value)} values."
            )
    return design


def _check_n_labels(probs: np.ndarray, n_labels: int, labels=None) -> None:
    if probs.size != n_labels:
        named = f": {labels}" if labels is not None else ""
        raise ValueError(
            f"`group_prob` must have one probability per label of the reference "
            f"({n_labels}{named}), got {probs.size}."
        )


def simulate_reference(
    n_cells: int,
    params: ReferenceParams,
    probs: np.ndarray,
    seed: int,
    chunk_size: int | None,
    correlation: bool,
    out: Path | None,
    design: tuple[Design, SimParams] | None = None,
) -> AnnData:
    """Simulate ``n_cells`` cells from ``params`` with label shares ``probs`` (all checked).

    With ``design`` (a checked design and the parameters it draws from), the design's draws
    are those the Splat model makes with the same seed, the reference's labels as its groups.
    """
    n_genes = len(params.gene_names)
    if chunk_size is None:
        chunk_size = max(1, _AUTO_CHUNK_ENTRIES // n_genes)
    chunk_cells = -(-chunk_size // BLOCK_CELLS) * BLOCK_CELLS

    truth = None if design is None else design[0].draw(seed, design[1], n_genes, list(probs))
    obs, inputs = _draw_cells(n_cells, params, probs, seed, chunk_cells, correlation, truth)
    record = {
        "mode": "reference",
        "params": params.to_dict(),
        "n_cells": n_cells,
        "group_prob": [float(p) for p in probs],
        "seed": seed,
        "correlation": correlation,
    }
    var, varm = truth_var(params), truth_varm(params)
    if truth is not None:
        obs = obs.assign(**truth.obs())
        var = var.assign(**truth.var(params.labels))
        varm |= truth.varm()
        drawn_from = design[1].to_dict()
        record["design"] = truth.record(params.labels) | {
            "params": {name: drawn_from[name] for name in DESIGN_PARAMS}
        }
    adata = AnnData(obs=obs, var=var, varm=varm, uns={"simulate": record})
    starts = range(0, n_cells, chunk_cells)
    pieces = over_chunks(
        computed_in_order(_simulate_chunk, inputs, starts), len(starts), "simulate"
    )
    # The chunks run in parallel already: BLAS threads of their own would only contend (and
    # spin) for the same cores, which doubled the CPU time of the factors' products.
    with threadpool_limits(1, user_api="blas"):
        if out is not None:
            return write_zarr(adata, ((piece, None) for piece in pieces), False, out)
        buffer = RowsBuffer(n_cells, n_genes)
        for piece in pieces:
            buffer.append(piece.data, piece.indices, piece.row_nnz)
    adata.X = buffer.to_csr()
    return adata


def check_out(out) -> Path | None:
    """``out`` as a new path, or ``None``."""
    if out is None:
        return None
    if not isinstance(out, str | os.PathLike):
        raise TypeError(f"`out` must be a path (str or os.PathLike), got {out!r}.")
    out = Path(out)
    if out.exists():
        raise ValueError(f"`out` must be a new path; {str(out)!r} already exists.")
    return out


def _draw_cells(n_cells, params, probs, seed, chunk_cells, correlation, design):
    """Labels, batches and library sizes of all cells, from the cell stream.

    With a design, labels follow each sample's composition, from the design's streams, and
    every (label, batch, sample) met gets its own row of proportions.
    """
    rng = stream(seed, _CELL_STREAM)
    n_batches = len(params.batches)
    if design is None:
        label = rng.choice(len(params.labels), size=n_cells, p=probs)
    else:
        label = design.cell_groups()
    u = rng.random(n_cells)
    cdf = np.cumsum(params.batch_prob, axis=1)
    cdf[:, -1] = 1.0
    batch = (u[:, None] > cdf[label]).sum(axis=1)
    probs = np.linspace(0.0, 1.0, params.log_lib_quantiles.shape[-1])
    u = rng.random(n_cells)
    factors = params.factors if correlation else np.zeros_like(params.factors)
    used = np.abs(factors).sum(axis=1) > 0
    n_loadings = np.where(used.any(axis=1), used.shape[1] - np.argmax(used[:, ::-1], axis=1), 0)
    scores = params.factor_scores if correlation else None
    picked, bandwidth = np.full(n_cells, -1, dtype=np.int64), np.zeros(n_cells)
    if scores is not None:
        picked, bandwidth = pick_cells(rng.random(n_cells), label, params.score_labels, n_loadings)
        if params.score_lib_ranks is not None:
            # a cell's depth goes with its state: its size's rank is its reference cell's,
            # blurred as its coordinates are
            took = picked >= 0
            rank = special.ndtri(params.score_lib_ranks[picked[took]])
            u[took] = special.ndtr(blur(rank, special.ndtri(u[took]), bandwidth[took]))
    log_lib = np.empty(n_cells)
    for g in range(len(params.labels)):
        for b in range(n_batches):
            cells = (label == g) & (batch == b)
            log_lib[cells] = np.interp(u[cells], probs, params.log_lib_quantiles[g, b])
    lib = np.exp(log_lib)
    obs = pd.DataFrame(
        {
            params.labels_key or "group": pd.Categorical.from_codes(label, params.labels),
            params.batch_key or "batch": pd.Categorical.from_codes(batch, params.batches),
            "exp_lib_size": lib,
        },
        index=pd.Index([f"Cell{i}" for i in range(1, n_cells + 1)]),
    )
    table = _cell_profiles(params.profile, params.batch_factor)
    profile_row = label * n_batches + batch
    lib_row = np.arange(table.shape[0])
    if design is not None:
        table, profile_row, lib_row = _design_profiles(table, profile_row, design)
    label_of_row = lib_row // n_batches
    grid, bounds = zero_bounds(
        table, params.log_lib_quantiles[..., 0].ravel()[lib_row],
        params.log_lib_quantiles[..., -1].ravel()[lib_row],
        params.dispersion, params.zero_inflation, label_of_row,
    )  # fmt: skip
    grid_index = np.empty(n_cells, dtype=np.int64)
    for row in range(grid.shape[0]):
        cells = profile_row == row
        grid_index[cells] = np.searchsorted(grid[row], lib[cells])
    grid_index[grid_index == grid.shape[1]] = -1
    inputs = _Inputs(
        seed=seed,
        chunk_cells=chunk_cells,
        lib=lib,
        profile_row=profile_row.astype(np.int64),
        label=label.astype(np.int64),
        table=table,
        dispersion=params.dispersion,
        zero_inflation=params.zero_inflation,
        loadings=np.ascontiguousarray(factors.transpose(0, 2, 1)),
        n_loadings=n_loadings.astype(np.int64),
        noise_sd=params.noise_sd if correlation else np.ones_like(params.dispersion),
        scores=scores,
        picked=picked,
        bandwidth=bandwidth,
        grid_index=grid_index,
        bounds=bounds,
    )
    return obs, inputs


def _design_profiles(table: np.ndarray, row: np.ndarray, design: DesignTruth):
    """Proportions of every (label, batch, sample) that cells fall in, and each cell's row.

    Returns the new table, each cell's row in it and each row's (label, batch) row of ``table``.
    Samples are consecutive runs of cells, so only the pairs met get a row.
    """
    n_samples = design.composition.shape[0]
    n_batches = table.shape[0] // design.composition.shape[1]
    code = row * n_samples + design.design.cell_samples()
    combos, cell_row = np.unique(code, return_inverse=True)
    lib_row, sample = np.divmod(combos, n_samples)
    profiles = table[lib_row] * design.factors(sample, lib_row // n_batches)
    profiles /= profiles.sum(axis=1, keepdims=True)
    return profiles, cell_row.ravel(), lib_row


def _simulate_chunk(inputs: _Inputs, start: int) -> Piece:
    """Draw the cells from ``start`` on, block by block, each block from its own stream."""
    stop = min(start + inputs.chunk_cells, inputs.lib.size)
    n_genes, n_factors = inputs.table.shape[1], inputs.loadings.shape[1]
    data, indices, row_nnz = [], [], []
    for first in range(start, stop, BLOCK_CELLS):
        cut = slice(first, min(first + BLOCK_CELLS, stop))
        n = cut.stop - cut.start
        rng = stream(inputs.seed, _BLOCK_STREAM, first // BLOCK_CELLS)
        w = rng.standard_normal((n, n_factors))
        e = rng.standard_normal((n, n_genes), dtype=np.float32)
        if inputs.scores is not None:
            w = factor_normals(
                w, inputs.picked[cut], inputs.bandwidth[cut], inputs.label[cut], inputs.scores,
                inputs.n_loadings,
            )  # fmt: skip
        values = np.empty(n * n_genes, dtype=np.float32)
        columns = np.empty(n * n_genes, dtype=np.int32)
        per_row = np.empty(n, dtype=np.int64)
        nnz = draw_counts(
            _shared(w, inputs.label[cut], inputs.loadings, inputs.n_loadings), e,
            inputs.lib[cut], inputs.profile_row[cut], inputs.label[cut], inputs.grid_index[cut],
            inputs.bounds, inputs.table, inputs.dispersion, inputs.zero_inflation,
            inputs.noise_sd, values, columns, per_row,
        )  # fmt: skip
        data.append(values[:nnz].copy())
        indices.append(columns[:nnz].copy())
        row_nnz.append(per_row)
    return Piece(np.concatenate(data), np.concatenate(indices), np.concatenate(row_nnz))


def _shared(w, label, loadings, n_loadings) -> np.ndarray:
    """Return ``F w``, the factors' part of a block's normal scores (no columns without factors).

    One matrix product per label, so that each label's loadings are read once per block rather
    than once per cell.
    """
    k = n_loadings[label]
    if not k.any():
        return np.zeros((label.size, 0))
    shared = np.zeros((label.size, loadings.shape[2]))
    for lab in np.unique(label[k > 0]):
        cells = label == lab
        n = n_loadings[lab]
        shared[cells] = w[cells, :n] @ loadings[lab, :n]
    return shared
