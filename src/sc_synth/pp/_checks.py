"""Checks of the simulation's structural arguments: counts of things, probabilities, path trees."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np


def check_count(name: str, value, *, minimum: int = 1) -> int:
    """``value`` as an ``int`` ≥ ``minimum``, or a :class:`TypeError`/:class:`ValueError` naming it."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(
            f"`{name}` must be an integer >= {minimum}, got {value!r} ({type(value).__name__})."
        )
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value}.")
    return int(value)


def check_path_from(path_from, n_paths: int) -> list[int]:
    """``path_from`` for each of ``n_paths`` paths, or a :class:`ValueError` naming the problem.

    Every value must be 0 (the origin) or a path number, and following the starts from any path
    must reach the origin: a path that starts from itself, or from a path that leads back to
    it, is a cycle.
    """
    starts = [int(v) for v in np.broadcast_to(np.asarray(path_from), (n_paths,))]
    bad = [v for v in starts if v > n_paths]
    if bad:
        raise ValueError(
            f"`path_from` values must be 0 (the origin) or a path number from 1 to {n_paths}, "
            f"got {bad[0]}."
        )
    for path in range(1, n_paths + 1):
        seen = [path]
        while (start := starts[seen[-1] - 1]) != 0:
            if start in seen:
                cycle = seen[seen.index(start) :]
                loop = (
                    f"path {start} starts from itself"
                    if len(cycle) == 1
                    else f"paths {sorted(cycle)} start from one another"
                )
                raise ValueError(
                    "`path_from` must lead every path back to the origin (0) without cycles; "
                    f"{loop} (path_from={starts})."
                )
            seen.append(start)
    return starts


def check_probabilities(name: str, value) -> list[float]:
    """``value`` as a list of probabilities summing to 1, or an error naming ``name``."""
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(f"`{name}` must be a sequence of probabilities, got {value!r}.")
    try:
        probs = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must hold numbers, got {value!r}.") from None
    if probs.size == 0 or not np.all(np.isfinite(probs)) or np.any((probs < 0) | (probs > 1)):
        raise ValueError(
            f"`{name}` must hold one or more probabilities in [0, 1], got {list(probs)}."
        )
    if not np.isclose(probs.sum(), 1.0, rtol=0, atol=1e-6):
        raise ValueError(f"`{name}` must sum to 1, got {list(probs)} (sum {probs.sum():g}).")
    return [float(p) for p in probs / probs.sum()]
