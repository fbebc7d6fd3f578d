"""What every plotting function does last: save and show the figure, scanpy's way."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import scanpy as sc
from matplotlib.figure import Figure


def save_or_show(fig: Figure, *, show: bool | None, save: str | Path | None) -> bool:
    """Write ``fig`` to ``save`` (format from its suffix) and show it; return whether it was shown."""
    if save is not None:
        fig.savefig(save, bbox_inches="tight")
    show = sc.settings.autoshow if show is None else show
    if show:
        plt.show()
    return show
