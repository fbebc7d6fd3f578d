"""Public evaluation of synthetic cells against real cells."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scanpy import logging as logg
from scipy import sparse, stats

from .._names import ALL, BASELINE, REFERENCE
from .._threads import keeps_torch_threads
from . import _correlation, _de, _metrics, _privacy
from ._baseline import nb_per_label
from ._inputs import as_sets, counts_of, labels_of, shared_genes
from ._neighbors import prdc
from ._tstr import tstr

METRICS = (
    "precision_recall",
    "density_coverage",
    "classifier_auc",
    "mmd",
    "gene_stats",
    "privacy",
    "correlation",
    "de",
    "tstr",
)
# Older name of "privacy", from before it took the training cells.
ALIASES = {"memorization": "privacy"}
# Families that compare labels, so need ``groupby``; ``metrics=None`` leaves them out without it.
NEEDS_GROUPBY = ("de", "tstr")
# A row needs this many cells per side; its k is lowered to n - 1 where it has fewer than k + 1,
# so the smallest neighbourhood is 2 (with 1 the balls reach just the nearest cell, and
# precision and recall measure little more than whether cells come in pairs).
MIN_CELLS = 3
CONFIDENCE = 0.95
_TOO_FEW = "too few cells"
_COLUMNS = {
    "precision_recall": [
        "precision",
        "recall",
        "precision_ci_low",
        "precision_ci_high",
        "recall_ci_low",
        "recall_ci_high",
    ],  # fmt: skip
    "density_coverage": ["density", "coverage"],
    "classifier_auc": ["classifier_auc"],
    "mmd": ["mmd"],
    "gene_stats": ["gene_mean_corr", "gene_var_corr", "gene_zero_frac_corr", "library_size_ks"],
    "privacy": _privacy.COLUMNS,
    "correlation": ["gene_gene_corr"],
    "de": _de.COLUMNS,
    "tstr": ["tstr_f1"],
}
_SIZES = ["n_real", "n_synthetic", "n_cells", "k"]


@keeps_torch_threads
def evaluate(
    real: AnnData,
    synthetic: AnnData | Mapping[str, AnnData],
    *,
    groupby: str | None = None,
    batch_key: str | None = None,
    metrics: str | Sequence[str] | None = None,
    k: int = 5,
    n_pcs: int = 30,
    seed: int = 0,
    key_added: str = "evaluation",
    train: AnnData | None = None,
    n_repeats: int = 1,
) -> pd.DataFrame:
    """Judge how real synthetic cells are.

    The real cells are shuffled with ``seed`` and split into two halves, A and B (within every
    label, and batch, when ``groupby`` and ``batch_key`` are given, so that each half holds
    half of every label). Every synthetic set is compared with half A, after both are subsampled
    (with ``seed``) to the same number of cells. Two more rows frame the numbers:
    ``"real (reference)"`` compares half A with half B (the ceiling: what a perfect generator
    reaches on this data) and, with ``groupby``, ``"baseline (NB per label)"`` compares half A
    with cells drawn from independent negative binomials per label (per label and batch with
    ``batch_key``) fitted on half B (the floor a learned generator must clear).

    With ``groupby``, like is compared with like: a synthetic set holding only some of the labels
    of ``real`` (say 500 cells of one rare type) is compared with the real cells of those labels
    only. Its ``"all"`` row says so in ``note`` and an info line is logged; the reference and
    baseline rows then use the real cells of the labels present in any synthetic set.

    Each comparison has its own shared space: counts scaled to 10,000 per cell, ``log1p``, and a
    PCA fitted on the two compared sets *together*, each cell once (cells a PCA was fitted on
    spread wider along its PCs than cells projected into it, so fitting on one side alone, or on
    more cells of one side, makes the other side look synthetic). The remaining real cells are
    projected, for the distances of ``"privacy"`` without ``train``. Genes are matched by name.

    Parameters
    ----------
    real
        Real cells, raw counts in ``X``.
    synthetic
        Synthetic cells (raw counts in ``X``), or several sets as ``{name: AnnData}``. A single
        AnnData is named ``"synthetic"``.
    groupby
        Column of ``obs`` (in ``real`` and every synthetic set) with cell labels: adds one row
        per label and the baseline row.
    batch_key
        Column of ``real.obs`` with batches: the split into halves keeps half of every label and
        batch on each side, and the baseline is fitted per label and batch (a label x batch with
        fewer than 10 cells in half B draws from its label's fit over all batches). Without
        ``groupby`` it only balances the split. ``None`` ignores batches; pass it for batched
        data, where a baseline blind to batches draws cells between them and sets a floor far
        too low.
    metrics
        Metric families to compute; ``None`` for all (see the last entry):

        ``"precision_recall"``
            ``precision``: share of compared cells inside the real manifold (the union of real
            cells' balls reaching their ``k``-th nearest real neighbour); ``recall``: share of real
            cells inside the compared cells' manifold (Kynkäänniemi et al. 2019).
            ``precision_ci_low`` / ``precision_ci_high`` and ``recall_ci_low`` /
            ``recall_ci_high``: 95 % Wilson score interval of each as a binomial proportion of
            ``n_cells`` cells (the spread from drawing the cells, given the manifold they are
            tested against).
        ``"density_coverage"``
            ``density``: mean number of real balls holding a compared cell, divided by ``k``
            (about 1 when alike, above 1 when crowding dense regions); ``coverage``: share of real
            balls holding at least one compared cell (Naeem et al. 2020).
        ``"classifier_auc"``
            ``classifier_auc``: ROC AUC of a random forest telling real from compared cells on
            the PCs, on out-of-bag scores from 100 cells a side and 5-fold cross-validated below;
            0.5 means indistinguishable, 1 trivially told apart.
        ``"mmd"``
            ``mmd``: unbiased squared maximum mean discrepancy on the PCs, RBF kernel with the
            median pooled distance as bandwidth; about 0 when alike.
        ``"gene_stats"``
            ``gene_mean_corr``, ``gene_var_corr``: Pearson correlation over genes of the mean and
            variance of ``log1p`` of counts scaled to 10,000; ``gene_zero_frac_corr``: of the share
            of zero counts; ``library_size_ks``: Kolmogorov-Smirnov distance of library sizes
            (0 alike, 1 disjoint).
        ``"privacy"`` (also ``"memorization"``, its former name)
            Distances to the closest record (DCR) in PCs. With ``train``, in a space fitted on
            an equal share (at most 3,000 cells in all) of the real cells of half A (the
            non-members: the generator never saw them), the compared cells and the training
            cells (the members): ``dcr_ratio``, median
            DCR of compared cells to the training cells over that of the half A cells (about 1
            for fresh cells, toward 0 for copies); ``copy_fraction``, share of compared cells
            sitting on a training cell; ``membership_auc``, ROC AUC of an attacker telling
            members from non-members by their distance to the closest compared cell (0.5:
            nothing leaks, toward 1: the compared cells give the training cells away).
            Without ``train``, all of ``real`` stands in for the training cells (half A for the
            reference row, half B for the baseline), ``dcr_ratio`` divides by the distance of a
            training cell to its nearest other training cell, and ``membership_auc`` is NaN.
        ``"correlation"``
            ``gene_gene_corr``: Pearson r between the upper triangles of the gene-gene
            correlation matrices (``log1p`` normalised expression) of the real and compared
            cells, over the 200 genes most variable in the real cells. With ``groupby``, label
            rows measure within their label and the ``"all"`` row is the mean over labels (the
            co-expression within cell types; between them genes just follow the labels'
            profiles). Rows with fewer than 10 cells per side are NaN.
        ``"de"`` (needs ``groupby``)
            Each label against all other cells of its own set: log2 fold change of mean
            expression (counts per 10,000, pseudocount 1), on the genes DE in the real cells
            (Wilcoxon rank-sum as ``sc.tl.rank_genes_groups`` runs it, Benjamini-Hochberg
            p < 0.05, fold change at least 2). ``de_slope``: slope through the origin of the
            compared cells' fold changes on the real ones (1 kept, < 1 attenuated); ``de_r``:
            their Pearson r; ``de_jaccard``: Jaccard index of the 50 top-ranked marker genes;
            ``de_genes``: the genes measured. With ``pp.simulate``'s ``var["de_fac_<label>"]``
            in ``real``: ``de_auroc``, ROC AUC of the compared cells' absolute Wilcoxon scores
            recovering the truly DE genes, and ``de_auroc_real``, the same from the real cells.
            The ``"all"`` row pools the genes of all labels (slope, r) or averages (the rest).
            A label with fewer than 5 cells in or out of it on a side is skipped, with a note.
        ``"tstr"`` (needs ``groupby``)
            ``tstr_f1``: F1 on the row's real cells (half A) of a logistic regression on
            ``log1p`` normalised counts trained on the compared cells (at most 5,000); macro F1
            in the ``"all"`` row. The reference row trains on half B.

        ``None`` computes all of them, ``"de"`` and ``"tstr"`` only with ``groupby``.
    k
        Neighbourhood size of the precision, recall, density and coverage balls. A row with
        fewer than ``k + 1`` cells per side uses ``n_cells - 1`` instead (see Returns).
    n_pcs
        Number of principal components of the shared space.
    seed
        Seed of the split, the subsampling, the PCA, the classifier and the baseline draws:
        the same seed gives the same numbers.
    key_added
        Key in ``real.uns`` under which the table is stored.
    train
        The generator's training cells (raw counts in ``X``; genes matched by name, the genes
        shared with ``real`` and every set are used), for the ``"privacy"`` family; with
        ``groupby`` it needs that column too. ``real`` should then hold cells the generator
        never saw: a warning names training cells found in it.
    n_repeats
        Repeat the evaluation with seeds ``seed`` ... ``seed + n_repeats - 1`` (each another
        split into halves, other subsamples and baseline draws) and report the mean of every
        metric, with its standard deviation over the seeds in ``<metric>_sd``.

    Returns
    -------
    One row per compared set, reference row first, then baseline, then the synthetic sets in
    their given order; with ``groupby`` every set has a row for all its cells (``group`` is
    ``"all"``) followed by one row per label of ``real`` (of the labels compared, see above). The
    index is the set name, or ``"<name> | <label>"`` for label rows. Columns:

    - ``synthetic`` (set name) and ``group``;
    - ``n_real``, ``n_synthetic``: the row's cells on each side of the comparison: in half A (or
      the part of it that meets a smaller set) and in the compared set after its subsampling
      (half B for the reference row, the baseline's draws for the baseline row);
    - ``n_cells``: cells per side actually compared, the smaller of the two after subsampling;
    - ``k``: the neighbourhood size used, ``min(k, n_cells - 1)``, so that rare labels get
      numbers too: compare rows of one label at equal ``k``;
    - the metric columns above; with ``n_repeats > 1`` their means over the seeds, each
      followed by ``<metric>_sd`` (sizes and notes are those of the first seed);
    - ``note``: empty, or why a row is special: a lowered ``k``, the labels an ``"all"`` row is
      restricted to, or why its metrics are NaN. Rows with fewer than 3 cells on either side
      have NaN metrics, named in a warning; so have the rows of labels a set does not hold.

    The same table is written to ``real.uns[key_added]``; nothing else of the inputs is changed.
    """
    families = _check_metrics(metrics, groupby)
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if not isinstance(n_repeats, int | np.integer) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer, got {n_repeats!r}")
    sets = as_sets(synthetic, reserved=(REFERENCE, BASELINE))
    genes = shared_genes(real, sets)
    if train is not None:
        genes = _train_genes(train, genes)
    real_counts = counts_of(real, genes, "real")
    real_labels = labels_of(real, groupby, "real")
    real_batches = labels_of(real, batch_key, "real", argument="batch_key")
    set_labels = {name: labels_of(adata, groupby, name) for name, adata in sets.items()}
    for name, adata in sets.items():
        if adata.n_obs < k + 1:
            raise ValueError(
                f"synthetic set {name!r} has {adata.n_obs} cells, fewer than k + 1 = {k + 1}"
            )
    if real.n_obs // 2 < k + 1:
        raise ValueError(
            f"real has {real.n_obs} cells: at least {2 * (k + 1)} are needed to split it into two "
            f"halves of k + 1 = {k + 1}"
        )
    members = None
    if train is not None and "privacy" in families:
        members = (counts_of(train, genes, "train"), labels_of(train, groupby, "train"))
        _privacy.warn_overlap(real_counts, members[0])
    truth = None
    if "de" in families:
        truth = _de.truth_of(
            real.var.loc[genes].reset_index(drop=True), list(pd.unique(real_labels))
        )
    inputs = _Inputs(
        real_counts, real_labels, real_batches,
        {name: counts_of(adata, genes, name) for name, adata in sets.items()}, set_labels,
        members, truth, families, k, n_pcs,
    )  # fmt: skip
    tables = []
    for repeat in range(n_repeats):
        tables.append(_evaluate_once(inputs, seed + repeat))
    table = tables[0] if n_repeats == 1 else _spread(tables)
    _warn_too_small(table)
    real.uns[key_added] = table.copy()
    return table


@dataclass
class _Inputs:
    """The checked inputs of :func:`evaluate`, in the shared genes."""

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


def _evaluate_once(inputs: _Inputs, seed: int) -> pd.DataFrame:
    """Return the table of :func:`evaluate` for one seed."""
    real_counts, real_labels = inputs.real_counts, inputs.real_labels
    n_real = real_counts.shape[0]
    half = n_real // 2
    half_a, half_b = _split(
        n_real, (real_labels, inputs.real_batches), half, np.random.default_rng(seed)
    )
    everyone = np.arange(n_real)

    every = None if real_labels is None else list(pd.unique(real_labels))
    covered = _covered_labels(every, inputs.set_labels)
    # the reference and baseline compare the real cells of every label some synthetic set holds
    union = None
    if covered:
        union = [
            g for g in every if any(g in covered.get(name, every) for name in inputs.set_labels)
        ]
        union = None if len(union) == len(every) else union
    b = half_b if union is None else half_b[np.isin(real_labels[half_b], union)]
    candidates = [(REFERENCE, real_counts[b], _take(real_labels, b), half_a, union)]
    if real_labels is not None:
        drawn = nb_per_label(real_counts[b], real_labels[b], seed, _take(inputs.real_batches, b))
        candidates.append((BASELINE, drawn, real_labels[b], half_b, union))
    for name, counts in inputs.set_counts.items():
        compared = covered.get(name)
        size = half if compared is None else int(np.isin(real_labels[half_a], compared).sum())
        # A generator of its own per set: a set's numbers do not depend on the others compared.
        take = _subsample(counts.shape[0], size, np.random.default_rng([seed, 1]))
        labels = _take(inputs.set_labels[name], take)
        candidates.append((name, counts[take], labels, everyone, compared))

    rows, de_cache = [], {}
    for name, counts, labels, train, compared in candidates:
        a, note = half_a, ""
        if compared is not None:
            a = half_a[np.isin(real_labels[half_a], compared)]
            missing = [g for g in every if g not in compared]
            where = "the synthetic sets" if name in (REFERENCE, BASELINE) else "this set"
            note = f"real cells of the labels in {where} only, not of {', '.join(missing)}"
        rows += _compare(
            name, inputs, a, counts, labels, train,
            labels_compared=every if union is None else union, held=compared, note=note,
            seed=seed, de_cache=de_cache,
        )  # fmt: skip
    columns = [c for family in inputs.families for c in _COLUMNS[family]]
    table = pd.DataFrame(rows, columns=["synthetic", "group", *_SIZES, *columns, "note"])
    table[_SIZES] = table[_SIZES].astype("Int64")
    table["note"] = table["note"].fillna("")
    table.index = [
        s if g == ALL else f"{s} | {g}"
        for s, g in zip(table["synthetic"], table["group"], strict=True)
    ]
    return table


def _spread(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean of every metric over the seeds' tables, with its standard deviation as ``<metric>_sd``.

    Sizes and notes are those of the first seed.
    """
    first = tables[0]
    metrics = [c for c in first.columns if c not in ("synthetic", "group", *_SIZES, "note")]
    stacked = pd.concat([t[metrics] for t in tables], keys=range(len(tables)))
    grouped = stacked.groupby(level=1, sort=False)
    mean, sd = grouped.mean().loc[first.index], grouped.std().loc[first.index]
    table = first.copy()
    table[metrics] = mean
    for column in reversed(metrics):
        table.insert(table.columns.get_loc(column) + 1, f"{column}_sd", sd[column])
    return table


def _train_genes(train: AnnData, genes: pd.Index) -> pd.Index:
    """Return ``genes`` that ``train`` has too, checked."""
    if not isinstance(train, AnnData):
        raise ValueError(
            f"train must be an AnnData of the generator's training cells, got a {type(train).__name__}"
        )
    if not train.var_names.is_unique:
        raise ValueError("train has duplicated gene names; make them unique first")
    shared = genes.intersection(train.var_names, sort=False)
    if len(shared) == 0:
        raise ValueError("train shares no gene names (var_names) with real and synthetic")
    if len(shared) < len(genes):
        warnings.warn(
            f"evaluating on the {len(shared)} genes shared by all sets and train",
            UserWarning,
            stacklevel=3,
        )
    return shared


def _check_metrics(metrics, groupby: str | None) -> list[str]:
    if metrics is None:
        return [m for m in METRICS if groupby is not None or m not in NEEDS_GROUPBY]
    requested = [metrics] if isinstance(metrics, str) else list(metrics)
    requested = [ALIASES.get(m, m) for m in requested]
    unknown = [m for m in requested if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
    if not requested:
        raise ValueError("metrics is empty; pass None for all metrics")
    labelled = [m for m in requested if m in NEEDS_GROUPBY]
    if labelled and groupby is None:
        raise ValueError(
            f"metrics {labelled} compare cell labels: pass groupby (the obs column of the labels) "
            "or leave them out"
        )
    return [m for m in METRICS if m in requested]


def _take(labels: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if labels is None else labels[idx]


def _subsample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


def _split(
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


def _covered_labels(every: list[str] | None, set_labels: dict) -> dict[str, list[str]]:
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


def _warn_too_small(table: pd.DataFrame) -> None:
    small = table.index[table["note"].str.contains(_TOO_FEW, regex=False)]
    if len(small):
        warnings.warn(
            f"fewer than {MIN_CELLS} cells on a side, metrics NaN (see the note column): "
            + ", ".join(small),
            UserWarning,
            stacklevel=4,
        )


def _wilson(share: float, n: int) -> tuple[float, float]:
    interval = stats.binomtest(round(share * n), n).proportion_ci(CONFIDENCE, method="wilson")
    return float(interval.low), float(interval.high)


def _shared_space(
    real_counts, counts, fit_rows: np.ndarray, n_pcs: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """PCs of all real cells and the compared cells, fitted on ``fit_rows`` of real and ``counts``.

    The PCA is fitted on exactly the two sets being compared, each cell once: cells a PCA was
    fitted on spread wider than cells projected into it, so fitting on more real cells than the
    compared ones (or on a cell twice) would make one side look unlike the other. The remaining
    real cells are projected, for the distances of ``"privacy"`` without ``train``.
    """
    joint = AnnData(sparse.vstack([real_counts, counts], format="csr", dtype=np.float32))
    sc.pp.normalize_total(joint, target_sum=1e4)
    sc.pp.log1p(joint)
    n_real = real_counts.shape[0]
    fit = np.concatenate([fit_rows, n_real + np.arange(counts.shape[0])])
    fitted = joint[fit].copy()
    n_comps = min(n_pcs, fitted.n_obs - 1, fitted.n_vars - 1)
    sc.pp.pca(fitted, n_comps=n_comps, random_state=seed)
    loadings = np.asarray(fitted.varm["PCs"], dtype=np.float64)
    center = np.asarray(fitted.X.mean(axis=0), dtype=np.float64).ravel() @ loadings
    # One projection for every cell, so identical counts land on identical coordinates.
    pcs = np.asarray(joint.X @ loadings, dtype=np.float64) - center
    return pcs[:n_real], pcs[n_real:]


@dataclass
class _Comparison:
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
    # with ``train=``: PCs of all real cells, the compared cells and the training cells in the
    # space of the privacy numbers, and the training cells' labels
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
        row = {"synthetic": self.name, "group": str(group), "n_real": len(a)}
        row["n_synthetic"] = len(cand)
        n = min(len(a), len(cand))
        a, cand = a[_subsample(len(a), n, self.rng)], cand[_subsample(len(cand), n, self.rng)]
        row["n_cells"] = n
        notes = [note] if note else []
        if absent:
            return row | {"note": "; ".join([*notes, "no cells of this label in the compared set"])}
        if n < MIN_CELLS:
            notes.append(f"{_TOO_FEW}: at least {MIN_CELLS} per side are needed")
            return row | {"note": "; ".join(notes)}
        # a smaller neighbourhood keeps rare labels measurable; the row records it
        k = min(self.k, n - 1)
        row["k"] = k
        if k < self.k:
            notes.append(f"k lowered to {k}: {n} cells per side")
        if "precision_recall" in self.families or "density_coverage" in self.families:
            row.update(prdc(self.x_real[a], self.x_cand[cand], k))
            for share in ("precision", "recall"):
                row[f"{share}_ci_low"], row[f"{share}_ci_high"] = _wilson(row[share], n)
        if "classifier_auc" in self.families:
            row["classifier_auc"] = _metrics.classifier_auc(
                self.x_real[a], self.x_cand[cand], self.seed
            )
        if "mmd" in self.families:
            row["mmd"] = _metrics.mmd(self.x_real[a], self.x_cand[cand], self.seed)
        if "gene_stats" in self.families:
            row.update(_metrics.gene_stats(self.real_counts[a], self.counts[cand]))
        if "privacy" in self.families:
            row.update(self._privacy(a, cand, probe, members, notes))
        if "correlation" in self.families:
            if n < _correlation.MIN_CELLS:
                notes.append(f"correlation: fewer than {_correlation.MIN_CELLS} cells per side")
            else:
                row["gene_gene_corr"] = _correlation.correlation(
                    self.real_counts[a], self.counts[cand]
                )
        return row | {"note": "; ".join(notes)}

    def _privacy(self, a, cand, probe, members, notes: list[str]) -> dict:
        if self.privacy_space is None:
            # without the training cells, all of real stands in for them
            found = _metrics.memorization(
                self.x_cand[cand], self.x_real[self.train], self.x_real[probe]
            )
            return found | {"membership_auc": np.nan}
        x_real, x_cand, x_train = self.privacy_space
        if len(members) == 0:
            notes.append("privacy: no training cells of this label")
            return {}
        return _privacy.privacy(x_cand[cand], x_train[members], x_real[a])


def _compare(
    name, inputs: _Inputs, a_pool, counts, labels, train, *, labels_compared, held, note, seed,
    de_cache: dict,
) -> list[dict]:  # fmt: skip
    real_counts, real_labels, families = inputs.real_counts, inputs.real_labels, inputs.families
    # Compared sets hold at most as many cells as the real cells they meet; a smaller one takes
    # the first of them, which are in random order.
    a = a_pool[: counts.shape[0]]
    x_real = x_cand = None
    in_pcs = set(families) & {"precision_recall", "density_coverage", "classifier_auc", "mmd"}
    if in_pcs or ("privacy" in families and inputs.members is None):
        x_real, x_cand = _shared_space(real_counts, counts, a, inputs.n_pcs, seed)
    privacy_space = members = member_labels = None
    if inputs.members is not None and "privacy" in families:
        member_counts, member_labels = inputs.members
        members = np.arange(member_counts.shape[0])
        if held is not None:
            members = members[np.isin(member_labels, held)]
        # a space of its own, fitted on an equal share of the held-out real cells, the compared
        # cells and the training cells, so that no side is favoured by having been fitted
        privacy_space = _privacy.space(
            [real_counts, counts, member_counts],
            [a, np.arange(counts.shape[0]), members],
            inputs.n_pcs, seed,
        )  # fmt: skip
    comparison = _Comparison(
        name, x_real, x_cand, real_counts, counts, train, families, inputs.k, seed,
        np.random.default_rng(seed), privacy_space,
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
    extra = {}
    if "de" in families:
        # every set meets the same half A: its side of the tests is done once per seed
        extra["de"] = _de.de_table(
            real_counts[a], real_labels[a], counts, labels, groups, inputs.truth,
            cache=de_cache, key=a.tobytes(),
        )  # fmt: skip
    if "tstr" in families:
        f1 = tstr(counts, labels, real_counts[a], real_labels[a], groups, seed)
        extra["tstr"] = {g: {"tstr_f1": value} for g, value in f1.items()}
    for row in rows:
        group = None if row["group"] == ALL else row["group"]
        if group is not None and group not in groups:
            continue
        for found in extra.values():
            values = dict(found.get(group, {}))
            more = values.pop("note", "")
            row.update(values)
            row["note"] = "; ".join(n for n in (row["note"], more) if n)
    if "correlation" in families and real_labels is not None:
        # between labels, genes follow the labels' profiles, which any generator of labelled
        # cells keeps: the "all" row reports the co-expression within labels
        within = [r["gene_gene_corr"] for r in rows[1:] if "gene_gene_corr" in r]
        rows[0]["gene_gene_corr"] = float(np.mean(within)) if within else np.nan
    return rows
