"""Simulate counts from the Splat model, chunk by chunk, into a sparse AnnData or a zarr store."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData

from ._design import DesignTruth
from ._params import SimParams
from ._reference import ReferenceParams
from ._simulate_chunks import ChunkInputs, assemble, computed_pieces, pieces
from ._simulate_plan import Plan, plan_simulation
from ._simulate_reference import simulate_labelled
from ._splat import (
    GeneTruth,
    cell_stream,
    draw_genes,
    draw_steps,
    expression,
    gene_stream,
    library_sizes,
    per_unit,
)
from ._store import write_zarr


def simulate(
    n_cells: int = 1000,
    n_genes: int = 2000,
    *,
    batch_cells: Sequence[int] | None = None,
    group_prob: Sequence[float] | None = None,
    params: SimParams | ReferenceParams | None = None,
    seed: int = 0,
    chunk_size: int | None = None,
    reference: AnnData | None = None,
    layer: str | None = None,
    labels_key: str | None = None,
    batch_key: str | None = None,
    correlation: bool | None = None,
    out: str | os.PathLike | None = None,
    n_samples: int | None = None,
    sample_cells: Sequence[int] | None = None,
    condition_prob: Sequence[float] | None = None,
    sample_condition: Mapping[str, str] | Sequence[str] | None = None,
    **splat_params,
) -> AnnData:
    """Simulate single-cell counts from the Splat model, with the truth of every step recorded.

    The model follows Splatter's Splat simulation: gamma gene means with expression outliers,
    log-normal (or normal) library sizes, per-batch and per-group log-normal factors, cell means
    scaled to each cell's library size, gamma noise with Splat's biological coefficient of
    variation (BCV), Poisson counts and optional logistic dropout. With ``method="paths"``,
    groups are differentiation paths (Splatter's ``splatSimulatePaths``): each cell sits at a
    step of its path, and its means are those of the path at that step. See the "Simulation"
    page of the documentation for each step.

    With ``n_samples`` or ``sample_cells``, cells come from samples (donors) in conditions: each
    sample has its own group composition and gene factors, and each condition but the first its
    DE factors per group (the ``sample_*`` and ``cond_de_*`` parameters); see the "Sample
    designs" page of the documentation.

    Cells are simulated in chunks and never held as a dense cells × genes array, so memory grows
    with the number of non-zero counts only (or stays bounded with ``out``). The result depends
    on ``seed`` alone, not on ``chunk_size`` or on the number of threads used.

    Parameters
    ----------
    n_cells
        Number of cells (≥ 1). Must equal ``sum(batch_cells)`` when ``batch_cells`` is given.
    n_genes
        Number of genes (≥ 1). Ignored with ``reference``, whose genes are used.
    batch_cells
        Cells per batch, e.g. ``[500, 500]``; ``None`` is one batch of ``n_cells``.
    group_prob
        Probability of each group (or path, with ``method="paths"``), summing to 1, e.g.
        ``[0.6, 0.4]``; ``None`` is one group (no differential expression, as Splatter's
        ``method="single"``) or one path.
    params
        Splat parameters; ``None`` means Splatter's defaults (or, with ``reference``, the
        parameters estimated from it). Keyword arguments in ``splat_params`` override them.
    seed
        Seed (integer ≥ 0) of every random draw.
    chunk_size
        Cells simulated per work unit (one dask task with ``out``), rounded up to a multiple
        of 64. It sets the size of the pieces held in flight; it does not change the counts.
        ``None`` picks about two million cells × genes entries per chunk.
    reference
        A real data set with raw counts in ``X`` (or ``layers[layer]``) to simulate in the image
        of: parameters come from :func:`~sc_synth.pp.estimate_params`, and the genes keep the
        reference's names, normalised means (as ``base_gene_mean``; no outliers are added) and, where it has
        enough non-zero cells, its dispersion (as the per-gene BCV factor). It is not modified.
        With ``labels_key`` or ``batch_key``, it is fitted per label instead (reference mode).
    layer
        Layer of ``reference`` holding its raw counts; ``None`` uses ``reference.X``.
    labels_key, batch_key
        Columns of ``reference.obs``: simulate in the image of a labelled reference (reference
        mode), with per-label negative-binomial marginals, batch factors, library sizes per
        label and batch, and gene-gene correlation within each label (see
        :func:`~sc_synth.pp.estimate_params`, which ``params`` may hold the result of instead).
        ``group_prob`` then has one probability per label (default: the reference's shares);
        ``n_genes``, ``batch_cells`` and Splat parameters do not apply, but for those of a
        sample design, which applies with the labels as its groups.
    correlation
        Reference mode only: draw genes through the fitted Gaussian copula (``None`` or
        ``True``), or independently given the library size (``False``).
    out
        Path of a new zarr store (``.zarr``). Chunks are computed as dask tasks on the active
        scheduler (local threads, or a cluster when a ``dask.distributed`` client is active), a
        few at a time, and written in order as they come, so memory stays bounded however many
        cells there are. The store is built under a temporary name and renamed when complete.
        The result is backed by the store (``X`` and ``layers`` read lazily).
    n_samples
        Number of samples (≥ 1, at most ``n_cells``), among which the cells are split as evenly
        as they can be, in consecutive runs; ``None`` (with ``sample_cells`` also ``None``) is
        no sample design.
    sample_cells
        Cells per sample, e.g. ``[300, 250, 300, 150]``, adding up to ``n_cells``: samples are
        consecutive runs of cells, as batches are, so a batch may hold several samples or a
        sample span several batches. Not with ``n_samples``.
    condition_prob
        Share of the samples in each condition, summing to 1, e.g. ``[0.5, 0.5]``: the samples
        are split by these shares (rounded) and the conditions spread evenly over the sample
        order; every condition must get a sample. ``None`` (and no ``sample_condition``) is one
        condition. The first condition is the reference of the condition DE factors.
    sample_condition
        Each sample's condition: a mapping from sample names (``"Sample1"``…) to condition
        names, or a sequence of one condition name per sample, e.g. ``["ctrl", "stim", "ctrl",
        "stim"]``. Conditions are ordered by first appearance; the first is the reference. Not
        with ``condition_prob``.
    **splat_params
        Splat parameters by their Splatter names in snake case (see
        :class:`~sc_synth.pp.SimParams`), e.g. ``de_prob=0.2``, ``bcv_common=0.3``,
        ``dropout_type="experiment"``, ``method="paths"``, ``path_from=[0, 1, 1]``.

    Returns
    -------
    AnnData
        ``n_cells`` cells ``"Cell1"…`` and the genes ``"Gene1"…`` (or the reference's):

        - ``X``: counts as a :class:`scipy.sparse.csr_matrix` of ``float32`` integers (the
          dtype scanpy's normalisation works in place on; exact for counts below 2**24).
        - In reference mode, instead of the Splat truth below: ``obs[labels_key]``,
          ``obs[batch_key]`` (``"group"``, ``"batch"`` when not given) and
          ``obs["exp_lib_size"]``; ``var["base_gene_mean"]`` (the base profile at the mean
          library size), ``var["de_fac_<label>"]`` (each label's profile over the base profile)
          and ``var["batch_fac_<batch>"]``; ``varm["mean"]``, ``varm["dispersion"]`` and
          ``varm["zero_inflation"]``: genes × labels marginal parameters (mean at the label's
          mean library size), labels in the order of ``uns["simulate"]["params"]["labels"]``;
          ``uns["simulate"]``: ``mode`` (``"reference"``), ``params`` (the
          :class:`~sc_synth.pp.ReferenceParams` as a dict, copula loadings in ``factors``
          the reference cells' coordinates on them in ``factor_scores`` and their ranks of
          library size in ``score_lib_ranks``),
          ``n_cells``, ``group_prob``, ``seed`` and ``correlation``.
        - ``obs["batch"]``, ``obs["group"]``: categoricals ``"Batch1"…``, ``"Group1"…``
          (``"Path1"…`` with paths); ``obs["exp_lib_size"]``: the expected library size drawn for
          the cell; with paths, ``obs["step"]``: the cell's step on its path, an integer from 1 (the
          path's start) to the path's ``path_n_steps`` (its end).
        - ``var["base_gene_mean"]``, ``var["outlier_factor"]``, ``var["gene_mean"]``: gamma
          means, outlier factors (1 for non-outliers) and the means after outliers;
          ``var["batch_fac_<batch>"]``: batch factors (all 1 with one batch or
          ``batch_rm_effect``); ``var["de_fac_<group>"]``: DE factors (all 1 with one group;
          with paths, the factors at the path's end relative to ``gene_mean``, which include
          those of the paths it starts from); ``var["de_<group>"]``: whether ``de_fac_<group>``
          is not 1; ``var["bcv_factor"]``: the per-gene BCV factor ``sqrt(bcv_df / chi2)``.
        - With paths only: ``var["local_de_fac_<path>"]``: the DE factors drawn for the path
          alone (its end over its start; a gene changes linearly along the path where it is not
          1); ``var["nonlinear_<path>"]``: whether the gene follows a non-linear bridge on the
          path; ``varm["path_fac_<path>"]``: genes × steps array of the factor of each gene at
          each step (column ``s - 1`` for step ``s``). A cell of batch *b* at step *s* of path *k*
          has expected counts ``exp_lib_size · p``, where ``p`` is ``gene_mean ·
          batch_fac_<b> · path_fac_<k>[:, s - 1]`` normalised to sum to 1.
        - ``layers["true_counts"]``: counts before dropout (sparse, ``float32``), only when
          ``dropout_type`` is not ``"none"``.
        - ``uns["simulate"]``: the parameters (``params`` as a dict, ``n_cells``, ``n_genes``,
          ``batch_cells``, ``group_prob``, ``seed``, ``reference``), all h5ad-writable.
        - With samples only: ``obs["sample"]`` (``"Sample1"…``) and ``obs["condition"]``
          (``"Condition1"…`` or the names of ``sample_condition``), categoricals;
          ``var["cond_de_fac_<condition>_<group>"]``: the DE factors of each condition but the
          reference within each group (the factor of a gene's mean in that condition over its
          mean in the reference), and ``var["cond_de_<condition>_<group>"]``: whether it is not
          1; ``varm["sample_fac"]``: genes × samples factors; ``uns["simulate"]["design"]``:
          ``sample_cells``, ``sample_condition`` (the condition of each sample), ``conditions``,
          ``condition_group_prob`` (conditions × groups DataFrame: the group probabilities each
          condition's samples draw around) and ``composition`` (samples × groups DataFrame: the
          group probabilities drawn for each sample). A cell of batch *b*, sample *s* (in
          condition *c*) and group *g* has expected counts ``exp_lib_size · p``, where ``p`` is
          ``gene_mean · batch_fac_<b> · de_fac_<g> · sample_fac[:, s] · cond_de_fac_<c>_<g>``
          normalised to sum to 1. In reference mode the groups are the reference's labels,
          ``uns["simulate"]["design"]`` also holds the design's ``params``, and a cell's
          proportions are its label and batch's times ``sample_fac[:, s] ·
          cond_de_fac_<c>_<label>``, normalised to sum to 1.

    Examples
    --------
    >>> import sc_synth as ss
    >>> adata = ss.pp.simulate(2000, 5000, group_prob=[0.5, 0.3, 0.2], de_prob=0.2, seed=1)
    >>> adata.var["de_Group1"].mean()  # doctest: +SKIP
    0.2004
    >>> paths = ss.pp.simulate(1000, 2000, group_prob=[0.5, 0.5], method="paths", path_from=[0, 1])
    >>> list(paths.obs["group"].cat.categories), int(paths.obs["step"].max())
    (['Path1', 'Path2'], 100)
    """
    if isinstance(params, ReferenceParams) or labels_key is not None or batch_key is not None:
        return simulate_labelled(
            n_cells, params=params, reference=reference, layer=layer, labels_key=labels_key,
            batch_key=batch_key, correlation=correlation, group_prob=group_prob, seed=seed,
            chunk_size=chunk_size, out=out, batch_cells=batch_cells,
            design_args=(n_samples, sample_cells, condition_prob, sample_condition),
            splat_params=splat_params,
        )  # fmt: skip
    if correlation is not None:
        raise ValueError(
            "`correlation` applies to reference mode only (with `labels_key`, `batch_key` or "
            "ReferenceParams); the Splat model has no gene-gene correlation to switch."
        )
    plan = plan_simulation(
        n_cells, n_genes, batch_cells, group_prob, params, seed, chunk_size, reference, layer,
        out, (n_samples, sample_cells, condition_prob, sample_condition), splat_params,
    )  # fmt: skip
    truth = draw_genes(
        gene_stream(seed),
        plan.n_genes,
        plan.params,
        len(plan.batch_cells),
        len(plan.group_prob),
        plan.reference_means,
        plan.reference_bcv_factor,
    )
    design = (
        None
        if plan.design is None
        else plan.design.draw(seed, plan.params, plan.n_genes, plan.group_prob)
    )
    cells = _draw_cells(plan, design)
    adata = AnnData(
        obs=cells.obs,
        var=_var(plan, truth, design),
        varm=_varm(plan, truth, design),
        uns={"simulate": _record(plan, design)},
    )
    inputs = _chunk_inputs(plan, truth, cells, design)
    starts = range(0, plan.n_cells, plan.chunk_cells)
    if plan.out is None:
        return assemble(adata, pieces(inputs, starts), plan.dropout)
    return write_zarr(adata, computed_pieces(inputs, starts), plan.dropout, plan.out)


@dataclass
class _Cells:
    obs: pd.DataFrame
    profile_index: np.ndarray
    dropout_mid: np.ndarray
    dropout_shape: np.ndarray


def _draw_cells(plan: Plan, design: DesignTruth | None) -> _Cells:
    """Library sizes, group labels and (with paths) steps of every cell, from the per-cell stream.

    With a design, groups follow each sample's composition, from the design's streams.
    """
    rng = cell_stream(plan.seed)
    n_groups = len(plan.group_prob)
    lib_size = library_sizes(rng, plan.n_cells, plan.params)
    if design is None:
        group = rng.choice(n_groups, size=plan.n_cells, p=plan.group_prob)
    else:
        group = design.cell_groups()
    batch = np.repeat(np.arange(len(plan.batch_cells)), plan.batch_cells)
    obs = pd.DataFrame(
        {
            "batch": pd.Categorical.from_codes(
                batch, [f"Batch{b}" for b in range(1, len(plan.batch_cells) + 1)]
            ),
            "group": pd.Categorical.from_codes(group, _group_names(plan)),
            "exp_lib_size": lib_size,
        },
        index=pd.Index([f"Cell{i}" for i in range(1, plan.n_cells + 1)]),
    )
    if design is not None:
        obs = obs.assign(**design.obs())
    profile_index = batch * n_groups + group
    if plan.paths:
        # Profiles run over batches, then paths, then steps (see _splat.profiles).
        step = draw_steps(rng, group, n_groups, plan.params)
        n_steps = np.broadcast_to(np.asarray(plan.params.path_n_steps), (n_groups,))
        first_row = np.r_[0, np.cumsum(n_steps)[:-1]]
        profile_index = batch * n_steps.sum() + first_row[group] + step - 1
        obs["step"] = step
    # Index of each cell's dropout midpoint and shape, and how many there are.
    unit, n_units = {
        "batch": (batch, len(plan.batch_cells)),
        "group": (group, n_groups),
        "cell": (np.arange(plan.n_cells), plan.n_cells),
    }.get(plan.params.dropout_type, (np.zeros(plan.n_cells, dtype=int), 1))
    return _Cells(
        obs=obs,
        profile_index=profile_index,
        dropout_mid=per_unit(plan.params.dropout_mid, n_units)[unit],
        dropout_shape=per_unit(plan.params.dropout_shape, n_units)[unit],
    )


def _group_names(plan: Plan) -> list[str]:
    prefix = "Path" if plan.paths else "Group"
    return [f"{prefix}{g}" for g in range(1, len(plan.group_prob) + 1)]


def _var(plan: Plan, truth: GeneTruth, design: DesignTruth | None) -> pd.DataFrame:
    columns = {
        "base_gene_mean": truth.base_gene_mean,
        "outlier_factor": truth.outlier_factor,
        "gene_mean": truth.gene_mean,
        "bcv_factor": truth.bcv_factor,
    }
    for b in range(len(plan.batch_cells)):
        columns[f"batch_fac_Batch{b + 1}"] = truth.batch_fac[b]
    names = _group_names(plan)
    for g, name in enumerate(names):
        columns[f"de_fac_{name}"] = truth.de_fac[g]
    for g, name in enumerate(names):
        columns[f"de_{name}"] = truth.de_fac[g] != 1.0
    if truth.paths is not None:
        for g, name in enumerate(names):
            columns[f"local_de_fac_{name}"] = truth.paths.local_de_fac[g]
        for g, name in enumerate(names):
            columns[f"nonlinear_{name}"] = truth.paths.nonlinear[g]
    if design is not None:
        columns |= design.var(names)
    return pd.DataFrame(columns, index=plan.gene_names)


def _varm(plan: Plan, truth: GeneTruth, design: DesignTruth | None) -> dict[str, np.ndarray]:
    """Genes × steps factors of every path, or genes × samples factors of a design."""
    if design is not None:
        return design.varm()
    if truth.paths is None:
        return {}
    return {
        f"path_fac_{name}": factors.T
        for name, factors in zip(_group_names(plan), truth.paths.factors, strict=True)
    }


def _record(plan: Plan, design: DesignTruth | None) -> dict:
    record = {
        "params": plan.params.to_dict(),
        "n_cells": plan.n_cells,
        "n_genes": plan.n_genes,
        "batch_cells": list(plan.batch_cells),
        "group_prob": list(plan.group_prob),
        "seed": plan.seed,
        "reference": plan.reference_means is not None,
    }
    if design is not None:
        record["design"] = design.record(_group_names(plan))
    return record


def _chunk_inputs(
    plan: Plan, truth: GeneTruth, cells: _Cells, design: DesignTruth | None
) -> ChunkInputs:
    table, profile_index = None, cells.profile_index
    if design is not None:
        table, profile_index = design.profiles(
            truth, cells.obs["batch"].cat.codes.to_numpy(), cells.obs["group"].cat.codes.to_numpy()
        )
    return ChunkInputs(
        seed=plan.seed,
        chunk_cells=plan.chunk_cells,
        genes=expression(truth, plan.params.bcv_common, table),
        lib_size=cells.obs["exp_lib_size"].to_numpy(),
        profile_index=profile_index,
        dropout=(cells.dropout_mid, cells.dropout_shape) if plan.dropout else None,
    )
