"""The cells an evaluation compares: the real-vs-real split, equal-size subsamples, held labels."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scanpy import logging as logg


def split(
    n: int, keys: tuple, half: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of ``half`` cells each, in random order, stratified by ``keys``.

    With labels (or batches), the cells of every stratum are dealt alternately to A and B, and
    the deal runs on across strata, so each stratum splits as evenly as its size allows and odd
    strata give their extra cell to A and B in turn. A plain random split hands a label of 13
    cells 9 and 4 now and then, and leaves one of its rows too small.
    """
    keys = [key for key in keys if key is not None]
    order = rng.permutation(n)
    if not keys:
        return order[:half], order[half : 2 * half]
    stratum = pd.MultiIndex.from_arrays(keys).factorize()[0]
    dealt = order[np.argsort(stratum[order], kind="stable")]
    return rng.permutation(dealt[0::2])[:half], rng.permutation(dealt[1::2])[:half]


def subsample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``size`` of ``n`` cells drawn without replacement; all when ``n <= size``."""
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


def take(labels: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    """``labels[idx]``, or ``None`` without labels."""
    return None if labels is None else labels[idx]


def covered_labels(every: list[str] | None, set_labels: dict) -> dict[str, list[str]]:
    """Return the labels of ``real`` held by each set that lacks some; log and warn about them."""
    if every is None:
        return {}
    covered = {}
    for name, labels in set_labels.items():
        held = set(labels)
        present = [g for g in every if g in held]
        if not present:
            raise ValueError(
                f"synthetic set {name!r} holds none of the labels of real ({every[:5]}"
                f"{' ...' if len(every) > 5 else ''}); its groupby column must use the same names"
            )
        if len(present) < len(every):
            covered[name] = present
            logg.info(
                f"evaluate: {name!r} holds {len(present)} of the {len(every)} labels of real; it "
                "is compared with the real cells of those labels only"
            )
    if len({tuple(covered.get(name, every)) for name in set_labels}) > 1:
        warnings.warn(
            "the synthetic sets hold different labels, so their 'all' rows compare with different "
            "real cells; compare them label by label",
            UserWarning,
            stacklevel=5,
        )
    return covered
