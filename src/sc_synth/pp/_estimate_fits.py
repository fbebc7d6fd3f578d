"""Fits of Splat's parameters, one per step of the model, from summaries of raw counts."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, sparse, special, stats

from ._params import SimParams

# Library sizes tested for normality, as the Shapiro–Wilk test is meant for at most 5000 values.
_SHAPIRO_MAX = 5000
# Genes used for the BCV fit: those whose mean non-zero count reaches this level, where
# negative-binomial zeros are rare and zeros are mostly dropout ...
_BCV_MIN_POSITIVE_MEAN = 10.0
# ... or, when fewer genes qualify, this many genes with the highest such means.
_BCV_MIN_GENES = 50
# Genes need this many non-zero cells for a per-gene dispersion.
MIN_POSITIVE_CELLS = 10


def fit_gamma(means: np.ndarray) -> tuple[float, float]:
    """Gamma (shape, rate) by minimum Cramér–von Mises distance, moments as fallback."""
    low, high = np.quantile(means, [0.1, 0.9])
    x = np.sort(np.clip(means, low, high))
    mean, var = x.mean(), x.var()
    moments = (mean**2 / var, mean / var) if var > 0 else (1.0, 1.0 / mean)
    n = x.size
    plotting = (2 * np.arange(1, n + 1) - 1) / (2 * n)

    def cvm(log_theta):
        shape, rate = np.exp(log_theta)
        return 1 / (12 * n) + np.sum((stats.gamma.cdf(x, shape, scale=1 / rate) - plotting) ** 2)

    fit = optimize.minimize(cvm, np.log(moments), method="Nelder-Mead")
    if not fit.success or not np.all(np.isfinite(fit.x)):
        warnings.warn(
            "Fitting gene means by minimum Cramér–von Mises distance failed; "
            "using the method of moments instead.",
            RuntimeWarning,
            stacklevel=3,
        )
        return float(moments[0]), float(moments[1])
    shape, rate = np.exp(fit.x)
    return float(shape), float(rate)


def fit_library_sizes(lib_size: np.ndarray) -> tuple[float, float, bool]:
    sample = lib_size
    if lib_size.size > _SHAPIRO_MAX:
        sample = np.random.default_rng(0).choice(lib_size, _SHAPIRO_MAX, replace=False)
    if lib_size.size >= 3 and stats.shapiro(sample).pvalue > 0.2:
        return float(lib_size.mean()), float(lib_size.std()), True
    log_size = np.log(lib_size)
    return float(log_size.mean()), float(log_size.std()), False


def fit_outliers(means: np.ndarray) -> dict:
    log_means = np.log(means)
    median = np.median(log_means)
    mad = stats.median_abs_deviation(log_means, scale="normal")
    is_outlier = log_means > median + 2 * mad
    fitted = {"out_prob": float(is_outlier.mean())}
    if is_outlier.sum() > 1:
        log_factors = np.log(means[is_outlier] / np.median(means))
        fitted |= {
            "out_fac_loc": float(log_factors.mean()),
            "out_fac_scale": float(log_factors.std()),
        }
    return fitted


def dispersion_moments(counts: sparse.csr_matrix, lib_size: np.ndarray, positive_only: bool):
    """Per-gene moment dispersions with library-size offsets, and the library-size moments.

    Returns ``phi`` (NB dispersion: ``Var = μ + φ μ²`` with ``μ = lib · p``), ``p`` and the
    per-gene sums of ``lib``, ``lib^1.5`` and ``lib^2`` over the cells used, which give the
    model's cell-averaged squared BCV in closed form.
    """
    csc = counts.tocsc()
    if positive_only:
        present = csc.copy()
        present.data[:] = 1.0
        sums = {k: present.T @ lib_size**k for k in (1.0, 1.5, 2.0)}
    else:
        sums = {k: np.full(counts.shape[1], np.sum(lib_size**k)) for k in (1.0, 1.5, 2.0)}
    y_sum = np.asarray(csc.sum(axis=0)).ravel()
    y_sq = np.asarray(csc.multiply(csc).sum(axis=0)).ravel()
    y_lib = csc.T @ lib_size
    with np.errstate(divide="ignore", invalid="ignore"):
        p = y_sum / sums[1.0]
        squares = y_sq - 2 * p * y_lib + p**2 * sums[2.0]
        phi = (squares - y_sum) / (p**2 * sums[2.0])
    return phi, p, sums


def model_bcv2(bcv_common: float, p, sums) -> np.ndarray:
    """Splat's squared BCV ``(c + μ^-1/2)²`` averaged with weights ``μ²`` over cells."""
    return (
        bcv_common**2
        + 2 * bcv_common * sums[1.5] / (np.sqrt(p) * sums[2.0])
        + sums[1.0] / (p * sums[2.0])
    )


def _log_bcv(counts: sparse.csr_matrix, lib_size: np.ndarray, genes: np.ndarray):
    phi, p, sums = dispersion_moments(counts[:, genes], lib_size, positive_only=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 0.5 * np.log(phi), p, sums


def fit_bcv(counts: sparse.csr_matrix, lib_size: np.ndarray) -> tuple[float, float]:
    """``bcv_common`` and ``bcv_df`` from non-zero cells of well-expressed genes (see above)."""
    positive = np.diff(counts.tocsc().indptr)
    totals = np.asarray(counts.sum(axis=0)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        positive_mean = np.where(positive > 0, totals / positive, 0.0)
    eligible = np.flatnonzero(positive >= MIN_POSITIVE_CELLS)
    if eligible.size < 2:
        warnings.warn(
            "Too few genes with counts in 10 or more cells to estimate the BCV; "
            "keeping Splatter's defaults for bcv_common and bcv_df.",
            RuntimeWarning,
            stacklevel=3,
        )
        return SimParams.bcv_common, SimParams.bcv_df
    order = eligible[np.argsort(-positive_mean[eligible], kind="stable")]
    genes = order[positive_mean[order] >= _BCV_MIN_POSITIVE_MEAN]
    if genes.size < _BCV_MIN_GENES:
        genes = order[:_BCV_MIN_GENES]
    genes = np.sort(genes)

    log_bcv, p, sums = _log_bcv(counts, lib_size, genes)
    halves = np.random.default_rng(0).permutation(counts.shape[0]) % 2 == 0
    log_a = _log_bcv(counts[halves], lib_size[halves], genes)[0]
    log_b = _log_bcv(counts[~halves], lib_size[~halves], genes)[0]
    usable = np.isfinite(log_bcv)
    log_bcv, p = log_bcv[usable], p[usable]
    sums = {k: v[usable] for k, v in sums.items()}
    both = np.isfinite(log_a) & np.isfinite(log_b)
    sampling_var = np.mean((log_a[both] - log_b[both]) ** 2) / 4 if both.sum() > 1 else 0.0

    # The mean of log s for s² ~ df / chi2(df) shifts the fit slightly; iterate to agree.
    offset, bcv_df, bcv_common = 0.0, np.inf, SimParams.bcv_common
    for _ in range(4):

        def loss(c, offset=offset):
            return np.sum((log_bcv - 0.5 * np.log(model_bcv2(c, p, sums)) - offset) ** 2)

        bcv_common = optimize.minimize_scalar(loss, bounds=(0.0, 10.0), method="bounded").x
        residual = log_bcv - 0.5 * np.log(model_bcv2(bcv_common, p, sums)) - offset
        spread = np.var(residual) - sampling_var
        bcv_df = _inverse_trigamma(4 * spread) * 2 if spread > 0 else np.inf
        offset = _mean_log_scale(bcv_df)
    return float(bcv_common), float(bcv_df)


def _inverse_trigamma(value: float) -> float:
    log_x = optimize.brentq(lambda t: special.polygamma(1, np.exp(t)) - value, -30.0, 30.0)
    return float(np.exp(log_x))


def _mean_log_scale(df: float) -> float:
    """E[log s] for s² = df / chi2(df)."""
    if np.isinf(df):
        return 0.0
    return 0.5 * (np.log(df / 2) - special.digamma(df / 2))


def fit_dropout(log_means: np.ndarray, zero_fraction: np.ndarray) -> tuple[float, float]:
    middle = (zero_fraction > 0.2) & (zero_fraction < 0.8)
    start_mid = np.median(log_means[middle]) if middle.any() else np.median(log_means)

    def logistic(x, mid, shape):
        return special.expit(shape * (x - mid))

    try:
        (mid, shape), _ = optimize.curve_fit(
            logistic, log_means, zero_fraction, p0=(start_mid, -1.0), maxfev=10_000
        )
    except RuntimeError:
        warnings.warn(
            "Fitting the dropout logistic failed; using its starting values.",
            RuntimeWarning,
            stacklevel=3,
        )
        return float(start_mid), -1.0
    return float(mid), float(shape)
