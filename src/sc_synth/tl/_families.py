"""The metric families of :func:`sc_synth.tl.evaluate`, listed once.

A family measures either one row at a time (``row``: a row's cells in, its numbers out; families
sharing one function run it once) or every label of a compared set at once (``labels``: for
families, such as DE, whose numbers of one label need the other labels' cells).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import _classifier, _correlation, _de, _gene_stats, _mmd, _precision_recall, _privacy, _tstr


@dataclass(frozen=True)
class Family:
    """How one family measures, and the columns it adds to the table."""

    columns: list[str]
    #: metrics of one row, from its cells (:class:`~._comparison.Row`)
    row: Callable | None = None
    #: metrics of every label of a set (:class:`~._comparison.Labelled`), keyed by label and
    #: ``None`` for the ``"all"`` row
    labels: Callable | None = None
    #: sets the ``"all"`` row from the label rows, with ``groupby``
    summary: Callable | None = None
    #: compares labels, so needs ``groupby``
    needs_groupby: bool = False
    #: reads the shared PCA space
    needs_pcs: bool = False


FAMILIES = {
    "precision_recall": Family(
        _precision_recall.COLUMNS, row=_precision_recall.row, needs_pcs=True
    ),
    "density_coverage": Family(
        _precision_recall.DENSITY_COLUMNS, row=_precision_recall.row, needs_pcs=True
    ),
    "classifier_auc": Family(_classifier.COLUMNS, row=_classifier.row, needs_pcs=True),
    "mmd": Family(_mmd.COLUMNS, row=_mmd.row, needs_pcs=True),
    "gene_stats": Family(_gene_stats.COLUMNS, row=_gene_stats.row),
    # without ``train=`` it measures in the shared space (see ``_comparison.compare``)
    "privacy": Family(_privacy.COLUMNS, row=_privacy.row),
    "correlation": Family(_correlation.COLUMNS, row=_correlation.row, summary=_correlation.summary),
    "de": Family(_de.COLUMNS, labels=_de.labels, needs_groupby=True),
    "tstr": Family(_tstr.COLUMNS, labels=_tstr.labels, needs_groupby=True),
}
#: Former names of families.
ALIASES = {"memorization": "privacy"}
