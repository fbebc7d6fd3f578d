"""Classifier AUC: how well a random forest tells the compared cells from real ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score

from .._threads import n_threads

if TYPE_CHECKING:
    from ._comparison import Row

COLUMNS = ["classifier_auc"]
#: Cells per set beyond which the forest works on a seeded subsample.
MAX_CELLS = 5000
#: Trees of the forest and the share of the cells each one is grown on.
TREES = 50
SHARE = 0.3
#: Cells a side from which the score is out of bag rather than cross-validated.
OOB_FROM = 100


def row(cells: Row) -> dict[str, float]:
    return {"classifier_auc": classifier_auc(cells.x_real, cells.x_cand, cells.seed)}


def classifier_auc(x_real: np.ndarray, x_fake: np.ndarray, seed: int) -> float:
    """ROC AUC of a random forest telling real from candidate cells, held-out scores (0.5 = alike).

    From ``OOB_FROM`` cells a side the scores are out of bag: each cell is scored by the trees
    whose draw (``SHARE`` of the cells) left it out, so one fit scores every cell where a
    5-fold cross-validation fits five forests. Smaller sets, where that is cheap, take the
    stratified 5-fold cross-validated AUC: out-of-bag scores of a handful of cells lean below
    0.5, as a cell left out of a tree's draw leaves its own side one cell short there.
    """
    rng = np.random.default_rng(seed)
    x_real = at_most(x_real, MAX_CELLS, rng)
    x_fake = at_most(x_fake, MAX_CELLS, rng)
    x = np.concatenate([x_real, x_fake])
    y = np.r_[np.zeros(len(x_real)), np.ones(len(x_fake))]
    smaller = min(len(x_real), len(x_fake))
    if smaller >= OOB_FROM:
        forest = RandomForestClassifier(
            n_estimators=TREES,
            max_samples=SHARE,
            oob_score=True,
            random_state=seed,
            n_jobs=n_threads(),
        ).fit(x, y)
        return float(roc_auc_score(y, forest.oob_decision_function_[:, 1]))
    n_splits = min(5, smaller)
    if n_splits < 2:
        return float("nan")
    forest = RandomForestClassifier(n_estimators=TREES, random_state=seed, n_jobs=n_threads())
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return float(cross_val_score(forest, x, y, cv=folds, scoring="roc_auc").mean())


def at_most(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``x``, or ``n`` of its rows drawn with ``rng`` (in their order) when it has more."""
    if len(x) <= n:
        return x
    return x[np.sort(rng.choice(len(x), n, replace=False))]
