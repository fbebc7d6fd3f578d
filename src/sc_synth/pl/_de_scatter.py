"""Log-fold-changes of each label, real cells against synthetic cells."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._docs import doc_params
from ._utils import draws_stored, save_or_show


@draws_stored("ss.tl.de_fold_changes(real, synthetic, groupby=...), then ss.pl.de_scatter(real)")
@doc_params
def de_scatter(
    real: AnnData,
    *,
    groups: Sequence[str] | None = None,
    key: str = "de_fold_changes",
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Plot, per label, the synthetic cells' log-fold-changes against the real cells'.

    Draws the result of :func:`.tl.de_fold_changes`: the genes DE in the real cells in
    colour, the others in grey; the dashed line is the identity (DE kept), the solid one the
    slope through the origin over the DE genes, written in the corner (below 1: the generator
    attenuates the differences between cell types)::

        ss.tl.de_fold_changes(real, synthetic, groupby="cell_type")
        ss.pl.de_scatter(real)

    Parameters
    ----------
    real
        Real cells holding the result of :func:`.tl.de_fold_changes` in ``uns[key]``.
    groups
        Labels to plot, one panel each; ``None`` for all of the result's.
    key
        Key in ``real.uns`` of the result (the ``key_added`` of
        :func:`.tl.de_fold_changes`).
    ax
        Axes to draw into, one per label; a new figure when ``None``.
    {doc_show_save}

    Returns
    -------
    Figure or None
        The figure, unless it was shown.
    """
    if key not in real.uns:
        raise KeyError(
            f"no fold changes in .uns[{key!r}]: run "
            f"ss.tl.de_fold_changes(real, synthetic, groupby=..., key_added={key!r}) first"
        )
    result = real.uns[key]
    stored = list(result["groups"])
    groups = stored if groups is None else list(groups)
    unknown = [g for g in groups if g not in stored]
    if unknown:
        raise ValueError(f"groups {unknown} are not in .uns[{key!r}]; plot any of {stored}")
    axes = _axes(ax, len(groups))
    for axis, group in zip(axes, groups, strict=True):
        column = stored.index(group)
        x, y = result["real"][:, column], result["synthetic"][:, column]
        de = np.asarray(result["de"][:, column], dtype=bool)
        axis.scatter(x[~de], y[~de], s=4, color="lightgrey", label="other genes")
        axis.scatter(x[de], y[de], s=6, color="tab:red", label="DE in real")
        low, high = min(x.min(), y.min()), max(x.max(), y.max())
        axis.plot([low, high], [low, high], ls="--", lw=0.8, color="black", label="identity")
        slope = result["slope"][column]
        if not np.isnan(slope):
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
