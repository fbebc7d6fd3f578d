"""Real and synthetic cells pooled in one embedding, for :func:`sc_synth.pl.embedding`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scipy import sparse

from .._docs import doc_params
from .._names import ORIGIN, REAL
from .._threads import keeps_torch_threads
from .._validation import check_obs_key
from ._inputs import as_sets, counts_of, shared_genes


@keeps_torch_threads
@doc_params
def embedding(
    real: AnnData,
    synthetic: AnnData | Mapping[str, AnnData],
    *,
    keys: str | Sequence[str] | None = None,
    basis: str = "umap",
    n_pcs: int = 30,
    seed: int = 0,
    layer: str | None = None,
    synthetic_layer: str | None = None,
) -> AnnData:
    """Pool real and synthetic cells and embed them together in PCs and, with ``basis="umap"``, a UMAP.

    The cells of all sets are pooled, scaled to 10,000 counts per cell, ``log1p``-transformed and
    projected on PCs fitted on the pooled cells (as in :func:`sc_synth.tl.evaluate`); with
    ``basis="umap"`` a neighbour graph on those PCs gives the UMAP.
    The pooled cells come in a random order (``seed``), so that a plot of them in that order
    hides no set behind another.

    Parameters
    ----------
    {doc_real}
    {doc_synthetic_sets}
    keys
        Columns of ``obs`` (present in every set) to carry into the pooled cells, e.g. the cell
        type.
    basis
        ``"umap"`` or ``"pca"``.
    n_pcs
        Number of principal components.
    seed
        Seed of the PCA, the UMAP and the order of the cells.
    {doc_layers}

    Returns
    -------
    AnnData
        The pooled cells, ``log1p`` normalised expression in ``X``, with

        - ``obs["origin"]``: ``"real"`` or the set's name, categorical in that order;
        - ``obs[key]`` for each of ``keys``, as strings;
        - ``obsm["X_pca"]``, ``varm["PCs"]``, ``uns["pca"]``: the PCA;
        - with ``basis="umap"``, ``obsm["X_umap"]``, ``uns["umap"]`` and the neighbour graph
          (``obsp["distances"]``, ``obsp["connectivities"]``, ``uns["neighbors"]``).

        The inputs are not changed.
    """
    if basis not in ("umap", "pca"):
        raise ValueError(f"basis must be 'umap' or 'pca', got {basis!r}")
    keys = [keys] if isinstance(keys, str) else list(keys or [])
    joint = _pool(real, as_sets(synthetic, reserved=(REAL,)), keys, layer, synthetic_layer)
    sc.pp.normalize_total(joint, target_sum=1e4)
    sc.pp.log1p(joint)
    sc.pp.pca(joint, n_comps=min(n_pcs, joint.n_obs - 1, joint.n_vars - 1), random_state=seed)
    if basis == "umap":
        sc.pp.neighbors(joint, use_rep="X_pca", random_state=seed)
        sc.tl.umap(joint, random_state=seed)
    return joint[np.random.default_rng(seed).permutation(joint.n_obs)].copy()


def _pool(
    real: AnnData,
    sets: dict[str, AnnData],
    keys: list[str],
    layer: str | None,
    synthetic_layer: str | None,
) -> AnnData:
    genes = shared_genes(real, sets)
    counts = [counts_of(real, genes, REAL, layer)] + [
        counts_of(adata, genes, name, synthetic_layer, "synthetic_layer")
        for name, adata in sets.items()
    ]
    parts = {REAL: real, **sets}
    obs = []
    for name, adata in parts.items():
        for key in keys:
            check_obs_key(adata, key, "keys", name=name)
        frame = adata.obs[keys].astype(str).reset_index(drop=True)
        frame.insert(0, ORIGIN, name)
        obs.append(frame)
    obs = pd.concat(obs, ignore_index=True).astype("category")
    obs[ORIGIN] = obs[ORIGIN].cat.reorder_categories(list(parts))
    obs.index = obs.index.astype(str)
    x = sparse.vstack(counts, format="csr")
    return AnnData(x.astype(np.float32), obs=obs, var=pd.DataFrame(index=genes))
