"""One seed of an evaluation: the real halves, the compared sets and the rows of the table.

The families (``_families``) compute the numbers; this module hands each the cells of its rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from .._names import ALL, BASELINE, REFERENCE
from . import _privacy
from ._baseline import nb_per_label
from ._families import FAMILIES
from ._inputs import log_normalised
from ._space import shared_space
from ._split import covered_labels, split, subsample, take

if TYPE_CHECKING:
    from tqdm import tqdm  # the bar of :func:`sc_synth._progress.counting`

#: A row needs this many cells per side; its k is lowered to n - 1 where it has fewer than k + 1,
#: so the smallest neighbourhood is 2 (with 1 the balls reach just the nearest cell, and
#: precision and recall measure little more than whether cells come in pairs).
MIN_CELLS = 3
TOO_FEW = "too few cells"
SIZES = ["n_real", "n_synthetic", "n_cells", "k"]


@dataclass
class Inputs:
    """The checked inputs of :func:`~sc_synth.tl.evaluate`, in the shared genes."""

    real_counts: sparse.csr_matrix
    real_labels: np.ndarray | None
    real_batches: np.ndarray | None
    set_counts: dict[str, sparse.csr_matrix]
    set_labels: dict[str, np.ndarray | None]
    members: tuple | None  # the training cells' counts and labels
    truth: pd.DataFrame | None  # genes x labels, true DE (simulated data)
    families: list[str]
    k: int
    n_pcs: int
    n_repeats: int

    @cached_property
    def real_logged(self) -> sparse.csr_matrix:
        """``log1p`` of the real counts scaled to 10,000 per cell, the same for every seed."""
        return log_normalised(self.real_counts)

    @cached_property
    def members_logged(self) -> sparse.csr_matrix:
        """The same of the training cells (``train=``)."""
        return log_normalised(self.members[0])


@dataclass
class Comparison:
    """One compared set in its shared space with what every row of it needs."""

    name: str
    x_real: np.ndarray | None  # PCs of all real cells (None where no family needs them)
    x_cand: np.ndarray | None  # PCs of the compared cells
    real_counts: sparse.csr_matrix
    counts: sparse.csr_matrix
    train: np.ndarray  # real cells taken as the generator's training cells (without ``train=``)
    families: list[str]
    k: int
    seed: int
    rng: np.random.Generator  # of the subsampling of label rows to equal sizes
    progress: tqdm  # advanced by one for every row (see :func:`sc_synth._progress.counting`)
    # with ``train=``: PCs of all real cells, the compared cells and the training cells in the
    # space of the privacy numbers
    privacy_space: tuple | None = None

    def row(
        self,
        group: str,
        a: np.ndarray,
        cand: np.ndarray,
        probe: np.ndarray,
        note: str = "",
        *,
        absent: bool = False,
        members: np.ndarray | None = None,
    ) -> dict:
        """Metrics of real cells ``a`` against compared cells ``cand``.

        ``a`` and ``cand`` are the cells available on each side (``n_real``, ``n_synthetic``);
        the larger side is subsampled to the size of the smaller. ``absent`` says the compared
        set holds no cell of the label at all. ``members`` are the training cells of the row
        (with ``train=``); without them ``probe`` are the real cells whose distance to the other
        real cells scales the distances to the closest record.
        """
        self.progress.update()
        row = {"synthetic": self.name, "group": str(group), "n_real": len(a)}
        row["n_synthetic"] = len(cand)
        n = min(len(a), len(cand))
        a, cand = a[subsample(len(a), n, self.rng)], cand[subsample(len(cand), n, self.rng)]
        row["n_cells"] = n
        notes = [note] if note else []
        if absent:
            return row | {"note": "; ".join([*notes, "no cells of this label in the compared set"])}
        if n < MIN_CELLS:
            notes.append(f"{TOO_FEW}: at least {MIN_CELLS} per side are needed")
            return row | {"note": "; ".join(notes)}
        # a smaller neighbourhood keeps rare labels measurable; the row records it
        k = min(self.k, n - 1)
        row["k"] = k
        if k < self.k:
            notes.append(f"k lowered to {k}: {n} cells per side")
        cells = Row(self, a, cand, probe, members, n, k, notes)
        measures = [FAMILIES[f].row for f in self.families if FAMILIES[f].row is not None]
        for measure in dict.fromkeys(measures):
            row.update(measure(cells))
        return row | {"note": "; ".join(notes)}


@dataclass
class Row:
    """The cells of one row, equal in number on each side, as its families read them."""

    comparison: Comparison
    a: np.ndarray  # real cells (of half A)
    cand: np.ndarray  # compared cells
    probe: np.ndarray  # real cells scaling the privacy distances without ``train=``
    members: np.ndarray | None  # training cells of the row, with ``train=``
    n: int  # cells per side
    k: int  # neighbourhood size
    notes: list[str] = field(default_factory=list)  # a family appends why it says nothing

    @property
    def x_real(self) -> np.ndarray:
        return self.comparison.x_real[self.a]

    @property
    def x_cand(self) -> np.ndarray:
        return self.comparison.x_cand[self.cand]

    @property
    def real_counts(self) -> sparse.csr_matrix:
        return self.comparison.real_counts[self.a]

    @property
    def counts(self) -> sparse.csr_matrix:
        return self.comparison.counts[self.cand]

    @property
    def seed(self) -> int:
        return self.comparison.seed


@dataclass
class Labelled:
    """All cells of one compared set and of half A, for the families that measure per label."""

    real_counts: sparse.csr_matrix
    real_labels: np.ndarray
    counts: sparse.csr_matrix
    labels: np.ndarray
    groups: list[str]  # the labels reported
    truth: pd.DataFrame | None
    seed: int
    cache: dict  # what a family keeps of half A for the next set of the same seed
    key: bytes  # names half A in ``cache``


def evaluate_once(inputs: Inputs, seed: int, progress: tqdm) -> pd.DataFrame:
    """Return the table of :func:`~sc_synth.tl.evaluate` for one seed; ``progress`` counts rows."""
    real_counts, real_labels = inputs.real_counts, inputs.real_labels
    n_real = real_counts.shape[0]
    half = n_real // 2
    half_a, half_b = split(
        n_real, (real_labels, inputs.real_batches), half, np.random.default_rng(seed)
    )
    everyone = np.arange(n_real)

    every = None if real_labels is None else list(pd.unique(real_labels))
    covered = covered_labels(every, inputs.set_labels)
    # the reference and baseline compare the real cells of every label some synthetic set holds
    union = None
    if covered:
        union = [
            g for g in every if any(g in covered.get(name, every) for name in inputs.set_labels)
        ]
        union = None if len(union) == len(every) else union
    b = half_b if union is None else half_b[np.isin(real_labels[half_b], union)]
    candidates = [(REFERENCE, real_counts[b], take(real_labels, b), half_a, union)]
    if real_labels is not None:
        drawn = nb_per_label(real_counts[b], real_labels[b], seed, take(inputs.real_batches, b))
        candidates.append((BASELINE, drawn, real_labels[b], half_b, union))
    for name, counts in inputs.set_counts.items():
        compared = covered.get(name)
        size = half if compared is None else int(np.isin(real_labels[half_a], compared).sum())
        # A generator of its own per set: a set's numbers do not depend on the others compared.
        picked = subsample(counts.shape[0], size, np.random.default_rng([seed, 1]))
        labels = take(inputs.set_labels[name], picked)
        candidates.append((name, counts[picked], labels, everyone, compared))

    compared_labels = every if union is None else union
    if not progress.total:
        # every seed has the same rows
        per_set = 1 + (0 if real_labels is None else len(compared_labels))
        progress.reset(total=inputs.n_repeats * len(candidates) * per_set)
    rows, cache = [], {}
    for name, counts, labels, train, compared in candidates:
        a, note = half_a, ""
        if compared is not None:
            a = half_a[np.isin(real_labels[half_a], compared)]
            missing = [g for g in every if g not in compared]
            where = "the synthetic sets" if name in (REFERENCE, BASELINE) else "this set"
            note = f"real cells of the labels in {where} only, not of {', '.join(missing)}"
        rows += compare(
            name, inputs, a, counts, labels, train,
            labels_compared=compared_labels, held=compared, note=note, seed=seed, cache=cache,
            progress=progress,
        )  # fmt: skip
    columns = [c for family in inputs.families for c in FAMILIES[family].columns]
    table = pd.DataFrame(rows, columns=["synthetic", "group", *SIZES, *columns, "note"])
    table[SIZES] = table[SIZES].astype("Int64")
    table["note"] = table["note"].fillna("")
    table.index = [
        s if g == ALL else f"{s} | {g}"
        for s, g in zip(table["synthetic"], table["group"], strict=True)
    ]
    return table


def compare(
    name, inputs: Inputs, a_pool, counts, labels, train, *, labels_compared, held, note, seed,
    cache: dict, progress: tqdm,
) -> list[dict]:  # fmt: skip
    """Return the rows of one compared set: its ``"all"`` row, then one per label compared."""
    real_counts, real_labels, families = inputs.real_counts, inputs.real_labels, inputs.families
    # Compared sets hold at most as many cells as the real cells they meet; a smaller one takes
    # the first of them, which are in random order.
    a = a_pool[: counts.shape[0]]
    x_real = x_cand = None
    with_privacy = "privacy" in families
    with_members = inputs.members is not None and with_privacy
    needs_pcs = any(FAMILIES[f].needs_pcs for f in families)
    logged = log_normalised(counts) if needs_pcs or with_privacy else None
    # privacy without the training cells measures in the shared space, with them in its own
    if needs_pcs or (with_privacy and inputs.members is None):
        x_real, x_cand = shared_space(inputs.real_logged, logged, a, inputs.n_pcs, seed, cache)
    privacy_space = members = member_labels = None
    if with_members:
        member_counts, member_labels = inputs.members
        members = np.arange(member_counts.shape[0])
        if held is not None:
            members = members[np.isin(member_labels, held)]
        # a space of its own, fitted on an equal share of the held-out real cells, the compared
        # cells and the training cells, so that no side is favoured by having been fitted
        privacy_space = _privacy.space(
            [inputs.real_logged, logged, inputs.members_logged],
            [a, np.arange(counts.shape[0]), members],
            inputs.n_pcs, seed,
        )  # fmt: skip
    comparison = Comparison(
        name, x_real, x_cand, real_counts, counts, train, families, inputs.k, seed,
        np.random.default_rng(seed), progress, privacy_space,
    )  # fmt: skip
    cand = np.arange(counts.shape[0])
    probe = train if held is None else train[np.isin(real_labels[train], held)]
    rows = [comparison.row(ALL, a, cand, probe, note, members=members)]
    groups = []
    if real_labels is not None:
        groups = [g for g in labels_compared if held is None or g in held]
        for group in labels_compared:
            rows.append(
                comparison.row(
                    group,
                    a[real_labels[a] == group],
                    cand[labels == group],
                    train[real_labels[train] == group],
                    absent=held is not None and group not in held,
                    members=None if members is None else members[member_labels[members] == group],
                )
            )
    labelled = [FAMILIES[f].labels for f in families if FAMILIES[f].labels is not None]
    if labelled:
        cells = Labelled(
            real_counts[a], real_labels[a], counts, labels, groups, inputs.truth, seed, cache,
            a.tobytes(),
        )  # fmt: skip
        found = [measure(cells) for measure in labelled]
        for row in rows:
            group = None if row["group"] == ALL else row["group"]
            if group is not None and group not in groups:
                continue
            for per_label in found:
                values = dict(per_label.get(group, {}))
                more = values.pop("note", "")
                row.update(values)
                row["note"] = "; ".join(n for n in (row["note"], more) if n)
    if real_labels is not None:
        for family in families:
            if FAMILIES[family].summary is not None:
                FAMILIES[family].summary(rows)
    return rows
