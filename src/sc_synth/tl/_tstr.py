"""Train on synthetic, test on real: a cell-type classifier fitted on the compared cells."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from ._inputs import log_normalised

if TYPE_CHECKING:
    from ._comparison import Labelled

#: Most cells a classifier is trained on; a larger set is subsampled (with the seed).
MAX_TRAIN = 5000
COLUMNS = ["tstr_f1"]


def labels(cells: Labelled) -> dict:
    """``tstr_f1`` per label of a set and (key ``None``) its macro F1."""
    f1 = tstr(
        cells.counts, cells.labels, cells.real_counts, cells.real_labels, cells.groups, cells.seed
    )
    return {g: {"tstr_f1": value} for g, value in f1.items()}


def tstr(
    train_counts, train_labels: np.ndarray, test_counts, test_labels: np.ndarray,
    groups: list[str], seed: int,
) -> dict:  # fmt: skip
    """F1 on real cells of a logistic regression trained on the compared cells.

    Features are ``log1p`` of counts scaled to 10,000 per cell, all genes. Returns
    ``{label: F1}`` for every label of ``groups`` and ``{None: macro F1}`` over those labels: a
    label the training cells lack, or that the classifier never predicts, scores 0.
    """
    rng = np.random.default_rng(seed)
    rows = np.arange(len(train_labels))
    if len(rows) > MAX_TRAIN:
        rows = np.sort(rng.choice(rows, MAX_TRAIN, replace=False))
    classes = np.unique(train_labels[rows])
    if len(classes) < 2:
        predicted = np.full(len(test_labels), classes[0])
    else:
        model = LogisticRegression(max_iter=200, random_state=seed)
        with warnings.catch_warnings():
            # the classifier is judged as fitted within a fixed budget; cells whose labels
            # carry no signal keep it from converging, and that is what TSTR is there to show
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(log_normalised(train_counts[rows]), train_labels[rows])
        predicted = model.predict(log_normalised(test_counts))
    scores = f1_score(test_labels, predicted, labels=groups, average=None, zero_division=0.0)
    return {g: float(s) for g, s in zip(groups, scores, strict=True)} | {
        None: float(np.mean(scores))
    }
