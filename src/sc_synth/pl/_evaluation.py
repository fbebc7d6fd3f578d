"""A scorecard of the evaluation: metrics by compared sets, coloured by distance from the reference."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from .._docs import doc_params
from .._names import ALL, REFERENCE
from ._utils import save_or_show

# Columns that describe a row rather than judge it.
_NOT_METRICS = {"synthetic", "group", "n_real", "n_synthetic", "n_cells", "k", "note", "de_genes"}


@doc_params
def evaluation(
    data: AnnData | pd.DataFrame,
    *,
    key: str = "evaluation",
    group: str = ALL,
    metrics: Sequence[str] | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Axes | None:
    """Plot the evaluation as a scorecard: one row per metric, one column per compared set.

    Each cell shows the value and is coloured by its distance from the ``"real (reference)"``
    value of its metric, divided by the largest such distance of that metric in the card: white
    at the reference, dark red for the set farthest from it. The reference column is therefore
    white, and a set whose column stays pale scores like real cells on every count, whether the
    metric is better high or low.

    Parameters
    ----------
    data
        The table returned by :func:`.tl.evaluate`, or the AnnData it was stored in.
    key
        Key in ``data.uns`` of the table, when ``data`` is an AnnData.
    group
        Rows of which label to show; ``"all"`` (the default) for the rows of all cells.
    metrics
        Metric columns to show, in this order; ``None`` for every metric column of the table
        (without confidence bounds and standard deviations).
    {doc_ax}
    {doc_show_save}

    Returns
    -------
    Axes or None
        The Axes, unless the figure was shown.
    """
    table = data
    if isinstance(data, AnnData):
        if key not in data.uns:
            raise KeyError(f"no evaluation in .uns[{key!r}]: run ss.tl.evaluate first")
        table = data.uns[key]
    rows = table[table["group"] == group].set_index("synthetic")
    if rows.empty:
        raise ValueError(f"the table has no rows of group {group!r}")
    if REFERENCE not in rows.index:
        raise ValueError(f"the table has no {REFERENCE!r} row to measure distances from")
    if metrics is None:
        metrics = [
            c for c in table.columns
            if c not in _NOT_METRICS and not c.endswith(("_sd", "_ci_low", "_ci_high"))
        ]  # fmt: skip
    missing = [m for m in metrics if m not in table.columns]
    if missing:
        raise ValueError(f"the table has no columns {missing}")
    values = rows[list(metrics)].astype(float).T  # metrics x sets
    distance = (values.sub(values[REFERENCE], axis=0)).abs()
    scale = distance.max(axis=1).replace(0, np.nan)
    shade = distance.div(scale, axis=0).fillna(0).to_numpy()
    if ax is None:
        _, ax = plt.subplots(
            figsize=(1.4 + 1.1 * values.shape[1], 0.8 + 0.32 * values.shape[0]), layout="tight"
        )
    # vmax above 1 keeps the darkest shade light enough to read the value on it
    ax.imshow(np.ma.masked_invalid(np.where(values.isna(), np.nan, shade)), cmap="Reds",
              vmin=0, vmax=1.4, aspect="auto")  # fmt: skip
    for (i, j), value in np.ndenumerate(values.to_numpy()):
        text = "–" if np.isnan(value) else f"{value:.2f}"
        ax.text(j, i, text, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(values.shape[1]), values.columns, rotation=30, ha="right")
    ax.set_yticks(range(values.shape[0]), values.index)
    ax.tick_params(length=0, labelsize=8)
    ax.set_title("evaluation" + ("" if group == ALL else f": {group}") + " (shade: off the reference)",
                 fontsize=9)  # fmt: skip
    shown = save_or_show(ax.figure, show=show, save=save)
    return None if shown else ax
