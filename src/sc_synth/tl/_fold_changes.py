"""Per-label log-fold-changes of real and synthetic cells, for :func:`sc_synth.pl.de_scatter`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .._docs import doc_params
from . import _de
from ._inputs import counts_of, labels_of, shared_genes


@doc_params
def de_fold_changes(
    real: AnnData,
    synthetic: AnnData,
    *,
    groupby: str,
    groups: Sequence[str] | None = None,
    key_added: str = "de_fold_changes",
    layer: str | None = None,
    synthetic_layer: str | None = None,
) -> None:
    """Compute, per label, the log-fold-changes of real and synthetic cells against their other cells.

    Each label is compared with all other cells of its own set, as in the ``"de"`` family of
    :func:`sc_synth.tl.evaluate`: log2 fold change of mean counts per 10,000 (pseudocount 1);
    the genes DE in the real cells are those of a Wilcoxon test (Benjamini-Hochberg p < 0.05)
    that change at least two-fold. All cells of both sets are used.

    Parameters
    ----------
    {doc_real}
    {doc_synthetic}
    groupby
        Column of ``obs`` of both with the labels.
    groups
        Labels to compute; ``None`` for every label of ``real`` with at least 5 cells in and out
        of it in both sets.
    key_added
        Key in ``real.uns`` under which the result is stored.
    {doc_layers}

    Returns
    -------
    None
        Writes ``real.uns[key_added]``, a dict of

        - ``"groups"``: the labels computed, and ``"genes"``: the genes;
        - ``"real"``, ``"synthetic"``: genes x groups arrays of log2 fold changes of each set;
        - ``"de"``: genes x groups, ``True`` for the genes DE in the real cells;
        - ``"slope"``: per group, the slope through the origin of the synthetic fold changes on
          the real ones over the DE genes (NaN below 3 of them);
        - ``"params"``: ``{"groupby": groupby}``.
    """
    genes = shared_genes(real, {"synthetic": synthetic})
    real_counts = counts_of(real, genes, "real", layer)
    counts = counts_of(synthetic, genes, "synthetic", synthetic_layer, "synthetic_layer")
    real_labels = labels_of(real, groupby, "real")
    labels = labels_of(synthetic, groupby, "synthetic")
    enough = [
        g for g in dict.fromkeys(real_labels)
        if _de.enough(real_labels, g) and _de.enough(labels, g)
    ]  # fmt: skip
    if groups is None:
        groups = enough
    else:
        groups = list(groups)
        short = [g for g in groups if g not in enough]
        if short:
            raise ValueError(
                f"groups {short} have fewer than {_de.MIN_CELLS} cells in or out of them in real "
                f"or synthetic; choose from {enough}"
            )
    if not groups:
        raise ValueError(f"no label has {_de.MIN_CELLS} cells in and out of it in both sets")
    lfc_real = _de.log_fold_changes(real_counts, real_labels, groups)
    lfc = _de.log_fold_changes(counts, labels, groups)
    ranked = _de.rank_genes(real_counts, real_labels, groups)
    de = pd.DataFrame({g: _de.de_genes(ranked[g], lfc_real[g].to_numpy()) for g in groups})
    slope = [
        _de.agreement(lfc_real[g].to_numpy()[de[g]], lfc[g].to_numpy()[de[g]])["de_slope"]
        for g in groups
    ]
    # arrays and names rather than frames keyed by label, so that the AnnData stays writable
    real.uns[key_added] = {
        "groups": np.asarray(groups, dtype=str),
        "genes": np.asarray(genes, dtype=str),
        "real": lfc_real.to_numpy(),
        "synthetic": lfc.to_numpy(),
        "de": de.to_numpy(),
        "slope": np.asarray(slope, dtype=np.float64),
        "params": {"groupby": groupby},
    }
