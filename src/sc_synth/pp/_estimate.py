"""Estimate Splat parameters from a real data set of raw counts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from anndata import AnnData
from scipy import sparse

from .._validation import check_obs_key, get_matrix
from ._estimate_fits import (
    MIN_POSITIVE_CELLS,
    dispersion_moments,
    fit_bcv,
    fit_dropout,
    fit_gamma,
    fit_library_sizes,
    fit_outliers,
    model_bcv2,
)
from ._params import SimParams
from ._reference import ReferenceParams, fit_reference


def estimate_params(
    adata: AnnData,
    *,
    layer: str | None = None,
    labels_key: str | None = None,
    batch_key: str | None = None,
) -> SimParams | ReferenceParams:
    """Estimate simulation parameters from raw counts: Splat's, or per label of a reference.

    Without ``labels_key`` and ``batch_key``, Splat parameters are estimated following
    Splatter's ``splatEstimate`` (below). With either, the data set is fitted group by group
    for :func:`~sc_synth.pp.simulate` to reproduce it (see "Simulate your own data set" in the
    documentation), and a :class:`~sc_synth.pp.ReferenceParams` is returned:

    - **Composition**: each label's share, and the share of each batch within each label.
    - **Profiles**: each label's share of every gene in its counts, shrunk toward the profile
      of all cells by one median cell's worth of counts (so a label of few cells leans on the
      base profile); DE factors are these profiles over the base profile. With batches, a
      multiplicative batch factor per gene (10 pseudo-counts each way), alternated twice with
      the label profiles so that neither absorbs the other.
    - **Dispersions**: per label and gene by moments, each cell's mean being its library size
      times its label (and batch) profile, clipped to ``[0, 100]``; genes without counts in
      a label take the label's median.
    - **Zero inflation**, only where the NB does not explain the zeros: on up to 2000 cells of
      the label, zeros beyond the NB's expectation by more than 3 standard deviations make
      the gene zero-inflated, with the same mean and variance and the observed zero share.
    - **Library sizes**: the quantiles (0 %, 1 %, …, 100 %) of the log library sizes per label
      and batch, which keep the shape of the reference's distribution (a label × batch of fewer
      than 10 cells takes its label's over all batches).
    - **Gene-gene correlation**: a Gaussian copula per label whose correlation is low-rank
      plus diagonal, at most 20 factors, estimated from the randomised normal scores of up to
      2000 cells of the label (only factors above the noise edge of a sample of that size are
      kept, their strength corrected for the noise), each gene's loadings scaled from its
      scores to its latent normal, whose correlations the scores of sparse counts shrink
      (see "Simulate your own data set" in the docs). The cells' coordinates on those factors
      are kept as well: simulated cells draw theirs from them, blurred by a Gaussian kernel, so
      that sub-types within a label stay clumps rather than one Gaussian cloud.

    Labels with fewer than 10 cells take their dispersions from all cells, get no copula
    factors, and a warning names them. Genes without any count are kept and simulated as
    zeros.

    Splat steps (cells are normalised to the median library size first, and genes with fewer
    than two non-zero cells are left out of the fits on normalised means):

    1. **Gene means**: gamma distribution fitted to normalised gene means winsorised at the
       10 % and 90 % quantiles, by minimum Cramér–von Mises distance; the method of moments
       is used if that fit fails.
    2. **Library sizes**: a Shapiro–Wilk test on (at most 5000, sampled with a fixed seed)
       library sizes; ``p > 0.2`` gives a normal fit (``lib_norm=True``), else log-normal,
       both by maximum likelihood.
    3. **Outliers**: genes whose log normalised mean exceeds the median by more than two
       MADs; their share is ``out_prob`` and a log-normal fit to their means over the median
       mean gives ``out_fac_loc`` and ``out_fac_scale`` (defaults kept with fewer than two).
    4. **BCV**: Splatter takes edgeR's common dispersion ``φ`` and prior degrees of freedom
       and sets ``bcv_common = 0.1 + 0.25 φ``; both are inflated by dropout, since zeros from
       dropout look like over-dispersion. Here the Splat mean–BCV relation is fitted
       directly instead. For genes with a mean non-zero count of at least 10 (or the 50
       highest such genes), a per-gene dispersion is estimated by moments from the
       **non-zero cells only**, with each cell's library size as offset, so that dropout
       zeros do not inflate it. The squared BCV ``(bcv_common + μ^-1/2)² · s²`` of the model,
       averaged over cells as the moment estimator weights them, is fitted to these
       dispersions on the log scale (least squares in ``bcv_common``, which plays the part
       of a common dispersion), and ``bcv_df`` is the prior degrees of freedom of the
       scaled inverse chi-squared spread ``s²`` of genes around it: the residual variance,
       less the sampling variance measured between two random halves of the cells, is
       matched to ``trigamma(bcv_df / 2) / 4`` (limma's ``fitFDist`` idea). An estimate at
       or below the sampling noise gives ``bcv_df = inf``. Approximations: cells where a
       gene is zero are dropped for that gene, which slightly under-states dispersion for
       genes with frequent negative-binomial zeros (hence the gene selection); the model is
       assumed to hold at the genes used.
    5. **Dropout**: a logistic curve of the fraction of zero cells against log normalised
       mean, fitted by non-linear least squares from Splatter's starting values, gives
       ``dropout_mid`` and ``dropout_shape``; ``dropout_type`` stays ``"none"`` as in
       Splatter.

    Parameters
    ----------
    adata
        Raw counts, cells × genes: finite, non-negative integers, every cell with at least
        one count. It is not modified.
    layer
        Layer holding the counts; ``None`` uses ``adata.X``.
    labels_key
        Column of ``adata.obs`` with the cell labels (e.g. cell types) to fit one by one.
    batch_key
        Column of ``adata.obs`` with batches, for batch factors and library sizes per batch.

    Returns
    -------
    SimParams or ReferenceParams
        Without ``labels_key`` and ``batch_key``: the estimated
        :class:`~sc_synth.pp.SimParams` (group, batch and DE parameters keep their defaults,
        since one data set without labels says nothing about them). Pass it to
        :func:`~sc_synth.pp.simulate` with ``n_cells=adata.n_obs, n_genes=adata.n_vars``, or use
        ``simulate(reference=adata)`` to also keep the genes' own means and dispersions.
        With either: a :class:`~sc_synth.pp.ReferenceParams`; ``simulate(n_cells,
        params=fitted)`` draws cells in the reference's image.

    Examples
    --------
    >>> import sc_synth as ss
    >>> real = ss.pp.simulate(500, 1000, seed=0)
    >>> params = ss.pp.estimate_params(real)
    >>> params.lib_loc  # doctest: +SKIP
    11.0
    >>> fitted = ss.pp.estimate_params(real, labels_key="group")
    >>> fitted.labels
    ['Group1']
    """
    if labels_key is not None or batch_key is not None:
        return _estimate_reference(adata, layer, labels_key, batch_key)
    counts = _checked_counts(adata, layer)
    stats_ = _summaries(counts)
    kept = stats_.positive_cells > 1
    if kept.sum() < 2:
        raise ValueError(
            "`adata` needs at least two genes with counts in more than one cell to estimate "
            f"parameters; it has {int(kept.sum())}."
        )
    means = stats_.norm_means[kept]
    zero_fraction = 1.0 - stats_.positive_cells[kept] / counts.shape[0]
    mean_shape, mean_rate = fit_gamma(means)
    lib_loc, lib_scale, lib_norm = fit_library_sizes(stats_.lib_size)
    outliers = fit_outliers(means)
    bcv_common, bcv_df = fit_bcv(counts, stats_.lib_size)
    dropout_mid, dropout_shape = fit_dropout(np.log(means), zero_fraction)
    return SimParams(
        mean_shape=mean_shape,
        mean_rate=mean_rate,
        lib_loc=lib_loc,
        lib_scale=lib_scale,
        lib_norm=lib_norm,
        **outliers,
        bcv_common=bcv_common,
        bcv_df=bcv_df,
        dropout_mid=dropout_mid,
        dropout_shape=dropout_shape,
    )


def _estimate_reference(adata, layer, labels_key, batch_key) -> ReferenceParams:
    if not isinstance(adata, AnnData):
        raise TypeError(f"`adata` must be an AnnData, got {type(adata).__name__}.")
    check_obs_key(adata, labels_key, "labels_key")
    check_obs_key(adata, batch_key, "batch_key")
    counts = _checked_counts(adata, layer)

    def column(key, default):
        if key is None:
            return np.full(adata.n_obs, default)
        return adata.obs[key].astype(str).to_numpy()

    return fit_reference(
        counts,
        column(labels_key, "Group1"),
        column(batch_key, "Batch1"),
        [str(v) for v in adata.var_names],
        labels_key,
        batch_key,
    )


def _checked_counts(adata: AnnData, layer: str | None) -> sparse.csr_matrix:
    """Check the input and return its counts as a new float64 CSR matrix without stored zeros."""
    matrix = get_matrix(adata, layer)
    where = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
    if matrix is None or 0 in matrix.shape:
        shape = None if matrix is None else matrix.shape
        raise ValueError(f"{where} is empty (shape {shape}); `adata` needs cells and genes.")
    if not sparse.issparse(matrix):
        matrix = np.asarray(matrix)
    values = matrix.data if sparse.issparse(matrix) else matrix
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise TypeError(f"{where} must be numeric counts, got dtype {values.dtype}.")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{where} contains NaN or infinite values; counts must be finite.")
    if values.size and values.min() < 0:
        raise ValueError(f"{where} contains negative values; counts must be >= 0.")
    if not np.all(values == np.round(values)):
        raise ValueError(
            f"{where} contains non-integer values; `adata` must hold raw counts, not "
            "normalised or log-transformed data (use `layer` to point at the counts)."
        )
    counts = sparse.csr_matrix(matrix, dtype=np.float64, copy=True)
    counts.eliminate_zeros()
    if counts.shape[0] < 2:
        raise ValueError(f"{where} has {counts.shape[0]} cell; at least 2 are needed.")
    empty = np.flatnonzero(np.diff(counts.indptr) == 0)
    if empty.size:
        raise ValueError(
            f"{where} has {empty.size} cells without counts; remove them first, e.g. with "
            "`sc.pp.filter_cells(adata, min_counts=1)`."
        )
    return counts


@dataclass
class _Summaries:
    lib_size: np.ndarray
    norm_means: np.ndarray
    positive_cells: np.ndarray


def _summaries(counts: sparse.csr_matrix) -> _Summaries:
    lib_size = np.asarray(counts.sum(axis=1)).ravel()
    scale = np.median(lib_size) / lib_size
    return _Summaries(
        lib_size=lib_size,
        norm_means=(counts.T @ scale) / counts.shape[0],
        positive_cells=np.bincount(counts.indices, minlength=counts.shape[1]),
    )


def _reference_genes(
    adata: AnnData, params: SimParams, layer: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene normalised means and BCV factors of a reference's counts (``X`` or ``layer``).

    The BCV factor ``s`` of a gene is its moment dispersion (all cells, library-size offsets)
    over the model's squared BCV at ``params.bcv_common``, square-rooted; genes with fewer than
    10 non-zero cells or a dispersion at or below zero get 1.
    """
    counts = _checked_counts(adata, layer)
    summaries = _summaries(counts)
    phi, p, sums = dispersion_moments(counts, summaries.lib_size, positive_only=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.sqrt(phi / model_bcv2(params.bcv_common, p, sums))
    usable = (summaries.positive_cells >= MIN_POSITIVE_CELLS) & np.isfinite(factor) & (phi > 0)
    return summaries.norm_means, np.where(usable, factor, 1.0)
