"""Public evaluation of synthetic cells against real cells."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .._docs import doc_params
from .._names import BASELINE, REFERENCE
from .._progress import counting
from .._threads import keeps_torch_threads
from . import _de, _privacy
from ._comparison import MIN_CELLS, SIZES, TOO_FEW, Inputs, evaluate_once
from ._families import ALIASES, FAMILIES
from ._inputs import as_sets, counts_of, labels_of, shared_genes

#: The families, in the order of the table's columns.
METRICS = tuple(FAMILIES)
#: Cells in all (real and every set) from which a progress bar shows the rows done.
PROGRESS_FROM = 20_000


@keeps_torch_threads
@doc_params
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
    layer: str | None = None,
    synthetic_layer: str | None = None,
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
    {doc_real}
    {doc_synthetic_sets}
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
        The generator's training cells (raw counts in ``X``, or in ``layers[layer]``; genes matched by name, the genes
        shared with ``real`` and every set are used), for the ``"privacy"`` family; with
        ``groupby`` it needs that column too. ``real`` should then hold cells the generator
        never saw: a warning names training cells found in it.
    n_repeats
        Repeat the evaluation with seeds ``seed`` ... ``seed + n_repeats - 1`` (each another
        split into halves, other subsamples and baseline draws) and report the mean of every
        metric, with its standard deviation over the seeds in ``<metric>_sd``. With 20,000
        cells or more in all, a progress bar counts the rows done (from scanpy's verbosity
        ``"info"``, on a terminal).
    {doc_layers}
        ``train`` is read from the same ``layer`` as ``real``.

    Returns
    -------
    DataFrame
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
    real_counts = counts_of(real, genes, "real", layer)
    set_counts = {
        name: counts_of(adata, genes, name, synthetic_layer, "synthetic_layer")
        for name, adata in sets.items()
    }
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
        members = (counts_of(train, genes, "train", layer), labels_of(train, groupby, "train"))
        _privacy.warn_overlap(real_counts, members[0])
    truth = None
    if "de" in families:
        truth = _de.truth_of(
            real.var.loc[genes].reset_index(drop=True), list(pd.unique(real_labels))
        )
    inputs = Inputs(
        real_counts, real_labels, real_batches,
        set_counts, set_labels,
        members, truth, families, k, n_pcs, n_repeats,
    )  # fmt: skip
    n_cells = real.n_obs + sum(adata.n_obs for adata in sets.values())
    tables = []
    # the rows to count are known once the first seed has its compared sets
    with counting("evaluate", "row", size=n_cells, from_size=PROGRESS_FROM) as progress:
        for repeat in range(n_repeats):
            tables.append(evaluate_once(inputs, seed + repeat, progress))
    table = tables[0] if n_repeats == 1 else _spread(tables)
    _warn_too_small(table)
    real.uns[key_added] = table.copy()
    return table


def _spread(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean of every metric over the seeds' tables, with its standard deviation as ``<metric>_sd``.

    Sizes and notes are those of the first seed.
    """
    first = tables[0]
    metrics = [c for c in first.columns if c not in ("synthetic", "group", *SIZES, "note")]
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
        raise TypeError(
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
        return [m for m in METRICS if groupby is not None or not FAMILIES[m].needs_groupby]
    requested = [metrics] if isinstance(metrics, str) else list(metrics)
    requested = [ALIASES.get(m, m) for m in requested]
    unknown = [m for m in requested if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
    if not requested:
        raise ValueError("metrics is empty; pass None for all metrics")
    labelled = [m for m in requested if FAMILIES[m].needs_groupby]
    if labelled and groupby is None:
        raise ValueError(
            f"metrics {labelled} compare cell labels: pass groupby (the obs column of the labels) "
            "or leave them out"
        )
    return [m for m in METRICS if m in requested]


def _warn_too_small(table: pd.DataFrame) -> None:
    small = table.index[table["note"].str.contains(TOO_FEW, regex=False)]
    if len(small):
        warnings.warn(
            f"fewer than {MIN_CELLS} cells on a side, metrics NaN (see the note column): "
            + ", ".join(small),
            UserWarning,
            stacklevel=4,
        )
