"""Checks and alignment of the AnnData objects handed to evaluation and plotting."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._validation import check_obs_key, get_matrix


def as_sets(synthetic, reserved: tuple[str, ...] = ()) -> dict[str, AnnData]:
    """Return the synthetic sets as ``{name: AnnData}``, naming a single AnnData ``"synthetic"``."""
    if isinstance(synthetic, AnnData):
        return {"synthetic": synthetic}
    if not isinstance(synthetic, Mapping):
        raise TypeError(
            "synthetic must be an AnnData or a non-empty dict {name: AnnData}, got a "
            f"{type(synthetic).__name__}"
        )
    if not synthetic:
        raise ValueError("synthetic must be an AnnData or a non-empty dict {name: AnnData}")
    for name, adata in synthetic.items():
        if not isinstance(name, str):
            raise TypeError(f"synthetic set name {name!r} must be a string")
        if name in reserved:
            raise ValueError(
                f"synthetic set name {name!r} must be a string other than {list(reserved)}"
            )
        if not isinstance(adata, AnnData):
            raise TypeError(f"synthetic set {name!r} is a {type(adata).__name__}, not an AnnData")
    return dict(synthetic)


def shared_genes(real: AnnData, sets: dict[str, AnnData]) -> pd.Index:
    """Return the gene names present in every set, in the order of ``real``."""
    for name, adata in {"real": real, **sets}.items():
        if not adata.var_names.is_unique:
            raise ValueError(f"{name} has duplicated gene names; make them unique first")
    genes = real.var_names
    for adata in sets.values():
        genes = genes.intersection(adata.var_names, sort=False)
    if len(genes) == 0:
        raise ValueError("real and synthetic cells share no gene names (var_names)")
    dropped = max(a.n_vars for a in [real, *sets.values()]) - len(genes)
    if dropped:
        warnings.warn(
            f"evaluating on the {len(genes)} genes shared by all sets", UserWarning, stacklevel=3
        )
    return genes


def counts_of(
    adata: AnnData,
    genes: pd.Index,
    name: str,
    layer: str | None = None,
    argument: str = "layer",
) -> sparse.csr_matrix:
    """Return ``adata.X`` (or ``adata.layers[layer]``) for ``genes`` as float64 CSR, checked to hold counts.

    ``argument`` names the parameter that passed ``layer``, for the error messages.
    """
    matrix = get_matrix(adata, layer, name=name, argument=argument)
    x = sparse.csr_matrix(matrix, dtype=np.float64)[:, adata.var_names.get_indexer(genes)]
    values = x.data
    where = f"{name}.X" if layer is None else f"{name}.layers[{layer!r}] (`{argument}`)"
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{where} holds NaN or infinite values; raw counts are needed")
    if np.any(values < 0) or np.any(values != np.round(values)):
        raise ValueError(
            f"{where} does not hold counts (negative or non-integer values, e.g. log-normalised "
            "data); pass the layer of raw counts"
        )
    return x


def labels_of(
    adata: AnnData, key: str | None, name: str, argument: str = "groupby"
) -> np.ndarray | None:
    """Return ``adata.obs[key]`` as strings, or ``None`` without ``key``.

    ``argument`` names the parameter that passed ``key``, for the error message.
    """
    if key is None:
        return None
    check_obs_key(adata, key, argument, name=name)
    return adata.obs[key].astype(str).to_numpy()


def normalised(counts) -> sparse.csr_matrix:
    """Return counts scaled to 10,000 per cell (float64 CSR); empty cells stay zero."""
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    library = np.asarray(counts.sum(axis=1)).ravel()
    return sparse.csr_matrix(sparse.diags(1e4 / np.where(library > 0, library, 1.0)) @ counts)


def log_normalised(counts) -> sparse.csr_matrix:
    """Return ``log1p`` of counts scaled to 10,000 per cell (float64 CSR)."""
    x = normalised(counts)
    x.data = np.log1p(x.data)
    return x
