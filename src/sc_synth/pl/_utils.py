"""What every plotting function shares: drawing stored results only, saving and showing."""

from __future__ import annotations

import functools
from pathlib import Path

import matplotlib.pyplot as plt
import scanpy as sc
from matplotlib.figure import Figure


def draws_stored(two_steps: str):
    """Refuse the synthetic cells of the one-call form, telling the two steps that replace it.

    ``two_steps`` is the ``ss.tl`` call that stores the result and the ``ss.pl``
    call that draws it, as a user would type them.
    """

    def decorate(func):
        @functools.wraps(func)
        def wrapper(data, *args, **kwargs):
            if args or "synthetic" in kwargs:
                raise TypeError(
                    f"ss.pl.{func.__name__} draws a stored result and takes one AnnData; "
                    f"compute the result in ss.tl first: {two_steps}"
                )
            return func(data, **kwargs)

        return wrapper

    return decorate


def save_or_show(fig: Figure, *, show: bool | None, save: str | Path | None) -> bool:
    """Write ``fig`` to ``save`` (format from its suffix) and show it; return whether it was shown."""
    if save is not None:
        fig.savefig(save, bbox_inches="tight")
    show = sc.settings.autoshow if show is None else show
    if show:
        plt.show()
    return show
