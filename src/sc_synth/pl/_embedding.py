"""Real and synthetic cells in one embedding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from matplotlib.axes import Axes
from scipy import sparse

from .._threads import keeps_torch_threads
from ..tl._inputs import as_sets, counts_of, shared_genes
from ._palette import LABEL_COLORS, REAL, set_colors
from ._utils import save_or_show

ORIGIN = "origin"


@keeps_torch_threads
def embedding(
    real: AnnData,
    synthetic: AnnData | Mapping[str, AnnData],
    *,
    color: str | Sequence[str] | None = None,
    basis: str = "umap",
    n_pcs: int = 30,
    seed: int = 0,
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
    **kwargs,
) -> Axes | list[Axes] | None:
    """Plot real and synthetic cells in one shared UMAP or PCA, coloured by origin and by labels.

    The cells of all sets are pooled, scaled to 10,000 counts per cell, ``log1p``-transformed and
    projected on PCs fitted on the pooled cells (as in :func:`sc_synth.tl.evaluate`); with
    ``basis="umap"`` a neighbour graph on those PCs gives the UMAP. Cells are drawn in a random
    order (``seed``) so that no set hides another. Synthetic cells that mix with real ones of the
    same label are what a good generator makes.

    Parameters
    ----------
    real
        Real cells, raw counts in ``X``.
    synthetic
        Synthetic cells, or several sets as ``{name: AnnData}``; a single AnnData is named
        ``"synthetic"``. Genes are matched to ``real`` by name.
    color
        Columns of ``obs`` (present in every set) to colour further panels by, e.g. the cell
        type. The first panel is always coloured by origin (``"real"`` or the set's name), each
        set in the colour it has in every figure of :mod:`sc_synth.pl`.
    basis
        ``"umap"`` or ``"pca"``.
    n_pcs
        Number of principal components.
    seed
        Seed of the PCA, the UMAP and the drawing order.
    ax
        Axes to draw into, one per panel; a new figure when ``None``, laid out so that each
        panel's legend, right of it, stays clear of the next panel.
    show
        Show the figure; ``None`` follows ``scanpy.settings.autoshow``.
    save
        Path to write the figure to; the format follows its suffix.
    **kwargs
        Passed to :func:`scanpy.pl.embedding` (e.g. ``size``, ``legend_loc``); a ``palette``
        colours the ``color`` panels only.

    Returns
    -------
    Axes, list of Axes or None
        The Axes (a list of them when there are several panels), unless the figure was shown.
    """
    if basis not in ("umap", "pca"):
        raise ValueError(f"basis must be 'umap' or 'pca', got {basis!r}")
    colors = [color] if isinstance(color, str) else list(color or [])
    joint = _pool(real, as_sets(synthetic, reserved=(REAL,)), colors)
    sc.pp.normalize_total(joint, target_sum=1e4)
    sc.pp.log1p(joint)
    sc.pp.pca(joint, n_comps=min(n_pcs, joint.n_obs - 1, joint.n_vars - 1), random_state=seed)
    if basis == "umap":
        sc.pp.neighbors(joint, use_rep="X_pca", random_state=seed)
        sc.tl.umap(joint, random_state=seed)
    joint = joint[np.random.default_rng(seed).permutation(joint.n_obs)].copy()

    origins = joint.obs[ORIGIN].cat.categories
    joint.uns[f"{ORIGIN}_colors"] = list(set_colors(origins).values())
    palette = kwargs.pop("palette", None) or _label_palette(joint, colors)

    panels = [ORIGIN, *colors]
    axes = _axes(ax, len(panels))
    for panel, panel_ax in zip(panels, axes, strict=True):
        panel_kwargs = kwargs if panel == ORIGIN else {"palette": palette, **kwargs}
        sc.pl.embedding(joint, basis=basis, color=panel, ax=panel_ax, show=False, **panel_kwargs)
    shown = save_or_show(axes[0].figure, show=show, save=save)
    if shown:
        return None
    return axes[0] if len(axes) == 1 else axes


def _label_palette(joint: AnnData, colors: list[str]) -> list[str] | None:
    """Colours for the label panels that no set uses; scanpy's own beyond their number."""
    most = max((joint.obs[c].nunique() for c in colors), default=0)
    return LABEL_COLORS if most <= len(LABEL_COLORS) else None


def _pool(real: AnnData, sets: dict[str, AnnData], colors: list[str]) -> AnnData:
    genes = shared_genes(real, sets)
    parts = {REAL: real, **sets}
    obs = []
    for name, adata in parts.items():
        missing = [c for c in colors if c not in adata.obs]
        if missing:
            raise KeyError(f"color columns {missing} are missing from {name}.obs")
        frame = adata.obs[colors].astype(str).reset_index(drop=True)
        frame.insert(0, ORIGIN, name)
        obs.append(frame)
    obs = pd.concat(obs, ignore_index=True).astype("category")
    obs[ORIGIN] = obs[ORIGIN].cat.reorder_categories(list(parts))
    obs.index = obs.index.astype(str)
    x = sparse.vstack(
        [counts_of(adata, genes, name) for name, adata in parts.items()], format="csr"
    )
    return AnnData(x.astype(np.float32), obs=obs, var=pd.DataFrame(index=genes))


def _axes(ax, n: int) -> list[Axes]:
    if ax is None:
        # The tight layout, redone at each draw, makes room for the legends right of the panels.
        _, axes = plt.subplots(1, n, figsize=(5.5 * n, 4), squeeze=False, layout="tight")
        return list(axes[0])
    axes = [ax] if isinstance(ax, Axes) else list(ax)
    if len(axes) != n:
        raise ValueError(f"{n} panels need {n} Axes, got {len(axes)}")
    return axes
