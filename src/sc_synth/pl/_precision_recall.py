"""Precision against recall, one point per compared set."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from .._docs import doc_params
from .._names import ALL, BASELINE, REFERENCE
from ._palette import set_colors
from ._utils import save_or_show

# The reference is drawn last, over the sets that come close to it, and the baseline below them.
_STYLE = {
    REFERENCE: {"marker": "*", "s": 260, "zorder": 6},
    BASELINE: {"marker": "s", "s": 90, "zorder": 4},
}
_SYNTHETIC = {"marker": "o", "s": 70, "zorder": 5}
# Where a label may go around its point: offset in points and the alignment that keeps the text
# clear of the point, in order of preference; the farther ring serves crowded corners.
_SIDES = [
    (6, 4, "left", "bottom"),
    (6, -4, "left", "top"),
    (-6, 4, "right", "bottom"),
    (-6, -4, "right", "top"),
    (0, 9, "center", "bottom"),
    (0, -9, "center", "top"),
    (9, 0, "left", "center"),
    (-9, 0, "right", "center"),
]
_PLACES = [(dx * far, dy * far, ha, va) for far in (1, 2.5) for dx, dy, ha, va in _SIDES]


@doc_params
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
    circles, each set in the colour it has in every figure of :mod:`sc_synth.pl`. Both axes run
    from 0 to 1; the top right corner is perfect. The legend sits right of the axes. A table with
    ``precision_sd`` and ``recall_sd`` columns (``tl.evaluate(..., n_repeats=...)``) gets error
    bars of one standard deviation either way.

    Parameters
    ----------
    data
        The table returned by :func:`.tl.evaluate`, or the AnnData it was stored in.
    key
        Key in ``data.uns`` of the table, when ``data`` is an AnnData.
    groupby
        The ``groupby`` the table was computed with: plot one point per set and label (each label
        written next to its point, where it covers the fewest points and other labels) instead of
        one per set.
    {doc_ax}
    {doc_show_save}

    Returns
    -------
    Axes or None
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
        _, ax = plt.subplots(figsize=(6.5, 4.6), layout="tight")
    sets = rows.groupby("synthetic", sort=False)
    colors = set_colors(name for name, _ in sets)
    spread = {"precision_sd", "recall_sd"} <= set(rows.columns)
    for name, points in sets:
        style = _STYLE.get(name, _SYNTHETIC)
        if spread:
            ax.errorbar(
                points["recall"], points["precision"], xerr=points["recall_sd"],
                yerr=points["precision_sd"], fmt="none", ecolor=colors[name], elinewidth=1,
                capsize=2, zorder=style["zorder"] - 0.5, clip_on=False,
            )  # fmt: skip
        ax.scatter(
            points["recall"],
            points["precision"],
            label=name,
            color=colors[name],
            edgecolors="white",
            clip_on=False,  # a point on an edge (precision 0 or 1) is drawn whole
            **style,
        )
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="recall", ylabel="precision", aspect="equal")
    ax.set_title("precision and recall" + (f" per {groupby}" if groupby else ""))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small", borderaxespad=0)
    if groupby is not None:
        _label_points(ax, rows, colors)
    shown = save_or_show(ax.figure, show=show, save=save)
    return None if shown else ax


def _label_points(ax: Axes, rows: pd.DataFrame, colors: dict[str, str]) -> None:
    """Write each row's label next to its point, at the place that overlaps least what is drawn.

    Greedy, in row order: every candidate place is scored by how much of its text box covers the
    points and the labels placed so far, and by how much of it leaves the axes.
    """
    # Label placement measures text in display units, so the layout must be final first.
    ax.figure.draw_without_rendering()
    to_pixels = ax.figure.dpi / 72
    xy = ax.transData.transform(rows[["recall", "precision"]].to_numpy(dtype=float))
    radius = np.array([np.sqrt(_STYLE.get(s, _SYNTHETIC)["s"]) / 2 for s in rows["synthetic"]])
    taken = [np.r_[p - r, p + r] for p, r in zip(xy, radius * to_pixels, strict=True)]
    frame = ax.bbox.extents
    for (_, row), point, r in zip(rows.iterrows(), xy, radius, strict=True):
        label, color = str(row["group"]), colors[row["synthetic"]]
        probe = ax.text(0, 0, label, fontsize=7)
        size = np.array(probe.get_window_extent().size)
        probe.remove()
        best = min(
            range(len(_PLACES)),
            key=lambda i: _cost(_box(point, size, _PLACES[i], to_pixels), taken, frame),
        )
        dx, dy, ha, va = _PLACES[best]
        # A label of the farther ring is tied to its point by a thin line.
        line = {"arrowstyle": "-", "color": color, "lw": 0.6, "shrinkA": 1, "shrinkB": r}
        ax.annotate(
            label, (row["recall"], row["precision"]), (dx, dy), textcoords="offset points",
            ha=ha, va=va, fontsize=7, color=color, zorder=7,
            arrowprops=line if best >= len(_SIDES) else None,
        )  # fmt: skip
        taken.append(_box(point, size, _PLACES[best], to_pixels))


def _box(point: np.ndarray, size: np.ndarray, place: tuple, to_pixels: float) -> np.ndarray:
    """Return the text box ``[x0, y0, x1, y1]`` in pixels for a label put at ``place``."""
    dx, dy, ha, va = place
    anchor = point + np.array([dx, dy]) * to_pixels
    shift = np.array(
        [{"left": 0, "center": 0.5, "right": 1}[ha], {"bottom": 0, "center": 0.5, "top": 1}[va]]
    )
    low = anchor - shift * size
    return np.r_[low, low + size]


def _cost(box: np.ndarray, taken: list[np.ndarray], frame: np.ndarray) -> float:
    """Return the area of ``box`` that covers ``taken`` boxes or lies outside ``frame``."""
    area = float(np.prod(box[2:] - box[:2]))
    overlap = sum(_overlap(box, other) for other in taken)
    return overlap + area - _overlap(box, frame)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Return the area two ``[x0, y0, x1, y1]`` boxes share."""
    sides = np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2])
    return float(np.prod(np.clip(sides, 0, None)))


def _table(data: AnnData | pd.DataFrame, key: str) -> pd.DataFrame:
    if isinstance(data, AnnData):
        if key not in data.uns:
            raise KeyError(f"no evaluation in .uns[{key!r}]: run ss.tl.evaluate first")
        data = data.uns[key]
    missing = {"synthetic", "group", "precision", "recall"} - set(data.columns)
    if missing:
        raise ValueError(
            f"the table lacks columns {sorted(missing)}; evaluate with 'precision_recall'"
        )
    return data
