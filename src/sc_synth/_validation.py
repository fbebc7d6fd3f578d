"""Checks on user input that run before any work, so a failed call changes nothing."""

from __future__ import annotations

import numpy as np
from anndata import AnnData
from scipy import sparse


def get_matrix(adata: AnnData, layer: str | None, *, name: str = "adata", argument: str = "layer"):
    """``adata.X`` or ``adata.layers[layer]``; a clear :class:`KeyError` for a missing layer.

    ``name`` is how messages refer to ``adata`` and ``argument`` the parameter that passed
    ``layer``.
    """
    if not isinstance(adata, AnnData):
        raise TypeError(f"`{name}` must be an AnnData object, got {type(adata).__name__}.")
    if layer is None:
        return adata.X
    if not isinstance(layer, str):
        raise TypeError(
            f"`{argument}` must be a layer name (str) or None, got {type(layer).__name__}."
        )
    if layer not in adata.layers:
        raise KeyError(
            f"`{argument}={layer!r}` is not in {name}.layers; available layers: "
            f"{sorted(adata.layers.keys()) or 'none'}."
        )
    return adata.layers[layer]


def _values(matrix) -> np.ndarray:
    return matrix.data if sparse.issparse(matrix) else np.asarray(matrix)


def check_counts(
    matrix, *, name: str = "adata.X", allow_non_integer: bool = False, min_cell_total: bool = True
) -> None:
    """Raise :class:`ValueError` unless ``matrix`` holds finite, non-negative integer counts.

    Parameters
    ----------
    matrix
        Dense array or scipy sparse matrix, cells × genes.
    name
        How the message refers to the matrix.
    allow_non_integer
        Accept non-integer values (still finite and non-negative).
    min_cell_total
        Also refuse cells whose counts add up to zero.
    """
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {matrix.shape}); it needs cells and genes.")
    values = _values(matrix)
    if not np.issubdtype(values.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {values.dtype}.")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite values; counts must be finite.")
    if values.size and values.min() < 0:
        raise ValueError(f"{name} contains negative values; counts must be >= 0.")
    if not allow_non_integer and not np.all(values == np.round(values)):
        raise ValueError(
            f"{name} contains non-integer values; it must hold raw counts (for example the "
            "counts layer, not log-normalised data). Pass `allow_non_integer=True` to train on "
            "non-integer values such as ambient-corrected counts anyway."
        )
    if min_cell_total:
        totals = np.asarray(matrix.sum(axis=1)).ravel()
        if np.any(totals <= 0):
            raise ValueError(
                f"{name} has {int(np.sum(totals <= 0))} cells with no counts; remove them first, "
                "e.g. with `sc.pp.filter_cells(adata, min_counts=1)`."
            )


def check_obs_key(adata: AnnData, key: str | None, argument: str, *, name: str = "adata") -> None:
    """Raise :class:`KeyError` naming ``argument`` when ``key`` is not a column of ``adata.obs``.

    ``name`` is how the message refers to ``adata``.
    """
    if key is None:
        return
    if not isinstance(key, str):
        raise TypeError(f"`{argument}` must be a column name (str), got {type(key).__name__}.")
    if key not in adata.obs.columns:
        raise KeyError(
            f"`{argument}={key!r}` is not a column of {name}.obs; available columns: "
            f"{list(adata.obs.columns) or 'none'}."
        )
    if adata.obs[key].isna().any():
        raise ValueError(f"{name}.obs[{key!r}] (`{argument}`) has missing values.")


def check_min_cells_per_category(adata: AnnData, key: str | None, argument: str) -> None:
    """Raise :class:`ValueError` when a category of ``adata.obs[key]`` has fewer than two cells."""
    if key is None:
        return
    sizes = adata.obs[key].astype(str).value_counts()
    small = sizes[sizes < 2]
    if len(small):
        raise ValueError(
            f"`{argument}={key!r}`: categories {small.index.tolist()} have fewer than 2 cells; "
            "a generator cannot learn a category from one cell. Merge or remove them."
        )
