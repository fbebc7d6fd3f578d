"""The study's report: the evaluation in Markdown, what its numbers mean and what is noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData


def _is_generator(name: str) -> bool:
    return not name.startswith(("real", "baseline"))


def _noise(spread: pd.DataFrame, a: str, b: str, column: str) -> float:
    """Twice the combined standard deviation of ``column`` of rows ``a`` and ``b``."""
    sd = spread.loc[[a, b], column].fillna(0.0).to_numpy()
    return float(2 * np.sqrt(np.sum(sd**2)))


def report(
    table: pd.DataFrame,
    timings: dict,
    adata: AnnData,
    labels_key: str,
    batch_key: str | None,
    spread: pd.DataFrame,
    repeats: int,
) -> str:
    """Return a short Markdown report that says what the numbers mean and what is noise.

    ``spread`` holds the standard deviations over ``repeats`` evaluation seeds (the study's
    ``evaluation_spread``). A difference counts when it exceeds twice the combined standard
    deviation of the two numbers compared.
    """
    overall = table[table["group"] == "all"] if "group" in table else table
    columns = [
        c for c in ("precision", "recall", "classifier_auc", "coverage", "mmd") if c in overall
    ]
    n_labels = adata.obs[labels_key].nunique()
    n_batches = adata.obs[batch_key].nunique() if batch_key else 1
    strata = "label and batch" if n_batches > 1 else "label"
    lines = [
        "# sc-synth study",
        "",
        f"Data: {adata.n_obs} cells × {adata.n_vars} genes, {n_labels} labels in `{labels_key}`"
        + (f", {n_batches} batches in `{batch_key}`" if n_batches > 1 else "")
        + f". Each generator was trained on one half of the cells (stratified by {strata}) "
        "and asked for the other half's composition; the synthetic cells are compared with the "
        "held-out real cells.",
        "",
        "| set | " + " | ".join(columns) + " | training time (s) |",
        "|---|" + "---|" * (len(columns) + 1),
    ]
    for name, row in overall.iterrows():
        cells = [
            f"{row[c]:.3f} ± {spread.loc[name, c]:.3f}" if c in spread else f"{row[c]:.3f}"
            for c in columns
        ]
        seconds = f"{timings[name]:.0f}" if name in timings else ""
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {seconds} |")
    lines += [
        "",
        f"± is the standard deviation over {repeats} evaluation seeds (other reference halves "
        "and subsamples of the held-out cells). Training again with another seed moves the "
        "numbers further, so a difference smaller than twice the combined ± is noise.",
        "",
        "How to read it:",
        "",
        "- **precision**: share of synthetic cells that fall inside the manifold of real cells "
        "(realism); **recall**: share of real cells whose neighbourhood the synthetic cells reach "
        "(diversity). Both are 1 at best.",
        "- **classifier_auc**: how well a random forest tells synthetic from real cells; 0.5 "
        "means it cannot.",
        "- The `real (reference)` row compares two halves of the real cells: the ceiling, what a "
        "perfect generator reaches on this data. A generator above it is within noise of the "
        "ceiling, not more real than real cells. The `baseline (NB per label)` row is "
        "independent negative binomials per label (and batch): the floor a learned generator "
        "has to clear to be worth its training.",
        "- `metrics.csv` has every metric, also per label, with the spread in `<metric>_sd`; "
        "`precision_recall.png` and `embedding.png` show the same comparison.",
    ]
    lines += _beyond_the_manifold(overall)
    findings = _findings(overall, spread, n_labels, labels_key)
    if findings:
        lines += ["", "What the numbers say:", "", *(f"- {line}" for line in findings)]
    return "\n".join(lines) + "\n"


def _findings(
    overall: pd.DataFrame, spread: pd.DataFrame, n_labels: int, labels_key: str
) -> list[str]:
    """Sentences on the floor, the ceiling and the leader, each only beyond the noise."""
    if not {"precision", "recall"} <= set(overall):
        return []
    score = overall["precision"] + overall["recall"]
    generators = [name for name in overall.index if _is_generator(name)]
    reference = next((name for name in overall.index if name.startswith("real")), None)
    baseline = next((name for name in overall.index if name.startswith("baseline")), None)
    found = []
    if n_labels == 1:
        found.append(
            f"`{labels_key}` has one label: the models are not conditioned on cell type and the "
            "baseline is one negative binomial for all cells."
        )
    for name in generators:
        if baseline is not None:
            gap = score[name] - score[baseline]
            noise = _noise(spread, name, baseline, "score")
            verdict = (
                "clears the baseline"
                if gap > noise
                else "falls below the baseline"
                if gap < -noise
                else "is within noise of the baseline"
            )
            found.append(
                f"**{name}** {verdict} on precision + recall ({score[name]:.3f} vs "
                f"{score[baseline]:.3f}, noise ±{noise:.3f})."
            )
        if reference is not None:
            found += _above_ceiling(overall, spread, name, reference)
    ranked = sorted(generators, key=score.get, reverse=True)
    if len(ranked) > 1:
        first, second = ranked[:2]
        gap, noise = score[first] - score[second], _noise(spread, first, second, "score")
        found.append(
            f"Highest precision + recall: **{first}**, {gap:.3f} ahead of {second} "
            f"(noise ±{noise:.3f})."
            if gap > noise
            else f"No generator leads on precision + recall beyond the noise: {first} is "
            f"{gap:.3f} ahead of {second}, within ±{noise:.3f}."
        )
    return found


def _above_ceiling(
    overall: pd.DataFrame, spread: pd.DataFrame, name: str, reference: str
) -> list[str]:
    """Say what a generator's number above the real-vs-real reference means."""
    found = []
    for column in ("precision", "recall", "coverage"):
        if column not in overall or overall.loc[name, column] <= overall.loc[reference, column]:
            continue
        value, ceiling = overall.loc[name, column], overall.loc[reference, column]
        noise = _noise(spread, name, reference, column) if column in spread else 0.0
        if value - ceiling <= noise:
            meaning = "within noise of the ceiling: as good as real cells here, not better"
        elif column == "precision":
            meaning = "beyond the noise: its cells crowd the dense regions; read it with recall"
        else:
            meaning = (
                "beyond the noise: its cells spread wider than real ones; read it with precision"
            )
        found.append(
            f"{name}'s {column} ({value:.3f}) is above the reference ({ceiling:.3f}), {meaning}."
        )
    return found


#: Columns of the second table, each with how to read it.
_BEYOND = {
    "de_slope": "**de_slope**, **de_r**: each label's log-fold-changes against the other cells, "
    "synthetic against real, over the genes DE in the real cells: slope through the origin "
    "(1 = kept, below 1 = attenuated) and correlation.",
    "de_r": None,
    "gene_gene_corr": "**gene_gene_corr**: correlation between the real and the synthetic "
    "gene-gene correlation matrices within each label; the reference row is the ceiling, low "
    "where labels have few cells.",
    "tstr_f1": "**tstr_f1**: macro F1 on the held-out cells of a classifier trained on the "
    "synthetic cells (the reference row trains on real cells).",
    "dcr_ratio": "**dcr_ratio**, **membership_auc**: the synthetic cells' distance to their "
    "closest training cell over that of held-out real cells (below 1: closer to the training "
    "cells than new real cells are), and how well an attacker tells training from held-out "
    "cells by their distance to the synthetic cells (0.5: nothing leaks).",
    "membership_auc": None,
}


def _beyond_the_manifold(overall: pd.DataFrame) -> list[str]:
    """Return the lines of the table of DE, co-expression, train-on-synthetic and privacy."""
    columns = [c for c in _BEYOND if c in overall and overall[c].notna().any()]
    if not columns:
        return []
    lines = [
        "",
        "Beyond the shared manifold: are the differences between labels, the co-expression "
        "within them and the labels themselves kept, and are the training cells copied?",
        "",
        "| set | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name, row in overall[columns].iterrows():
        values = (f"{v:.3f}" if pd.notna(v) else "–" for v in row)
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    lines += ["", *(f"- {_BEYOND[c]}" for c in columns if _BEYOND[c])]
    return lines
