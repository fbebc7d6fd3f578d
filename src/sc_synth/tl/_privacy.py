"""Privacy of the generator's training cells: distances to the closest record and an attack."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import roc_auc_score

from ._neighbors import kth_neighbor_sq
from ._space import pca, project

if TYPE_CHECKING:
    from ._comparison import Row

COLUMNS = ["dcr_ratio", "copy_fraction", "membership_auc"]
#: Most cells the PCA of the privacy space is fitted on, drawn alike from every side.
MAX_FIT = 3000


def row(cells: Row) -> dict[str, float]:
    """Privacy numbers of a row: against the training cells, or against all of ``real`` without them."""
    comparison = cells.comparison
    if comparison.privacy_space is None:
        # without the training cells, all of real stands in for them
        found = memorization(
            cells.x_cand, comparison.x_real[comparison.train], comparison.x_real[cells.probe]
        )
        return found | {"membership_auc": np.nan}
    x_real, x_cand, x_train = comparison.privacy_space
    if len(cells.members) == 0:
        cells.notes.append("privacy: no training cells of this label")
        return {}
    return privacy(x_cand[cells.cand], x_train[cells.members], x_real[cells.a])


def space(logged: list, fit: list[np.ndarray], n_pcs: int, seed: int) -> list[np.ndarray]:
    """PCs of every cell of ``logged`` (log-normalised matrices), fitted on an equal share of each.

    ``fit[i]`` are the rows of ``logged[i]`` that may enter the fit (the cells of that side that
    are compared). The same share of each is drawn (with ``seed``), at most ``MAX_FIT`` cells in
    all, so that members, non-members and compared cells have the same chance of having been
    fitted: cells a PCA was fitted on spread wider along its PCs than cells projected into it,
    which would move their distances and give the attack a signal that is not there.
    """
    rng = np.random.default_rng(seed)
    share = min(1.0, MAX_FIT / sum(len(rows) for rows in fit))
    chosen = [
        np.sort(rng.choice(rows, max(2, round(share * len(rows))), replace=False)) for rows in fit
    ]
    loadings, center = pca(
        [(x, rows, None) for x, rows in zip(logged, chosen, strict=True)], n_pcs, seed
    )
    return [project(x, loadings, center) for x in logged]


def privacy(x_cand: np.ndarray, x_train: np.ndarray, x_held: np.ndarray) -> dict[str, float]:
    """Distances of compared and held-out real cells to the training cells, and an attack on them.

    Parameters
    ----------
    x_cand
        Compared (synthetic) cells.
    x_train
        The generator's training cells: the members.
    x_held
        Real cells the generator never saw: the non-members.

    Returns
    -------
    ``dcr_ratio``: median distance from a compared cell to its closest training cell over the same
    for a held-out real cell (about 1 for fresh cells, toward 0 for copies); ``copy_fraction``:
    share of compared cells sitting on a training cell (closer than 1e-6 of the held-out median);
    ``membership_auc``: ROC AUC of telling members from non-members by their distance to the
    closest compared cell, the closer the more likely a member (0.5: nothing leaks, 1: every
    training cell has a compared cell nearer than any held-out cell has).
    """
    dcr_cand = np.sqrt(kth_neighbor_sq(x_cand, x_train, 1))
    typical = np.median(np.sqrt(kth_neighbor_sq(x_held, x_train, 1)))
    to_cand = np.sqrt(kth_neighbor_sq(np.concatenate([x_train, x_held]), x_cand, 1))
    member = np.r_[np.ones(len(x_train)), np.zeros(len(x_held))]
    return {
        "dcr_ratio": float(np.median(dcr_cand) / typical) if typical > 0 else np.nan,
        "copy_fraction": float(np.mean(dcr_cand < 1e-6 * typical)),
        "membership_auc": float(roc_auc_score(member, -to_cand)),
    }


def memorization(
    x_fake: np.ndarray, x_train: np.ndarray, x_train_probe: np.ndarray | None = None
) -> dict[str, float]:
    """Distance to the closest training record, compared with that among training cells themselves.

    ``dcr_ratio`` is the median distance from a candidate cell to its nearest training cell divided
    by the median distance from a training cell (``x_train_probe``, a subset of ``x_train``; all of
    it when ``None``) to its nearest *other* training cell. Candidates drawn afresh from the same
    distribution give about 1; copies of training cells pull it toward 0. ``copy_fraction`` is the
    share of candidate cells that sit on a training cell (closer than 1e-6 of that median).
    """
    probe = x_train if x_train_probe is None else x_train_probe
    dcr_fake = np.sqrt(kth_neighbor_sq(x_fake, x_train, 1))
    # the probe cells belong to x_train, so their nearest record is themselves: take the second
    dcr_train = np.sqrt(kth_neighbor_sq(probe, x_train, 2))
    typical = np.median(dcr_train)
    if typical <= 0:
        return {"dcr_ratio": float("nan"), "copy_fraction": float(np.mean(dcr_fake <= 0))}
    return {
        "dcr_ratio": float(np.median(dcr_fake) / typical),
        "copy_fraction": float(np.mean(dcr_fake < 1e-6 * typical)),
    }


def row_keys(counts) -> list[tuple[bytes, bytes]]:
    """One key per cell of a CSR counts matrix: equal keys for equal rows."""
    counts = counts.copy()
    counts.sort_indices()
    return [
        (counts.indices[start:end].tobytes(), counts.data[start:end].tobytes())
        for start, end in zip(counts.indptr[:-1], counts.indptr[1:], strict=True)
    ]


def warn_overlap(real_counts, train_counts) -> None:
    """Warn when cells of ``train`` also appear in ``real`` (identical counts over the genes)."""
    # an empty cell matches any other empty cell, and says nothing about a copy
    seen = {key for key in row_keys(real_counts) if key[0]}
    shared = sum(key in seen for key in row_keys(train_counts))
    if shared:
        warnings.warn(
            f"{shared} cells of train have the counts of a cell of real: real should hold cells "
            "the generator never saw, or the privacy numbers mean nothing",
            UserWarning,
            stacklevel=4,
        )
