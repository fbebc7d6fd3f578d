"""Real and synthetic cells in one embedding."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import scanpy as sc
from anndata import AnnData
from matplotlib.axes import Axes

from .._docs import doc_params
from .._names import ORIGIN
from ._palette import LABEL_COLORS, set_colors
from ._utils import draws_stored, save_or_show


@draws_stored(
    "joint = ss.tl.embedding(real, synthetic, keys=color, basis=basis), then "
    "ss.pl.embedding(joint, color=color, basis=basis)"
)
@doc_params
def embedding(
    data: AnnData,
    *,
    color: str | Sequence[str] | None = None,
    basis: str = "umap",
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
    **kwargs,
) -> Axes | list[Axes] | None:
    """Plot real and synthetic cells in one shared UMAP or PCA, coloured by origin and by labels.

    Draws the pooled cells of :func:`.tl.embedding` in their order (random, so that no
    set hides another). Synthetic cells that mix with real ones of the same label are what a
    good generator makes::

        joint = ss.tl.embedding(real, synthetic, keys="cell_type")
        ss.pl.embedding(joint, color="cell_type")

    Parameters
    ----------
    data
        The pooled cells returned by :func:`.tl.embedding`, with ``obs["origin"]``,
        ``obsm["X_<basis>"]`` and the ``color`` columns (its ``keys``).
    color
        Columns of ``obs`` to colour further panels by, e.g. the cell type. The first panel is
        always coloured by origin (``"real"`` or the set's name), each set in the colour it has
        in every figure of :mod:`sc_synth.pl`.
    basis
        Draws ``obsm["X_<basis>"]``: ``"umap"`` or ``"pca"`` as :func:`.tl.embedding`
        stores them.
    ax
        Axes to draw into, one per panel; a new figure when ``None``, laid out so that each
        panel's legend, right of it, stays clear of the next panel.
    {doc_show_save}
    **kwargs
        Passed to :func:`scanpy.pl.embedding` (e.g. ``size``, ``legend_loc``); a ``palette``
        colours the ``color`` panels only.

    Returns
    -------
    Axes, list of Axes or None
        The Axes (a list of them when there are several panels), unless the figure was shown.
        Writes ``data.uns["origin_colors"]``, the colour of each set, as scanpy keeps colours.
    """
    colors = [color] if isinstance(color, str) else list(color or [])
    missing = [c for c in (ORIGIN, *colors) if c not in data.obs]
    if f"X_{basis}" not in data.obsm or missing:
        lacks = [f"obsm['X_{basis}']"] if f"X_{basis}" not in data.obsm else []
        lacks += [f"obs[{c!r}]" for c in missing]
        raise KeyError(
            f"data has no {', '.join(lacks)}: pool and embed the cells first, "
            f"joint = ss.tl.embedding(real, synthetic, keys={colors!r}, basis={basis!r}), "
            f"then ss.pl.embedding(joint, color={colors!r}, basis={basis!r})"
        )
    origins = data.obs[ORIGIN].cat.categories
    data.uns[f"{ORIGIN}_colors"] = list(set_colors(origins).values())
    palette = kwargs.pop("palette", None) or _label_palette(data, colors)

    panels = [ORIGIN, *colors]
    axes = _axes(ax, len(panels))
    for panel, panel_ax in zip(panels, axes, strict=True):
        panel_kwargs = kwargs if panel == ORIGIN else {"palette": palette, **kwargs}
        sc.pl.embedding(data, basis=basis, color=panel, ax=panel_ax, show=False, **panel_kwargs)
    shown = save_or_show(axes[0].figure, show=show, save=save)
    if shown:
        return None
    return axes[0] if len(axes) == 1 else axes


def _label_palette(joint: AnnData, colors: list[str]) -> list[str] | None:
    """Colours for the label panels that no set uses; scanpy's own beyond their number."""
    most = max((joint.obs[c].nunique() for c in colors), default=0)
    return LABEL_COLORS if most <= len(LABEL_COLORS) else None


def _axes(ax, n: int) -> list[Axes]:
    if ax is None:
        # The tight layout, redone at each draw, makes room for the legends right of the panels.
        _, axes = plt.subplots(1, n, figsize=(5.5 * n, 4), squeeze=False, layout="tight")
        return list(axes[0])
    axes = [ax] if isinstance(ax, Axes) else list(ax)
    if len(axes) != n:
        raise ValueError(f"{n} panels need {n} Axes, got {len(axes)}")
    return axes
