"""Arguments of :func:`~sc_synth.pp.simulate` on the Splat model, checked before any work."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .._validation import get_matrix
from ._checks import check_count, check_path_from, check_probabilities
from ._design import Design, check_design
from ._estimate import _reference_genes, estimate_params
from ._params import PER_BATCH, PER_DROPOUT_UNIT, PER_GROUP, PER_PATH, SimParams, check_names
from ._splat import BLOCK_CELLS

# Cells per chunk aim at this many cells × genes entries when `chunk_size` is not given.
_AUTO_CHUNK_ENTRIES = 2**21


@dataclass
class Plan:
    """What a Splat simulation needs, from arguments already checked."""

    n_cells: int
    n_genes: int
    batch_cells: list[int]
    group_prob: list[float]
    params: SimParams
    seed: int
    chunk_cells: int
    gene_names: pd.Index
    reference_means: np.ndarray | None
    reference_bcv_factor: np.ndarray | None
    out: Path | None
    design: Design | None

    @property
    def dropout(self) -> bool:
        return self.params.dropout_type != "none"

    @property
    def paths(self) -> bool:
        return self.params.method == "paths"


def plan_simulation(
    n_cells,
    n_genes,
    batch_cells,
    group_prob,
    params,
    seed,
    chunk_size,
    reference,
    layer,
    out,
    design_args,
    splat_params,
) -> Plan:
    """Check every argument, raising before any work, and gather what the simulation needs."""
    n_cells = check_count("n_cells", n_cells)
    n_genes = check_count("n_genes", n_genes)
    seed = check_count("seed", seed, minimum=0)
    if chunk_size is not None:
        chunk_size = check_count("chunk_size", chunk_size)
    batch_cells = _check_batch_cells(batch_cells, n_cells)
    group_prob = _check_group_prob(group_prob)
    if params is not None and not isinstance(params, SimParams):
        raise TypeError(f"`params` must be a SimParams or None, got {type(params).__name__}.")
    check_names(splat_params)
    if reference is not None and not isinstance(reference, AnnData):
        raise TypeError(f"`reference` must be an AnnData or None, got {type(reference).__name__}.")
    if reference is not None:
        get_matrix(reference, layer, name="reference")
    elif layer is not None:
        raise ValueError("`layer` names the counts of `reference`; it needs `reference`.")
    if out is not None:
        if not isinstance(out, str | os.PathLike):
            raise TypeError(f"`out` must be a path (str or os.PathLike), got {out!r}.")
        out = Path(out)
        if out.exists():
            raise ValueError(f"`out` must be a new path; {str(out)!r} already exists.")

    reference_means = reference_bcv_factor = None
    gene_names = pd.Index([f"Gene{i}" for i in range(1, n_genes + 1)])
    if reference is not None:
        base = estimate_params(reference, layer=layer)
        reference_means, reference_bcv_factor = _reference_genes(reference, base, layer)
        gene_names = pd.Index(reference.var_names.astype(str))
        n_genes = reference.n_vars
        if params is None:
            params = base
    params = (params or SimParams()).replace(**splat_params)
    _check_lengths(params, len(batch_cells), len(group_prob), n_cells)
    if params.method == "single" and len(group_prob) > 1:
        raise ValueError(
            f"`method='single'` simulates one group; `group_prob` must be None or one "
            f"probability, got {len(group_prob)} groups (use method='groups' or 'paths')."
        )

    if chunk_size is None:
        chunk_size = _AUTO_CHUNK_ENTRIES // n_genes
    chunk_cells = max(1, -(-chunk_size // BLOCK_CELLS)) * BLOCK_CELLS
    design = check_design(n_cells, *design_args, params, len(group_prob))
    return Plan(
        n_cells, n_genes, batch_cells, group_prob, params, seed, chunk_cells, gene_names,
        reference_means, reference_bcv_factor, out, design,
    )  # fmt: skip


def _check_batch_cells(batch_cells, n_cells: int) -> list[int]:
    if batch_cells is None:
        return [n_cells]
    if isinstance(batch_cells, Integral) and not isinstance(batch_cells, bool):
        batch_cells = [batch_cells]
    if isinstance(batch_cells, str) or not isinstance(batch_cells, Sequence | np.ndarray):
        raise TypeError(
            f"`batch_cells` must be a sequence of cell counts per batch, got {batch_cells!r}."
        )
    if len(batch_cells) == 0:
        raise ValueError("`batch_cells` must list at least one batch.")
    counts = [check_count("batch_cells", b) for b in batch_cells]
    if sum(counts) != n_cells:
        raise ValueError(
            f"`batch_cells` must add up to `n_cells` ({n_cells}); got {counts} (sum {sum(counts)})."
        )
    return counts


def _check_group_prob(group_prob) -> list[float]:
    if group_prob is None:
        return [1.0]
    return check_probabilities("group_prob", group_prob)


def _check_lengths(params: SimParams, n_batches: int, n_groups: int, n_cells: int) -> None:
    """Per-unit parameters must have one value per unit, and `path_from` no cycles."""
    units = dict.fromkeys(PER_BATCH, ("batch", n_batches))
    units |= dict.fromkeys(PER_GROUP, ("group", n_groups))
    units |= dict.fromkeys(PER_PATH, ("path", n_groups))
    dropout_units = {
        "experiment": ("experiment", 1),
        "batch": ("batch", n_batches),
        "group": ("group", n_groups),
        "cell": ("cell", n_cells),
    }
    if params.dropout_type in dropout_units:
        units |= dict.fromkeys(PER_DROPOUT_UNIT, dropout_units[params.dropout_type])
    for name, (unit, n) in units.items():
        value = getattr(params, name)
        if isinstance(value, tuple) and len(value) not in (1, n):
            raise ValueError(
                f"`{name}` must be one number or one per {unit} ({n}), got {len(value)} values."
            )
    check_path_from(params.path_from, n_groups)
