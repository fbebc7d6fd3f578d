"""Parameter texts shared by several public functions, filled into their docstrings.

As scanpy's ``_doc_params``: a docstring holds ``{doc_<name>}`` alone on a line, at the
indentation of a parameter name, and :func:`doc_params` puts the shared text there.
"""

from __future__ import annotations

import re
import textwrap

doc_real = """\
real
    Real cells, raw counts in ``X`` (or in ``layers[layer]``)."""

doc_synthetic = """\
synthetic
    Synthetic cells, raw counts in ``X`` (or in ``layers[synthetic_layer]``); genes are matched
    to ``real`` by name."""

doc_synthetic_sets = """\
synthetic
    Synthetic cells (raw counts in ``X``, or in ``layers[synthetic_layer]``), or several sets
    as ``{name: AnnData}``; a single AnnData is named ``"synthetic"``. Genes are matched to
    ``real`` by name."""

doc_layers = """\
layer
    Layer of ``real`` holding its raw counts; ``None`` reads ``X``.
synthetic_layer
    Layer of the synthetic cells holding their raw counts; ``None`` reads ``X`` (where
    :func:`~sc_synth.tl.generate` writes them)."""

doc_training_data = """\
adata
    Cells × genes of raw integer counts.
layer
    Layer holding the counts; ``None`` uses ``adata.X``.
labels_key
    Column of ``adata.obs`` with cell types; the model then generates cells of a chosen type.
batch_key
    Column of ``adata.obs`` with batches; the model then generates cells of a chosen batch.
key_added
    Key in ``adata.uns`` for the trained model."""

doc_accelerator = """\
accelerator, devices
    Passed to the Lightning trainer: ``"cpu"``, ``"gpu"``, ``"auto"``; a device count or list.
    Several devices need ``strategy="ddp_find_unused_parameters_true"`` in ``kwargs``."""

doc_sample_params = """\
label, batch
    Codes of each new cell's label and batch in the model's conditions.
library
    Library size (total count) of each new cell.
rng
    Source of all random draws."""

doc_sample_returns = """\
scipy.sparse.csr_matrix
    Integer counts, cells × genes (``float32``)."""

doc_from_uns_record = """\
record
    A record of the model's kind, as :meth:`to_uns` writes it, e.g. ``adata.uns[key_added]``
    after training (:func:`sc_synth.tl.generate` checks its kind and version first)."""

doc_from_uns_returns = """\
A model in evaluation mode that samples (:meth:`sample`) and writes its record; it holds no
AnnData, so it cannot be trained further."""

doc_ax = """\
ax
    Axes to draw into; a new figure when ``None``."""

doc_show_save = """\
show
    Show the figure; ``None`` follows ``scanpy.settings.autoshow``.
save
    Path to write the figure to; the format follows its suffix."""

_TEXTS = {name: text for name, text in globals().items() if name.startswith("doc_")}


def doc_params(obj):
    """Fill the ``{doc_<name>}`` lines of ``obj``'s docstring with the shared texts."""

    def fill(match: re.Match) -> str:
        indent, name = match.group(1), match.group(2)
        return textwrap.indent(_TEXTS[name], indent)

    obj.__doc__ = re.sub(r"^([ \t]*)\{(doc_\w+)\}$", fill, obj.__doc__, flags=re.MULTILINE)
    return obj
