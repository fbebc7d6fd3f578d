from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy

import anndata as ad
import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._validation import check_obs_key
from ..models._conditions import Conditions
from ..models._record import read_record
from ._generate import generate


def _targets(
    sizes: pd.Series, target: int | Mapping | None, min_cells: int | None
) -> dict[str, int]:
    """Cells to add per label, after checking ``target`` / ``min_cells``."""
    if target is not None and min_cells is not None:
        raise ValueError("Pass either `target` or `min_cells`, not both.")
    if isinstance(target, Mapping):
        unknown = [k for k in target if str(k) not in sizes.index]
        if unknown:
            raise ValueError(
                f"`target` names labels {unknown} that are not in the data; labels: "
                f"{sizes.index.tolist()}."
            )
        wanted = {str(k): v for k, v in target.items()}
    else:
        goal = target if target is not None else min_cells
        argument = "target" if target is not None else "min_cells"
        if goal is None:
            goal, argument = int(sizes.median()), "target"
        wanted = dict.fromkeys(sizes.index, goal)
    for label, n in wanted.items():
        name = f"target[{label!r}]" if isinstance(target, Mapping) else argument
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise TypeError(f"`{name}` must be a non-negative integer, got {n!r}.")
        if n < 0:
            raise ValueError(f"`{name}` must be a non-negative integer, got {n!r}.")
    # A label already at or above its target is left alone.
    return {label: int(n - sizes[label]) for label, n in wanted.items() if n > sizes[label]}


def _align_genes(synthetic: AnnData, var_names: pd.Index) -> AnnData:
    missing = var_names.difference(synthetic.var_names)
    if len(missing):
        raise ValueError(
            f"The model was trained on other genes than adata has: {len(missing)} of adata's "
            f"genes (e.g. {missing[:5].tolist()}) are not in the model. Train the model on this "
            "gene set, or subset adata to the model's genes."
        )
    return synthetic[:, var_names].copy()


def augment(
    adata: AnnData,
    *,
    key: str = "vae",
    labels_key: str | None = None,
    target: int | Mapping[str, int] | None = None,
    min_cells: int | None = None,
    seed: int = 0,
) -> AnnData:
    """Top up rare labels of ``adata`` with synthetic cells from a trained model.

    Parameters
    ----------
    adata
        Real cells. The model in ``adata.uns[key]`` must have been trained with labels; it may
        have been trained on another AnnData with the same genes (matched by name).
    key
        Key of the model record in ``adata.uns`` (from :func:`~sc_synth.tl.train_vae`,
        :func:`~sc_synth.tl.train_gan` or any other registered generator).
    labels_key
        Column of ``adata.obs`` with the labels; ``None`` uses the model's ``labels_key``.
    target
        Cells wanted per label: one number for every label, or a dict ``{label: cells}`` for some.
        Labels already at or above their target are left alone.
    min_cells
        Like an integer ``target``: every label with fewer cells is brought up to ``min_cells``.
        With neither ``target`` nor ``min_cells``, labels are brought up to the median label size.
    seed
        Seed of the generation; the same seed gives the same cells.

    Returns
    -------
    AnnData
        A new AnnData: the real cells first, unchanged and in their order, then the synthetic cells.
        ``X`` (and ``layers[layer]`` when the model was trained on a layer) holds the real cells'
        values and the synthetic cells' counts, so normalise after augmenting; other layers,
        ``obsm`` and ``obsp`` are dropped. ``obs`` keeps the real annotation (synthetic cells get
        the label and batch columns, other columns missing) and gains a boolean
        ``obs["synthetic"]``; ``uns`` is a copy of ``adata.uns`` plus ``uns["sc_synth"]``, which
        says which model, key and seed made the synthetic cells and how many were added per label
        (``"added"``).
    """
    record = read_record(adata, key)
    conditions = Conditions.from_record(record["conditions"])
    if conditions.labels_key is None:
        raise ValueError(f"The model in adata.uns[{key!r}] was trained without `labels_key`.")
    labels_key = labels_key or conditions.labels_key
    check_obs_key(adata, labels_key, "labels_key")
    sizes = adata.obs[labels_key].astype(str).value_counts()
    unknown = sorted(set(sizes.index) - set(conditions.labels))
    if unknown:
        raise ValueError(
            f"adata.obs[{labels_key!r}] has labels the model never saw: {unknown}; the model "
            f"knows {conditions.labels}."
        )
    layer = str(record["setup"]["layer"]) or None
    if layer is not None and layer not in adata.layers:
        raise KeyError(f"The model was trained on layer {layer!r}, which adata does not have.")
    deficits = _targets(sizes, target, min_cells)

    real = AnnData(
        X=adata.X,
        obs=adata.obs.copy(),
        var=adata.var.copy(),
        layers={layer: adata.layers[layer]} if layer is not None else None,
    )
    real.obs["synthetic"] = False
    provenance = {"model": str(record["kind"]), "key": key, "seed": seed, "added": deficits}
    if not deficits:
        out = real.copy()
        out.uns = {**deepcopy(dict(adata.uns)), "sc_synth": provenance}
        return out

    synthetic = _align_genes(generate(adata, key, groups=deficits, seed=seed), adata.var_names)
    if labels_key != conditions.labels_key:
        synthetic.obs[labels_key] = synthetic.obs.pop(conditions.labels_key)
    if layer is not None:
        synthetic.layers[layer] = synthetic.X.copy()
    if not sparse.issparse(real.X):
        synthetic.X = synthetic.X.toarray().astype(np.asarray(real.X).dtype, copy=False)
    synthetic.obs_names = [f"{name}-{key}" for name in synthetic.obs_names]

    out = ad.concat([real, synthetic], join="outer", merge="first")
    out.var = adata.var.copy()
    out.obs["synthetic"] = out.obs["synthetic"].astype(bool)
    out.uns = {**deepcopy(dict(adata.uns)), "sc_synth": provenance}
    return out
