from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .. import __version__
from .._core._csr import RowsBuffer
from .._threads import torch_threads
from ..models._conditions import Conditions
from ..models._record import read_record
from ..models._sampler import load_sampler
from ..pp._store import check_out
from ._generate_chunks import chunk_cells, draw_chunks, write_chunks

#: Cells × genes entries decoded at once: dense means of a chunk take 8 bytes per entry, a few
#: times over, so a chunk holds about half a gigabyte whatever the number of genes.
_CHUNK_ENTRIES = 2**24


def generate(
    adata: AnnData,
    key: str = "vae",
    n_cells: int | None = None,
    *,
    groups: Mapping | None = None,
    seed: int = 0,
    guidance: float | None = None,
    n_steps: int | None = None,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    chunk_size: int | None = None,
) -> AnnData:
    """Generate new cells from a model stored in ``adata.uns[key]``.

    Works the same for every kind of model (:func:`~sc_synth.tl.train_vae`,
    :func:`~sc_synth.tl.train_gan` and any other registered generator; the record's ``kind``
    picks the sampler) and from a record read back from an ``.h5ad`` file. Library
    sizes are drawn per label and batch from the log-normal fitted at training, and counts are
    sampled from the model's expression profile, in chunks of cells.

    Parameters
    ----------
    adata
        AnnData holding the trained model in ``uns[key]`` (its cells are not used).
    key
        Key of the model record in ``adata.uns``.
    n_cells
        Number of cells; the training composition of labels and batches is kept. ``None`` (and no
        ``groups``) generates as many cells of each label and batch as training had.
    groups
        Cells per label, e.g. ``{"B cell": 500}`` (batches drawn in the label's training
        proportions), per ``(label, batch)`` pair, e.g. ``{("B cell", "batch1"): 500}``, or per
        batch for a model trained with a batch key only. Not together with ``n_cells``. A flow
        model (:func:`~sc_synth.tl.train_flow`) also makes ``(label, batch)`` pairs that had no
        training cells, with an additive log library size.
    seed
        Seed of all random draws; the same seed and record give identical counts.
    guidance
        For a flow model: classifier-free guidance weight, ≥ 0 (1: the conditional flow, above 1:
        pushed further toward the label and batch); ``None`` uses the record's (default 1).
    n_steps
        For a flow model: midpoint steps integrating its ODE; ``None`` uses the record's
        (default 2).
    out
        Path of a new zarr store to write the cells to, chunk by chunk, in memory bounded by the
        chunk whatever the number of cells; the store appears there only once complete. ``None``
        keeps the cells in memory.
    overwrite
        Replace what is at ``out`` (once the new store is complete); otherwise an existing
        ``out`` is refused.
    chunk_size
        Cells drawn (and written) at a time, rounded up to a whole number of draw units of
        about 16 million cells × genes entries (8,388 cells of 2,000 genes); ``None``: one unit.
        The counts depend on ``seed`` alone, not on ``chunk_size`` or ``out``.

    Returns
    -------
    AnnData
        A new AnnData: ``X`` a CSR matrix of integer counts (``float32``), ``var_names`` the
        training genes, ``obs[labels_key]`` and ``obs[batch_key]`` (categoricals in the training
        order, for the keys the model was trained with), ``obs["synthetic"] = True``, and
        ``uns["sc_synth"]`` with the model kind, ``key``, ``seed`` and package version. With
        ``out``, the same AnnData backed by the store (``X`` read lazily).
    """
    record = read_record(adata, key)
    n_genes = len(record["setup"]["var_names"])
    unit = max(1, _CHUNK_ENTRIES // n_genes)
    chunk = chunk_cells(chunk_size, unit)
    if out is not None:
        out = check_out(out, overwrite)
    options = {
        name: value
        for name, value in (("guidance", guidance), ("n_steps", n_steps))
        if value is not None
    }
    sampler = load_sampler(record, **options)
    conditions = Conditions.from_record(record["conditions"])
    rng = np.random.default_rng(seed)
    unseen = getattr(sampler, "generates_unseen", False)
    label, batch = conditions.composition(n_cells, groups, rng, unseen=unseen)
    library = conditions.sample_library(label, batch, rng)

    obs = pd.DataFrame(index=pd.Index([f"synthetic_{i}" for i in range(len(label))]))
    if conditions.labels_key:
        obs[conditions.labels_key] = pd.Categorical.from_codes(label, conditions.labels)
    if conditions.batch_key:
        obs[conditions.batch_key] = pd.Categorical.from_codes(batch, conditions.batches)
    obs["synthetic"] = True
    var = pd.DataFrame(index=pd.Index(np.asarray(record["setup"]["var_names"]).astype(str)))
    uns = {
        "sc_synth": {
            "model": str(record["kind"]),
            "key": key,
            "seed": seed,
            "sc_synth_version": __version__,
        }
    }
    with torch_threads():
        chunks = draw_chunks(sampler, label, batch, library, rng, unit, chunk)
        if out is not None:
            return write_chunks(AnnData(obs=obs, var=var, uns=uns), chunks, out, overwrite)
        X = _gather(chunks, len(label), n_genes)
    return AnnData(X=X, obs=obs, var=var, uns=uns)


def _gather(chunks: Iterator[sparse.csr_matrix], n_cells: int, n_genes: int) -> sparse.csr_matrix:
    """Join the rows of ``chunks`` into one CSR matrix: one chunk as it is, more copied once each.

    A stack of the chunks would copy the whole matrix once more; the buffer takes each chunk as
    it arrives, so that it can be freed.
    """
    first = next(chunks)
    rows = None
    for part in chunks:
        if rows is None:
            rows = RowsBuffer(n_cells, n_genes)
            rows.append(first.data, first.indices, np.diff(first.indptr))
            first = None
        rows.append(part.data, part.indices, np.diff(part.indptr))
    return first if rows is None else rows.to_csr()
