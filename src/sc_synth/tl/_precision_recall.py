"""Precision, recall, density and coverage of a row, with Wilson intervals of the two shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scipy import stats

from ._neighbors import prdc

if TYPE_CHECKING:
    from ._comparison import Row

COLUMNS = [
    "precision", "recall", "precision_ci_low", "precision_ci_high", "recall_ci_low",
    "recall_ci_high",
]  # fmt: skip
DENSITY_COLUMNS = ["density", "coverage"]
CONFIDENCE = 0.95


def row(cells: Row) -> dict[str, float]:
    """Return the four neighbour-ball numbers of ``cells`` (one pass serves both families)."""
    found = prdc(cells.x_real, cells.x_cand, cells.k)
    for share in ("precision", "recall"):
        found[f"{share}_ci_low"], found[f"{share}_ci_high"] = wilson(found[share], cells.n)
    return found


def wilson(share: float, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of ``share`` as a binomial proportion of ``n``."""
    interval = stats.binomtest(round(share * n), n).proportion_ci(CONFIDENCE, method="wilson")
    return float(interval.low), float(interval.high)
