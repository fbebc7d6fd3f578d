"""Precision against recall, one point per compared set."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from ..tl._evaluate import ALL, BASELINE, REFERENCE
from ._utils import save_or_show

_STYLE = {
    REFERENCE: {"marker": "*", "s": 220, "color": "black", "zorder": 4},
    BASELINE: {"marker": "s", "s": 90, "color": "0.55", "zorder": 3},
}


def precision_recall(
    data: AnnData | pd.DataFrame,
    *,
    key: str = "evaluation",
    groupby: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Axes | None:
    """Plot precision against recall for every compared set.

    The reference row (real half against real half) is a black star: the ceiling on this data;
    the baseline row (negative binomials per label) a grey square: the floor. Synthetic sets are
    coloured circles. Both axes run from 0 to 1; the top right corner is perfect.

    Parameters
    ----------
    data
        The table returned by :func:`sc_synth.tl.evaluate`, or the AnnData it was stored in.
    key
        Key in ``data.uns`` of the table, when ``data`` is an AnnData.
    groupby
        The ``groupby`` the table was computed with: plot one point per set and label (each label
        written next to its point) instead of one per set.
    ax
        Axes to draw into; a new figure when ``None``.
    show
        Show the figure; ``None`` follows ``scanpy.settings.autoshow``.
    save
        Path to write the figure to; the format follows its suffix.

    Returns
    -------
    The Axes, unless the figure was shown.
    """
    table = _table(data, key)
    if groupby is None:
        rows = table[table["group"] == ALL]
    else:
        rows = table[table["group"] != ALL]
        if rows.empty:
            raise ValueError("the table has no rows per label: evaluate it with groupby first")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    colours = iter(plt.get_cmap("tab10").colors)
    for name, points in rows.groupby("synthetic", sort=False):
        style = _STYLE.get(name) or {"marker": "o", "s": 70, "color": next(colours), "zorder": 5}
        ax.scatter(points["recall"], points["precision"], label=name, edgecolors="white", **style)
        if groupby is not None:
            for _, point in points.iterrows():
                ax.annotate(
                    point["group"], (point["recall"], point["precision"]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points", color=style["color"],
                )  # fmt: skip
    ax.plot([0, 1], [0, 1], ls=":", lw=0.8, color="0.7", zorder=0)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="recall", ylabel="precision", aspect="equal")
    ax.legend(loc="lower left", fontsize="small", frameon=True)
    shown = save_or_show(ax.figure, show=show, save=save)
    return None if shown else ax


def _table(data: AnnData | pd.DataFrame, key: str) -> pd.DataFrame:
    if isinstance(data, AnnData):
        if key not in data.uns:
            raise KeyError(f"no evaluation in .uns[{key!r}]: run sc_synth.tl.evaluate first")
        data = data.uns[key]
    missing = {"synthetic", "group", "precision", "recall"} - set(data.columns)
    if missing:
        raise ValueError(
            f"the table lacks columns {sorted(missing)}; evaluate with 'precision_recall'"
        )
    return data
