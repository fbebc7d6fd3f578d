"""Fit a labelled reference: per-label marginals, batch factors, library sizes and copula factors."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields

import numpy as np
from scipy import sparse, stats

from ._copula import MAX_FACTORS, attenuation, fit_factors, normal_scores

#: Labels with fewer cells take their dispersions from all cells and get no copula factors;
#: a label x batch with fewer cells takes its label's library sizes.
MIN_LABEL_CELLS = 10
# Cells of a label used for the zero-inflation test and the copula (a random subset beyond).
_MAX_FIT_CELLS = 2000
# Cells whose means give each gene's attenuation of its normal scores (see `attenuation`).
_ATTENUATION_CELLS = 16
# A gene of a label is zero-inflated when its zeros exceed the NB's by this many standard
# deviations (one-sided p ≈ 0.001 per gene and label).
_ZI_Z = 3.0
# Quantiles of the log library sizes kept per (label, batch): 0 %, 1 %, ..., 100 %.
N_LIB_QUANTILES = 101
# Pseudo-counts per gene of the batch factors: a batch factor rests on at least this much data.
_BATCH_PSEUDO = 10.0
_MAX_DISPERSION = 100.0


@dataclass
class ReferenceParams:
    """Parameters fitted to a labelled reference by :func:`~sc_synth.pp.estimate_params`.

    Arrays run over labels (``L``), batches (``B``), genes (``G``) and copula factors (``K``).

    Attributes
    ----------
    labels, batches, gene_names
        Names, in the order of the arrays. Without ``batch_key``, one batch ``"Batch1"``.
    labels_key, batch_key
        The ``obs`` columns the labels and batches came from (``None`` when not given); simulated
        cells carry their label and batch under the same names (``"group"``, ``"batch"`` else).
    group_prob
        ``(L,)`` share of each label in the reference.
    batch_prob
        ``(L, B)`` share of each batch within each label.
    base_profile
        ``(G,)`` share of each gene in all counts of the reference.
    profile
        ``(L, G)`` share of each gene in a label's counts, shrunk toward ``base_profile`` by one
        median cell's worth of counts (so small labels lean on the base profile).
    batch_factor
        ``(B, G)`` multiplicative batch effect on the genes (all 1 with one batch).
    dispersion
        ``(L, G)`` negative-binomial dispersion ``φ`` (``Var = μ + φμ²``); 0 is Poisson.
    zero_inflation
        ``(L, G)`` share of structural zeros ``π``; 0 unless the zero test fires.
    log_lib_quantiles
        ``(L, B, 101)`` quantiles (0 %, 1 %, …, 100 %) of the log library sizes of each label and
        batch; simulated sizes are drawn from the distribution they interpolate.
    factors
        ``(L, G, K)`` copula loadings; the copula correlation of label ``l`` is
        ``factors[l] @ factors[l].T`` off the diagonal.
    factor_scores, score_labels
        ``(N, K)`` coordinates of reference cells on their label's factors (each label's
        columns of mean 0 and variance 1; columns beyond its factors 0) and ``(N,)`` the index
        of each one's label. Simulated cells draw their factor values from them, blurred by a
        Gaussian kernel (see "Simulate your own data set" in the documentation); ``None``, or a
        label without rows, draws standard normals.
    score_lib_ranks
        ``(N,)`` each of those cells' rank of library size within its label and batch, in
        ``(0, 1)``: a simulated cell takes the rank of the cell whose coordinates it takes,
        blurred by the same kernel, so that its depth goes with its state. ``None`` draws
        library sizes independently of the factors.
    """

    labels: list[str]
    batches: list[str]
    gene_names: list[str]
    labels_key: str | None
    batch_key: str | None
    group_prob: np.ndarray
    batch_prob: np.ndarray
    base_profile: np.ndarray
    profile: np.ndarray
    batch_factor: np.ndarray
    dispersion: np.ndarray
    zero_inflation: np.ndarray
    log_lib_quantiles: np.ndarray
    factors: np.ndarray
    factor_scores: np.ndarray | None = None
    score_labels: np.ndarray | None = None
    score_lib_ranks: np.ndarray | None = None

    def __post_init__(self) -> None:
        n_labels, n_batches, n_genes = len(self.labels), len(self.batches), len(self.gene_names)
        shapes = {
            "group_prob": (n_labels,),
            "batch_prob": (n_labels, n_batches),
            "base_profile": (n_genes,),
            "profile": (n_labels, n_genes),
            "batch_factor": (n_batches, n_genes),
            "dispersion": (n_labels, n_genes),
            "zero_inflation": (n_labels, n_genes),
            "log_lib_quantiles": (n_labels, n_batches, N_LIB_QUANTILES),
        }
        for name, shape in shapes.items():
            value = np.asarray(getattr(self, name), dtype=float)
            if value.shape != shape or not np.all(np.isfinite(value)):
                raise ValueError(
                    f"ReferenceParams.{name} must be a finite array of shape {shape}, "
                    f"got shape {value.shape}."
                )
            setattr(self, name, value)
        if np.any(np.diff(self.log_lib_quantiles, axis=-1) < 0):
            raise ValueError("ReferenceParams.log_lib_quantiles must not decrease along quantiles.")
        self.factors = np.asarray(self.factors, dtype=float)
        if self.factors.ndim != 3 or self.factors.shape[:2] != (n_labels, n_genes):
            raise ValueError(
                f"ReferenceParams.factors must have shape ({n_labels}, {n_genes}, K), "
                f"got {self.factors.shape}."
            )
        self._check_scores(n_labels)

    def _check_scores(self, n_labels: int) -> None:
        if (self.factor_scores is None) != (self.score_labels is None):
            raise ValueError(
                "ReferenceParams.factor_scores and score_labels must be given together."
            )
        if self.factor_scores is None:
            if self.score_lib_ranks is not None:
                raise ValueError("ReferenceParams.score_lib_ranks needs factor_scores.")
            return
        scores = np.asarray(self.factor_scores, dtype=float)
        labels = np.asarray(self.score_labels)
        shape = (labels.size, self.factors.shape[2])
        if scores.shape != shape or not np.all(np.isfinite(scores)):
            raise ValueError(
                f"ReferenceParams.factor_scores must be a finite array of shape {shape} (one "
                f"row per score label, one column per factor), got shape {scores.shape}."
            )
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError("ReferenceParams.score_labels must be a 1-d array of label indices.")
        if labels.size and (labels.min() < 0 or labels.max() >= n_labels):
            raise ValueError(f"ReferenceParams.score_labels must lie in [0, {n_labels}).")
        self.factor_scores, self.score_labels = scores, labels.astype(np.int64)
        if self.score_lib_ranks is not None:
            ranks = np.asarray(self.score_lib_ranks, dtype=float)
            if ranks.shape != (labels.size,) or not np.all((ranks > 0) & (ranks < 1)):
                raise ValueError(
                    f"ReferenceParams.score_lib_ranks must be an array of shape ({labels.size},) "
                    "(one rank per row of factor_scores) with values in (0, 1)."
                )
            self.score_lib_ranks = ranks

    @property
    def noise_sd(self) -> np.ndarray:
        """``(L, G)`` standard deviation of each gene's own copula noise, ``sqrt(1 - |F_j|²)``."""
        return np.sqrt(np.clip(1.0 - (self.factors**2).sum(axis=2), 0.0, 1.0))

    def to_dict(self) -> dict:
        """Fields as an h5ad-writable dict (``None`` keys as empty strings)."""
        out = {}
        for field in fields(self):
            value = getattr(self, field.name)
            out[field.name] = "" if value is None else value
        return out

    @classmethod
    def from_dict(cls, record: dict) -> ReferenceParams:
        """Rebuild the parameters from :meth:`to_dict`'s output (e.g. ``uns["simulate"]["params"]``)."""
        values = {f.name: record[f.name] for f in fields(cls) if f.name in record}
        for name in ("labels", "batches", "gene_names"):
            values[name] = [str(v) for v in np.asarray(values[name]).tolist()]
        for name in ("labels_key", "batch_key"):
            values[name] = str(values[name]) or None
        for name in ("factor_scores", "score_labels", "score_lib_ranks"):
            value = record.get(name, "")
            values[name] = None if isinstance(value, str) else value
        return cls(**values)


def fit_reference(
    counts: sparse.csr_matrix,
    labels: np.ndarray,
    batches: np.ndarray,
    gene_names: list[str],
    labels_key: str | None,
    batch_key: str | None,
) -> ReferenceParams:
    """Fit :class:`ReferenceParams` to checked counts with one label and batch per cell."""
    label_names, label = np.unique(labels, return_inverse=True)
    batch_names, batch = np.unique(batches, return_inverse=True)
    n_labels, n_batches = label_names.size, batch_names.size
    lib = np.asarray(counts.sum(axis=1)).ravel()
    cells = np.bincount(label * n_batches + batch, minlength=n_labels * n_batches)
    cells = cells.reshape(n_labels, n_batches)
    small = label_names[cells.sum(axis=1) < MIN_LABEL_CELLS]
    if small.size:
        warnings.warn(
            f"Labels {list(small)} have fewer than {MIN_LABEL_CELLS} cells: they take their "
            "dispersions from all cells and get no gene-gene correlation.",
            UserWarning,
            stacklevel=3,
        )

    base = np.asarray(counts.sum(axis=0)).ravel() / lib.sum()
    profile, batch_factor = _profiles(counts, lib, label, batch, n_labels, n_batches, base)
    table = _cell_profiles(profile, batch_factor)
    moments = _dispersion_sums(counts, lib, label * n_batches + batch, table)
    pooled = _dispersion(*(m.sum(axis=0) for m in moments))
    dispersion = np.empty((n_labels, counts.shape[1]))
    zero_inflation = np.zeros_like(dispersion)
    factors = np.zeros((n_labels, counts.shape[1], MAX_FACTORS))
    scores, score_labels = [np.zeros((0, MAX_FACTORS))], [np.zeros(0, dtype=np.int64)]
    lib_ranks = [np.zeros(0)]
    log_lib_quantiles = _library_sizes(lib, label, batch, cells)
    rng = np.random.default_rng(0)
    for g in range(n_labels):
        if label_names[g] in small:
            dispersion[g] = pooled
            continue
        phi = _dispersion(*(m[g] for m in moments))
        rows = np.flatnonzero(label == g)
        if rows.size > _MAX_FIT_CELLS:
            rows = np.sort(rng.choice(rows, _MAX_FIT_CELLS, replace=False))
        x = counts[rows].toarray()
        mu = lib[rows, None] * table[g * n_batches + batch[rows]]
        dispersion[g], zero_inflation[g] = _zero_inflation(x, mu, phi)
        z = normal_scores(x, mu, dispersion[g], zero_inflation[g], rng)
        # cells at evenly spaced ranks of library size stand for the label's range of depths
        spread = ((np.arange(_ATTENUATION_CELLS) + 0.5) * rows.size / _ATTENUATION_CELLS).astype(
            int
        )
        typical = mu[np.argsort(lib[rows])[spread]]
        shrink = attenuation(typical, dispersion[g], zero_inflation[g])
        factors[g], coordinates = fit_factors(z, attenuation=shrink)
        if coordinates.shape[1]:
            scores.append(np.pad(coordinates, ((0, 0), (0, MAX_FACTORS - coordinates.shape[1]))))
            score_labels.append(np.full(rows.size, g))
            lib_ranks.append(_ranks_within(lib[rows], batch[rows]))
    return ReferenceParams(
        labels=[str(v) for v in label_names],
        batches=[str(v) for v in batch_names],
        gene_names=list(gene_names),
        labels_key=labels_key,
        batch_key=batch_key,
        group_prob=cells.sum(axis=1) / cells.sum(),
        batch_prob=cells / cells.sum(axis=1, keepdims=True),
        base_profile=base,
        profile=profile,
        batch_factor=batch_factor,
        dispersion=dispersion,
        zero_inflation=zero_inflation,
        log_lib_quantiles=log_lib_quantiles,
        factors=factors,
        factor_scores=np.concatenate(scores),
        score_labels=np.concatenate(score_labels),
        score_lib_ranks=np.concatenate(lib_ranks),
    )


def _ranks_within(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Mid-ranks of ``values`` within each group, scaled into ``(0, 1)``."""
    ranks = np.empty(values.size)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        ranks[members] = (stats.rankdata(values[members]) - 0.5) / members.size
    return ranks


def _cell_profiles(profile: np.ndarray, batch_factor: np.ndarray) -> np.ndarray:
    """Gene proportions of every (label, batch), rows label-major: ``label · B + batch``."""
    table = profile[:, None, :] * batch_factor[None, :, :]
    table = table.reshape(-1, profile.shape[1])
    return table / table.sum(axis=1, keepdims=True)


def _profiles(counts, lib, label, batch, n_labels, n_batches, base):
    """Label profiles shrunk toward ``base`` and batch factors, alternating twice."""
    by_label = sparse.csr_matrix(
        (np.ones(label.size), (label, np.arange(label.size))), shape=(n_labels, label.size)
    )
    by_batch = sparse.csr_matrix(
        (np.ones(batch.size), (batch, np.arange(batch.size))), shape=(n_batches, batch.size)
    )
    observed_label = np.asarray((by_label @ counts).todense())
    observed_batch = np.asarray((by_batch @ counts).todense())
    lib_sums = np.zeros((n_labels, n_batches))
    np.add.at(lib_sums, (label, batch), lib)
    pseudo = np.median(lib)
    batch_factor = np.ones((n_batches, counts.shape[1]))
    for _ in range(2 if n_batches > 1 else 1):
        exposure = lib_sums @ batch_factor
        profile = observed_label / np.maximum(exposure, 1e-300) * lib_sums.sum(axis=1)[:, None]
        profile = (profile + pseudo * base) / (lib_sums.sum(axis=1)[:, None] + pseudo)
        profile /= profile.sum(axis=1, keepdims=True)
        if n_batches > 1:
            expected = lib_sums.T @ profile
            batch_factor = (observed_batch + _BATCH_PSEUDO) / (expected + _BATCH_PSEUDO)
    return profile, batch_factor


def _dispersion_sums(counts, lib, row, table):
    """Per (label, gene) sums of ``(x - μ)² - x`` and ``μ²`` (labels × genes each).

    ``μ = lib · table[row]`` for each cell; the sums come from the sparse counts by
    (label, batch) group, without a dense cells × genes array.
    """
    excess = np.zeros(table.shape)
    mu_sq = np.zeros(table.shape)
    for r in np.unique(row):
        cells = np.flatnonzero(row == r)
        x = counts[cells]
        sum_x = np.asarray(x.sum(axis=0)).ravel()
        sum_x2 = np.asarray(x.multiply(x).sum(axis=0)).ravel()
        sum_x_lib = x.T @ lib[cells]
        lib2 = np.sum(lib[cells] ** 2)
        t = table[r]
        excess[r] = sum_x2 - 2 * t * sum_x_lib + t**2 * lib2 - sum_x
        mu_sq[r] = t**2 * lib2
    return excess, mu_sq


def _dispersion(excess: np.ndarray, mu_sq: np.ndarray) -> np.ndarray:
    """Moment dispersions clipped to ``[0, 100]``; genes without counts take the median."""
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = excess / mu_sq
    finite = np.isfinite(phi) & (mu_sq > 0)
    fill = np.median(np.clip(phi[finite], 0, None)) if finite.any() else 0.0
    return np.clip(np.where(finite, phi, fill), 0.0, _MAX_DISPERSION)


def _nb_zeros(mu: np.ndarray, phi: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        nb = np.exp(-np.log1p(mu * phi) / phi)
    return np.where(phi > 0, nb, np.exp(-mu))


def _zero_inflation(x: np.ndarray, mu: np.ndarray, phi: np.ndarray):
    """Dispersions and zero shares: zero inflation only where the NB leaves zeros unexplained.

    ``Z`` zeros observed are compared with ``E = Σ P(Y_i = 0)`` under the moment NB; genes
    with ``(Z - E) / sd > 3`` get a zero-inflated NB with the same mean and variance and the
    observed zero share: with ``π`` structural zeros, matching the variance gives
    ``φ' = φ (1 - π) - π``, and ``φ'`` in ``[0, φ]`` is found by bisection on the zero share.
    """
    phi = phi.copy()
    n_cells = x.shape[0]
    p0 = _nb_zeros(mu, phi[None, :])
    expected = p0.sum(axis=0)
    sd = np.sqrt(np.maximum((p0 * (1 - p0)).sum(axis=0), 1e-12))
    observed = (x == 0).sum(axis=0)
    flagged = np.flatnonzero((observed - expected) / sd > _ZI_Z)
    pi = np.zeros_like(phi)
    if flagged.size == 0:
        return phi, pi
    target = observed[flagged] / n_cells
    m, total = mu[:, flagged], phi[flagged]
    low, high = np.zeros(flagged.size), total.copy()
    for _ in range(30):
        mid = (low + high) / 2
        share = (total - mid) / (1 + total)
        zeros = share + (1 - share) * _nb_zeros(m / (1 - share), mid[None, :]).mean(axis=0)
        # The zero share falls as φ' rises (and π with it): too many zeros -> raise φ'.
        too_many = zeros > target
        low = np.where(too_many, mid, low)
        high = np.where(too_many, high, mid)
    phi_zi = (low + high) / 2
    pi[flagged] = (total - phi_zi) / (1 + total)
    phi[flagged] = phi_zi
    return phi, pi


def _library_sizes(lib, label, batch, cells) -> np.ndarray:
    """Quantiles of the log library sizes per (label, batch); small combinations take the label's.

    Quantiles keep the shape of the reference's distribution (real library sizes are often
    truncated by cell filtering, which a log-normal misses).
    """
    log_lib = np.log(lib)
    n_labels, n_batches = cells.shape
    probs = np.linspace(0.0, 1.0, N_LIB_QUANTILES)
    quantiles = np.empty((n_labels, n_batches, N_LIB_QUANTILES))
    for g in range(n_labels):
        in_label = label == g
        pooled = np.quantile(log_lib[in_label], probs)
        for b in range(n_batches):
            here = in_label & (batch == b)
            enough = here.sum() >= MIN_LABEL_CELLS
            quantiles[g, b] = np.quantile(log_lib[here], probs) if enough else pooled
    return quantiles
