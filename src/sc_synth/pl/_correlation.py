"""Gene-gene correlation matrices of real and synthetic cells, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._docs import doc_params
from ._utils import draws_stored, save_or_show


@draws_stored(
    "ss.tl.gene_correlations(real, synthetic, groupby=..., group=...), then ss.pl.correlation(real)"
)
@doc_params
def correlation(
    real: AnnData,
    *,
    key: str = "gene_correlations",
    ax: Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Plot the gene-gene correlation matrices of real and synthetic cells of one label.

    Draws the result of :func:`.tl.gene_correlations`: both matrices in the gene order of
    the real matrix's clustering, so modules of co-expressed genes show as blocks, with the
    Pearson r between their upper triangles in the title. A generator that draws genes
    independently shows blocks on the left and a blank diagonal on the right::

        ss.tl.gene_correlations(real, synthetic, groupby="cell_type", group="B")
        ss.pl.correlation(real)

    Parameters
    ----------
    real
        Real cells holding the result of :func:`.tl.gene_correlations` in ``uns[key]``.
    key
        Key in ``real.uns`` of the result (the ``key_added`` of
        :func:`.tl.gene_correlations`).
    ax
        Two Axes to draw into (real, synthetic); a new figure when ``None``.
    {doc_show_save}

    Returns
    -------
    Figure or None
        The figure, unless it was shown.
    """
    if key not in real.uns:
        raise KeyError(
            f"no correlation matrices in .uns[{key!r}]: run "
            f"ss.tl.gene_correlations(real, synthetic, key_added={key!r}) first"
        )
    result = real.uns[key]
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(9, 4.4), layout="constrained")
    if len(ax) != 2:
        raise ValueError(f"ax holds {len(ax)} Axes; pass two (real, synthetic)")
    names = result["genes"]
    for axis, side in zip(ax, ("real", "synthetic"), strict=True):
        image = axis.imshow(result[side], cmap="RdBu_r", vmin=-1, vmax=1)
        axis.set_title(side, fontsize=9)
        ticks = range(0, len(names), max(1, len(names) // 25))
        axis.set_xticks(ticks, names[list(ticks)], rotation=90, fontsize=5)
        axis.set_yticks(ticks, names[list(ticks)], fontsize=5)
    fig = ax[0].figure
    fig.colorbar(image, ax=list(ax), shrink=0.7, label="Pearson r")
    group = result["params"].get("group")
    where = "" if group is None else f"{group}: "
    fig.suptitle(f"{where}gene-gene correlation, r = {result['r']:.2f} between the matrices",
                 fontsize=10)  # fmt: skip
    shown = save_or_show(fig, show=show, save=save)
    return None if shown else fig
