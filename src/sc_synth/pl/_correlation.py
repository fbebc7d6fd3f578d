"""Gene-gene correlation matrices of real and synthetic cells, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from ..tl import _correlation
from ..tl._inputs import counts_of, labels_of, shared_genes
from ._utils import save_or_show


def correlation(
    real: AnnData,
    synthetic: AnnData,
    *,
    groupby: str | None = None,
    group: str | None = None,
    n_genes: int = 50,
    ax: Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Plot the gene-gene correlation matrices of real and synthetic cells of one label.

    Pearson correlations of ``log1p`` normalised expression over the cells of ``group``, for the
    ``n_genes`` genes most variable in its real cells, in the same gene order on both sides (the
    real matrix's hierarchical clustering, so modules of co-expressed genes show as blocks).
    The title gives the Pearson r between the two upper triangles, the ``gene_gene_corr`` of
    :func:`sc_synth.tl.evaluate` over these genes. A generator that draws genes independently
    shows blocks on the left and a blank diagonal on the right.

    Parameters
    ----------
    real
        Real cells, raw counts in ``X``.
    synthetic
        Synthetic cells, raw counts in ``X``; genes are matched to ``real`` by name.
    groupby
        Column of ``obs`` of both with the labels; ``None`` to use all cells.
    group
        The label to plot; needed with ``groupby``.
    n_genes
        Number of most variable genes.
    ax
        Two Axes to draw into (real, synthetic); a new figure when ``None``.
    show
        Show the figure; ``None`` follows ``scanpy.settings.autoshow``.
    save
        Path to write the figure to; the format follows its suffix.

    Returns
    -------
    Figure or None
        The figure, unless it was shown.
    """
    if (groupby is None) != (group is None):
        raise ValueError("pass groupby and group together: the label column and the label to plot")
    genes = shared_genes(real, {"synthetic": synthetic})
    real_counts, counts = counts_of(real, genes, "real"), counts_of(synthetic, genes, "synthetic")
    if groupby is not None:
        real_in = labels_of(real, groupby, "real") == group
        fake_in = labels_of(synthetic, groupby, "synthetic") == group
        if min(real_in.sum(), fake_in.sum()) < _correlation.MIN_CELLS:
            raise ValueError(
                f"group {group!r} has {real_in.sum()} real and {fake_in.sum()} synthetic cells; "
                f"at least {_correlation.MIN_CELLS} each are needed"
            )
        real_counts, counts = real_counts[real_in], counts[fake_in]
    chosen = _correlation.variable_genes(real_counts, n_genes)
    real_corr = _correlation.gene_correlations(real_counts, chosen)
    fake_corr = _correlation.gene_correlations(counts, chosen)
    order = leaves_list(linkage(squareform(1 - real_corr, checks=False), "average"))
    upper = np.triu_indices(len(chosen), k=1)
    r = np.corrcoef(real_corr[upper], fake_corr[upper])[0, 1]
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(9, 4.4), layout="constrained")
    if len(ax) != 2:
        raise ValueError(f"ax holds {len(ax)} Axes; pass two (real, synthetic)")
    names = genes[chosen][order]
    for axis, corr, side in zip(ax, (real_corr, fake_corr), ("real", "synthetic"), strict=True):
        image = axis.imshow(corr[np.ix_(order, order)], cmap="RdBu_r", vmin=-1, vmax=1)
        axis.set_title(side, fontsize=9)
        ticks = range(0, len(names), max(1, len(names) // 25))
        axis.set_xticks(ticks, names[list(ticks)], rotation=90, fontsize=5)
        axis.set_yticks(ticks, names[list(ticks)], fontsize=5)
    fig = ax[0].figure
    fig.colorbar(image, ax=list(ax), shrink=0.7, label="Pearson r")
    where = "" if group is None else f"{group}: "
    fig.suptitle(f"{where}gene-gene correlation, r = {r:.2f} between the matrices", fontsize=10)
    shown = save_or_show(fig, show=show, save=save)
    return None if shown else fig
