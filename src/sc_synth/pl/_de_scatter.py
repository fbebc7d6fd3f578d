"""Log-fold-changes of each label, real cells against synthetic cells."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..tl import _de
from ..tl._inputs import counts_of, labels_of, shared_genes
from ._utils import save_or_show


def de_scatter(
    real: AnnData,
    synthetic: AnnData,
    *,
    groupby: str,
    groups: Sequence[str] | None = None,
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Plot, per label, the synthetic cells' log-fold-changes against the real cells'.

    Each label is compared with all other cells of its own set, as in the ``"de"`` family of
    :func:`sc_synth.tl.evaluate`: log2 fold change of mean counts per 10,000 (pseudocount 1).
    The genes DE in the real cells (Wilcoxon, adjusted p < 0.05, at least two-fold) are drawn in
    colour, the others in grey; the dashed line is the identity (DE kept), the solid one the
    slope through the origin over the DE genes, written in the corner (below 1: the generator
    attenuates the differences between cell types). All cells of both sets are used.

    Parameters
    ----------
    real
        Real cells, raw counts in ``X``.
    synthetic
        Synthetic cells, raw counts in ``X``; genes are matched to ``real`` by name.
    groupby
        Column of ``obs`` of both with the labels.
    groups
        Labels to plot, one panel each; ``None`` for every label of ``real`` with at least 5
        cells in and out of it in both sets.
    ax
        Axes to draw into, one per label; a new figure when ``None``.
    show
        Show the figure; ``None`` follows ``scanpy.settings.autoshow``.
    save
        Path to write the figure to; the format follows its suffix.

    Returns
    -------
    Figure or None
        The figure, unless it was shown.
    """
    genes = shared_genes(real, {"synthetic": synthetic})
    real_counts, counts = counts_of(real, genes, "real"), counts_of(synthetic, genes, "synthetic")
    real_labels = labels_of(real, groupby, "real")
    labels = labels_of(synthetic, groupby, "synthetic")
    enough = [
        g for g in dict.fromkeys(real_labels)
        if _de.enough(real_labels, g) and _de.enough(labels, g)
    ]  # fmt: skip
    if groups is None:
        groups = enough
    else:
        groups = list(groups)
        short = [g for g in groups if g not in enough]
        if short:
            raise ValueError(
                f"groups {short} have fewer than {_de.MIN_CELLS} cells in or out of them in real "
                f"or synthetic; plot any of {enough}"
            )
    if not groups:
        raise ValueError(f"no label has {_de.MIN_CELLS} cells in and out of it in both sets")
    axes = _axes(ax, len(groups))
    lfc_real = _de.log_fold_changes(real_counts, real_labels, groups)
    lfc = _de.log_fold_changes(counts, labels, groups)
    ranked = _de.rank_genes(real_counts, real_labels, groups)
    for axis, group in zip(axes, groups, strict=True):
        x, y = lfc_real[group].to_numpy(), lfc[group].to_numpy()
        de = _de.de_genes(ranked[group], x)
        axis.scatter(x[~de], y[~de], s=4, color="lightgrey", label="other genes")
        axis.scatter(x[de], y[de], s=6, color="tab:red", label="DE in real")
        low, high = min(x.min(), y.min()), max(x.max(), y.max())
        axis.plot([low, high], [low, high], ls="--", lw=0.8, color="black", label="identity")
        if de.sum() >= 3:
            slope = _de.agreement(x[de], y[de])["de_slope"]
            axis.plot([low, high], [slope * low, slope * high], lw=1, color="tab:red",
                      label="slope, DE genes")  # fmt: skip
            axis.text(0.03, 0.97, f"slope {slope:.2f}", transform=axis.transAxes, va="top",
                      fontsize=8)  # fmt: skip
        axis.set(title=group, xlabel="log2 fold change, real", ylabel="log2 fold change, synthetic")
    axes[0].legend(fontsize="x-small", loc="lower right")
    fig = axes[0].figure
    shown = save_or_show(fig, show=show, save=save)
    return None if shown else fig


def _axes(ax, n: int) -> list[Axes]:
    if ax is None:
        columns = min(n, 4)
        rows = -(-n // columns)
        fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.1 * rows),
                                 layout="constrained", squeeze=False)  # fmt: skip
        for extra in axes.ravel()[n:]:
            extra.remove()
        return list(axes.ravel()[:n])
    axes = [ax] if isinstance(ax, Axes) else list(np.ravel(ax))
    if len(axes) != n:
        raise ValueError(f"ax holds {len(axes)} Axes for {n} labels; pass one per label")
    return axes
