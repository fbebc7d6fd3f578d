"""Differential expression kept: each label against the rest, synthetic cells against real cells."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from sklearn.metrics import roc_auc_score

from ._inputs import log_normalised, normalised

if TYPE_CHECKING:
    from ._comparison import Labelled

#: Cells of a label needed on each side (and outside it) for its DE numbers.
MIN_CELLS = 5
#: Marker genes per label whose overlap ``de_jaccard`` measures.
TOP_MARKERS = 50
#: A gene is DE in the real cells of a label when its Benjamini-Hochberg adjusted Wilcoxon
#: p-value is below ``MAX_PVAL`` and it changes at least ``MIN_LFC`` (log2) against the rest.
MAX_PVAL = 0.05
MIN_LFC = 1.0
#: Pseudocount (in counts per 10,000) of the log-fold-changes: it keeps genes barely expressed on
#: one side from reaching any fold change at all.
PSEUDOCOUNT = 1.0
COLUMNS = ["de_slope", "de_r", "de_jaccard", "de_genes", "de_auroc", "de_auroc_real"]


def labels(cells: Labelled) -> dict:
    """DE numbers of a set's labels; every set meets the same half A, whose tests are kept."""
    return de_table(
        cells.real_counts, cells.real_labels, cells.counts, cells.labels, cells.groups,
        cells.truth, cache=cells.cache, key=cells.key,
    )  # fmt: skip


def log_fold_changes(counts, labels: np.ndarray, groups: list[str]) -> pd.DataFrame:
    """Log2 fold change of each label's mean normalised expression against all other cells.

    Returns genes x ``groups``. Means are of counts scaled to 10,000 per cell, each with
    ``PSEUDOCOUNT`` added.
    """
    x = normalised(counts)
    total = np.asarray(x.sum(axis=0)).ravel()
    out = {}
    for group in groups:
        inside = labels == group
        within = np.asarray(x[inside].sum(axis=0)).ravel()
        mean_in = within / inside.sum()
        mean_out = (total - within) / max((~inside).sum(), 1)
        out[group] = np.log2((mean_in + PSEUDOCOUNT) / (mean_out + PSEUDOCOUNT))
    return pd.DataFrame(out)


def rank_genes(counts, labels: np.ndarray, groups: list[str]) -> dict[str, pd.DataFrame]:
    """Wilcoxon rank-sum test of each label against the rest, as ``sc.tl.rank_genes_groups`` runs it.

    Returns, per label, a table of every gene (in the input's order, integer index) with its
    ``score`` (the z-score of the test, positive where the label is higher), its ``rank`` (0 for
    the highest score) and ``pvals_adj`` (Benjamini-Hochberg).
    """
    n_cells, n_genes = counts.shape
    adata = AnnData(
        log_normalised(counts),
        obs=pd.DataFrame({"label": pd.Categorical(labels)}, index=[str(i) for i in range(n_cells)]),
        var=pd.DataFrame(index=[str(j) for j in range(n_genes)]),
    )
    with warnings.catch_warnings():
        # scanpy asks for log1p metadata it would only use for its own fold changes
        warnings.simplefilter("ignore", UserWarning)
        sc.tl.rank_genes_groups(
            adata, "label", groups=groups, reference="rest", method="wilcoxon", n_genes=None
        )
    result = {}
    for group in groups:
        ranked = sc.get.rank_genes_groups_df(adata, group=group)
        ranked.index = ranked["names"].astype(int)
        ranked["rank"] = np.arange(len(ranked))
        result[group] = ranked[["scores", "rank", "pvals_adj"]].rename(columns={"scores": "score"})
    return result


def de_table(
    real_counts, real_labels: np.ndarray, counts, labels: np.ndarray, groups: list[str],
    truth: pd.DataFrame | None = None, cache: dict | None = None, key: bytes = b"",
) -> dict[str, dict]:  # fmt: skip
    """DE numbers per label and for all labels together (key ``None``).

    Parameters
    ----------
    real_counts, real_labels
        The real cells (cells x genes counts) and their labels.
    counts, labels
        The compared cells and their labels, with the same genes.
    groups
        Labels to report.
    truth
        Genes x labels, ``True`` where a gene is truly DE in a label (``pp.simulate``'s
        ``var["de_fac_<label>"] != 1``), or ``None``.
    cache, key
        A dict to keep the real cells' fold changes and tests in, under ``key`` (naming the real
        cells), for the next call with the same real cells.

    Returns
    -------
    ``{label: {column: value, "note": str}}`` with the columns of :data:`COLUMNS`; the entry of
    key ``None`` pools the genes of every label measured (slope and r) or averages over them.
    """
    kept = [g for g in groups if enough(real_labels, g) and enough(labels, g)]
    rows = {g: {"note": f"de: fewer than {MIN_CELLS} cells in or out of the label"} for g in groups}
    if not kept:
        return rows | {None: {"note": f"de: no label with {MIN_CELLS} cells in and out of it"}}
    cache = {} if cache is None else cache
    if (key, tuple(kept)) not in cache:
        cache[key, tuple(kept)] = (
            log_fold_changes(real_counts, real_labels, kept),
            rank_genes(real_counts, real_labels, kept),
        )
    lfc_real, ranked_real = cache[key, tuple(kept)]
    lfc = log_fold_changes(counts, labels, kept)
    ranked = rank_genes(counts, labels, kept)
    pooled_real, pooled = [], []
    for group in kept:
        real_r, fake_r = ranked_real[group], ranked[group]
        de = de_genes(real_r, lfc_real[group].to_numpy())
        x, y = lfc_real[group].to_numpy()[de], lfc[group].to_numpy()[de]
        pooled_real.append(x)
        pooled.append(y)
        top_real = set(real_r.index[real_r["rank"] < TOP_MARKERS])
        top = set(fake_r.index[fake_r["rank"] < TOP_MARKERS])
        row = agreement(x, y) | {
            "de_jaccard": len(top_real & top) / len(top_real | top),
            "de_genes": int(de.sum()),
            "note": "" if de.sum() >= 3 else "de: fewer than 3 DE genes in the real cells",
        }
        if truth is not None and group in truth and 0 < truth[group].sum() < len(truth):
            true = truth[group].to_numpy()
            # a gene found DE either way counts: simulated DE factors go both up and down
            row["de_auroc"] = roc_auc_score(true, np.abs(fake_r["score"].sort_index()))
            row["de_auroc_real"] = roc_auc_score(true, np.abs(real_r["score"].sort_index()))
        rows[group] = row
    measured = [rows[g] for g in kept]
    overall = agreement(np.concatenate(pooled_real), np.concatenate(pooled)) | {
        "de_jaccard": float(np.mean([r["de_jaccard"] for r in measured])),
        "de_genes": int(sum(r["de_genes"] for r in measured)),
    }
    for column in ("de_auroc", "de_auroc_real"):
        values = [r[column] for r in measured if column in r]
        if values:
            overall[column] = float(np.mean(values))
    skipped = [g for g in groups if g not in kept]
    overall["note"] = (
        f"de without {', '.join(skipped)}: fewer than {MIN_CELLS} cells" if skipped else ""
    )
    return rows | {None: overall}


def de_genes(ranked: pd.DataFrame, lfc: np.ndarray) -> np.ndarray:
    """Mask of the genes DE in a label: significant in ``ranked`` and changed enough in ``lfc``."""
    return (ranked["pvals_adj"].sort_index() < MAX_PVAL).to_numpy() & (np.abs(lfc) >= MIN_LFC)


def enough(labels: np.ndarray, group: str) -> bool:
    """Return whether ``group`` has ``MIN_CELLS`` cells in and out of it among ``labels``."""
    inside = int(np.sum(labels == group))
    return inside >= MIN_CELLS and len(labels) - inside >= MIN_CELLS


def agreement(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Slope through the origin of ``y`` on ``x``, and their Pearson r."""
    if len(x) < 3:
        return {"de_slope": np.nan, "de_r": np.nan}
    slope = float(x @ y / (x @ x))
    r = float(np.corrcoef(x, y)[0, 1]) if np.ptp(y) > 0 else np.nan
    return {"de_slope": slope, "de_r": r}


def truth_of(var: pd.DataFrame, groups: list[str]) -> pd.DataFrame | None:
    """Return genes x labels of true DE (``var["de_fac_<label>"] != 1``), or ``None`` without any."""
    found = {g: var[f"de_fac_{g}"].to_numpy() != 1.0 for g in groups if f"de_fac_{g}" in var}
    return pd.DataFrame(found) if found else None
