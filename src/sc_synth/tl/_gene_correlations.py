"""Gene-gene correlation matrices of real and synthetic cells, for :func:`sc_synth.pl.correlation`."""

from __future__ import annotations

import numpy as np
from anndata import AnnData
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from .._docs import doc_params
from . import _correlation
from ._inputs import counts_of, labels_of, shared_genes


@doc_params
def gene_correlations(
    real: AnnData,
    synthetic: AnnData,
    *,
    groupby: str | None = None,
    group: str | None = None,
    n_genes: int = 50,
    key_added: str = "gene_correlations",
    layer: str | None = None,
    synthetic_layer: str | None = None,
) -> None:
    """Compute the gene-gene correlation matrices of real and synthetic cells of one label.

    Pearson correlations of ``log1p`` normalised expression over the cells of ``group``, for the
    ``n_genes`` genes most variable in its real cells, both in the gene order of the real
    matrix's hierarchical clustering (average linkage on 1 - r), so that modules of co-expressed
    genes sit together. ``r``, the Pearson r between the two upper triangles, is the
    ``gene_gene_corr`` of :func:`sc_synth.tl.evaluate` over these genes.

    Parameters
    ----------
    {doc_real}
    {doc_synthetic}
    groupby
        Column of ``obs`` of both with the labels; ``None`` to use all cells.
    group
        The label; needed with ``groupby``.
    n_genes
        Number of most variable genes.
    key_added
        Key in ``real.uns`` under which the result is stored.
    {doc_layers}

    Returns
    -------
    None
        Writes ``real.uns[key_added]``, a dict of

        - ``"genes"``: the genes, in the clustered order;
        - ``"real"``, ``"synthetic"``: genes x genes arrays of Pearson r, in that order;
        - ``"r"``: Pearson r between their upper triangles;
        - ``"params"``: ``{"n_genes": n_genes}``, with ``"groupby"`` and ``"group"`` when given.
    """
    if (groupby is None) != (group is None):
        raise ValueError("pass groupby and group together: the label column and the label")
    if not isinstance(n_genes, int | np.integer) or n_genes < 2:
        raise ValueError(f"n_genes must be an integer of at least 2, got {n_genes!r}")
    genes = shared_genes(real, {"synthetic": synthetic})
    real_counts = counts_of(real, genes, "real", layer)
    counts = counts_of(synthetic, genes, "synthetic", synthetic_layer, "synthetic_layer")
    if groupby is not None:
        real_in = labels_of(real, groupby, "real") == group
        fake_in = labels_of(synthetic, groupby, "synthetic") == group
        if min(real_in.sum(), fake_in.sum()) < _correlation.MIN_CELLS:
            raise ValueError(
                f"group {group!r} has {real_in.sum()} real and {fake_in.sum()} synthetic cells; "
                f"at least {_correlation.MIN_CELLS} each are needed"
            )
        real_counts, counts = real_counts[real_in], counts[fake_in]
    chosen = _correlation.variable_genes(real_counts, n_genes)
    real_corr = _correlation.gene_correlations(real_counts, chosen)
    fake_corr = _correlation.gene_correlations(counts, chosen)
    order = leaves_list(linkage(squareform(1 - real_corr, checks=False), "average"))
    upper = np.triu_indices(len(chosen), k=1)
    params = {"n_genes": n_genes}
    if groupby is not None:
        params |= {"groupby": groupby, "group": group}
    real.uns[key_added] = {
        "genes": np.asarray(genes[chosen][order], dtype=str),
        "real": real_corr[np.ix_(order, order)],
        "synthetic": fake_corr[np.ix_(order, order)],
        "r": float(np.corrcoef(real_corr[upper], fake_corr[upper])[0, 1]),
        "params": params,
    }
