"""Gaussian copula with a low-rank plus diagonal correlation: fitted from normal scores, sampled.

Within a label, the counts of gene ``j`` follow a (zero-inflated) negative binomial ``F_j`` and
genes are tied by a Gaussian copula: ``Y_j = F_j^{-1}(Φ(z_j))`` with ``z ~ N(0, R)``. ``R`` is
held as ``F Fᵀ + D``, ``F`` genes × ``k`` loadings and ``D`` diagonal, so a cell costs ``k``
normals for the shared part and one per gene for the rest: ``z = F w + sqrt(D) e`` with
``w ~ N(0, I_k)`` and ``e ~ N(0, I)``. No genes × genes matrix is ever formed, in the fit or
the draws; ``F w`` of a block of cells is one matrix product per label.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy import special, stats
from sklearn.utils.extmath import randomized_svd

#: Most factors kept per label.
MAX_FACTORS = 20
# Diagonal share floor: a gene keeps at least this much of its variance of its own, so that the
# loadings never make a gene a deterministic function of the factors.
_MIN_NOISE = 0.05
# Uniforms are kept this far from 0 and 1 before the normal quantile.
_EPS = 1e-10
# A count holding less of its law than this has a narrow interval of normal quantiles, whose
# share of the scores' attenuation is negligible (under 0.1 % of b).
_NARROW = 1e-3
# Beyond this -log P(Y = 0) the inversion would start from an underflowing probability; such
# entries (means in the hundreds) take the normal approximation of their quantile instead.
_MAX_LOG_ZERO = 600.0


def nb_cdf(x: np.ndarray, mu: np.ndarray, phi: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """CDF at ``x`` of ``π`` structural zeros mixed with a NB of mean ``μ``, ``Var = μ + φμ²``.

    ``φ = 0`` is the Poisson; ``x < 0`` gives 0.
    """
    x, mu, phi, pi = np.broadcast_arrays(x, mu, phi, pi)
    out = np.zeros(x.shape)
    ok = x >= 0
    poisson = ok & (phi <= 0)
    nb = ok & (phi > 0)
    out[poisson] = stats.poisson.cdf(x[poisson], mu[poisson])
    size = 1.0 / phi[nb]
    out[nb] = special.betainc(size, x[nb] + 1, size / (size + mu[nb]))
    return np.where(ok, pi + (1.0 - pi) * out, 0.0)


def normal_scores(
    x: np.ndarray, mu: np.ndarray, phi: np.ndarray, pi: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Randomised probability-integral transform of counts ``x`` (cells × genes), as normals.

    ``u = F(x - 1) + V (F(x) - F(x - 1))`` with ``V`` uniform is exactly uniform when ``F`` is
    the counts' law, so ``Φ⁻¹(u)`` is standard normal and carries the dependence between genes.
    """
    # The NB part of a zero-inflated gene has mean μ / (1 - π), so that the mixture's is μ.
    mu, phi, pi = np.broadcast_arrays(mu / (1 - pi), phi, pi)
    low = np.zeros(x.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        zero = np.where(phi > 0, np.exp(-np.log1p(mu * phi) / phi), np.exp(-mu))
    high = pi + (1 - pi) * zero
    # Only non-zero counts need the incomplete beta function, the costly part.
    nonzero = x > 0
    args = (mu[nonzero], phi[nonzero], pi[nonzero])
    low[nonzero] = nb_cdf(x[nonzero] - 1, *args)
    high[nonzero] = nb_cdf(x[nonzero], *args)
    u = low + rng.random(x.shape) * (high - low)
    return special.ndtri(np.clip(u, _EPS, 1.0 - _EPS))


def attenuation(mu: np.ndarray, phi: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """How much the randomised normal scores of each gene's counts shrink its correlations.

    Counts ``Y = F⁻¹(Φ(z))`` of a latent normal ``z`` reveal only the interval
    ``(q_{y-1}, q_y]`` of normal quantiles that ``z`` fell in, and a score drawn uniformly
    within it (:func:`normal_scores`) keeps of the latent correlation ``ρ`` of two genes only
    ``ρ b_i b_j`` (to first order in ``ρ``), with ``b = E[E[z | Y]²] =
    Σ_y (φ(q_{y-1}) - φ(q_y))² / P(Y = y)``: near 1 for well-expressed genes, as low as 0.1 for
    a gene detected in a few per cent of the cells. Loadings fitted to the scores are therefore
    those of the latent correlation times ``b``.

    ``mu`` (cells × genes) holds the means at some cells' library sizes, ``phi`` and ``pi`` the
    genes' dispersions and zero inflation; returns each gene's ``b`` averaged over the cells.
    """
    mu, phi, pi = np.broadcast_arrays(mu, phi, pi)
    shape = mu.shape
    # The NB part of a zero-inflated gene has mean μ / (1 - π), so that the mixture's is μ.
    mu, phi, pi = (mu / (1 - pi)).ravel(), phi.ravel(), pi.ravel()
    nb = phi > 0
    size = 1.0 / np.where(nb, phi, 1.0)
    with np.errstate(divide="ignore"):
        log_p0 = np.where(nb, -size * np.log1p(mu * phi), -mu)
    # Counts that are never 0 (P(Y = 0) < 1e-13) are close to continuous: b > 0.99.
    b = np.where(log_p0 < -30.0, 1.0, 0.0)
    live = np.flatnonzero((log_p0 >= -30.0) & (mu > 0))
    # Beyond its mode, once a count holds less than _NARROW of the law, the intervals of all
    # higher counts are narrow and the rest of the sum is its continuous limit; where even the
    # mode holds less, that is so from the first count on.
    mode = np.where(nb, np.floor(np.maximum(size - 1, 0) * mu * phi), np.floor(mu))[live]
    m, d = mu[live], phi[live]
    log_peak = np.where(
        d > 0,
        stats.nbinom.logpmf(mode, size[live], 1 / (1 + m * d)),
        stats.poisson.logpmf(mode, m),
    )
    peak = (1 - pi[live]) * np.exp(log_peak)
    mode[peak < _NARROW] = 0
    pmf = np.exp(log_p0[live])
    prob = pi[live] + (1 - pi[live]) * pmf
    cdf = prob.copy()
    below = np.zeros(live.size)  # φ at each interval's lower quantile, 0 at -∞
    y = 0
    while live.size:
        q = special.ndtri(np.minimum(cdf, 1.0))
        above = stats.norm.pdf(q)
        b[live] += (below - above) ** 2 / np.maximum(prob, 1e-300)
        done = (cdf > 1 - 1e-9) | ((y >= mode) & (prob < _NARROW))
        # the continuous limit above q: E[z²; z > q] = 1 - Φ(q) + q φ(q)
        rest = np.where(cdf[done] < 1, 1 - cdf[done] + q[done] * above[done], 0.0)
        b[live[done]] += rest
        keep = ~done
        live, pmf, cdf, below, mode = live[keep], pmf[keep], cdf[keep], above[keep], mode[keep]
        y += 1
        m, d = mu[live], phi[live]
        pmf = pmf * np.where(d > 0, (y - 1 + size[live]) / y * (m * d / (1 + m * d)), m / y)
        prob = (1 - pi[live]) * pmf
        cdf = cdf + prob
    return np.clip(b, 0.0, 1.0).reshape(shape).mean(axis=0)


def _latent_scale(shared: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Factor by which each gene's loadings on the scores become those on its latent normal.

    ``shared`` is the share of a gene's score variance that the factors carry: the score
    correlation it would have with a twin gene of the same marginal and factors. Between two
    such twins a latent correlation ``ρ`` gives a score correlation ``h(ρ)`` with slope ``b²``
    at 0 (:func:`attenuation`) and ``h(1) = b`` (the twins' scores then share ``E[z | Y]``,
    of variance ``b``); ``h(ρ) = b² ρ + (b - b²) ρ²`` meets both ends, so strongly correlated
    sparse genes are not scaled up as if their correlation were weak. The gene's latent share
    is the root ``ρ`` of ``h(ρ) = shared``, and its loadings scale by ``√(ρ / shared)``.
    """
    curve = b - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        # the root of curve ρ² + b² ρ - shared = 0, in the form that stays exact as curve → 0
        rho = 2 * shared / (b * b + np.sqrt(b**4 + 4 * curve * shared))
        return np.where((b > 0) & (shared > 0), np.sqrt(rho / shared), 0.0)


def fit_factors(
    z: np.ndarray, max_factors: int = MAX_FACTORS, attenuation: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return loadings of normal scores' correlation and the cells' scores on the factors kept.

    The scores are standardised per gene and their leading singular vectors taken. A sample
    eigenvalue ``λ`` of ``n`` cells and ``p`` genes (``γ = p / n``) stands for a factor only above
    the noise edge ``(1 + √γ)²``; its population value ``ℓ``, which noise inflates, is recovered
    from the spiked-model relation ``λ = ℓ + γ ℓ / (ℓ - 1)``. Loadings are ``v √(ℓ - 1)``, scaled
    up by the genes' ``attenuation`` when given (the copula's correlation is the latent normals',
    which the scores of discrete counts shrink; see :func:`_latent_scale`), capped so that every
    gene keeps a share of its variance of its own. (Shrinking ``v`` further by its
    expected overlap with the true eigenvector weakened the co-expression kept on held-out pbmc68k
    cells without making the cells more realistic.)

    Returns the loadings (genes × ``max_factors``, unused columns 0) and each cell's coordinates
    on the ``k`` factors kept (cells × ``k``, each column of mean 0 and variance 1): the cells'
    left singular vectors, whose joint law (skewed, or in clumps where a label holds sub-types)
    :func:`factor_normals` resamples.
    """
    n, p = z.shape
    loadings = np.zeros((p, max_factors))
    if n < 3 or p < 2:
        return loadings, np.zeros((n, 0))
    z = z - z.mean(axis=0)
    sd = z.std(axis=0)
    z = z / np.where(sd > 0, sd, np.inf)
    k = min(max_factors, n - 1, p - 1)
    u, s, vt = randomized_svd(z, k, n_iter=4, random_state=0)
    lam = s**2 / n
    gamma = p / n
    spikes = lam > (1.0 + np.sqrt(gamma)) ** 2
    b = lam[spikes] + 1.0 - gamma
    ell = (b + np.sqrt(np.maximum(b**2 - 4.0 * lam[spikes], 0.0))) / 2.0
    used = vt[spikes].T * np.sqrt(np.maximum(ell - 1.0, 0.0))
    if attenuation is not None:
        used *= _latent_scale((used**2).sum(axis=1), attenuation)[:, None]
    norm = np.sqrt((used**2).sum(axis=1, keepdims=True))
    cap = np.sqrt(1.0 - _MIN_NOISE)
    used *= np.where(norm > cap, cap / np.maximum(norm, 1e-300), 1.0)
    loadings[:, : used.shape[1]] = used
    return loadings, u[:, spikes] * np.sqrt(n)


def pick_cells(
    uniforms: np.ndarray, label: np.ndarray, score_label: np.ndarray, n_factors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pick the reference cell whose factor coordinates each cell takes, and its kernel's width.

    A cell of a label with scores and factors takes one of its reference cells, picked by its
    uniform; the bandwidth is Silverman's for the label's ``k = n_factors[label]`` factors and
    ``n`` cells, ``h = (4 / (k + 2))^(1 / (k + 4)) n^(-1 / (k + 4))``. Returns the row of the
    scores (-1 for cells of other labels) and ``h`` (0 there).
    """
    picked = np.full(label.size, -1, dtype=np.int64)
    bandwidth = np.zeros(label.size)
    for lab in np.unique(label):
        rows = np.flatnonzero(score_label == lab)
        k = n_factors[lab]
        if rows.size == 0 or k == 0:
            continue
        cells = np.flatnonzero(label == lab)
        picked[cells] = rows[(uniforms[cells] * rows.size).astype(np.int64)]
        bandwidth[cells] = (4.0 / (k + 2)) ** (1.0 / (k + 4)) * rows.size ** (-1.0 / (k + 4))
    return picked, bandwidth


def blur(value: np.ndarray, normals: np.ndarray, bandwidth: np.ndarray) -> np.ndarray:
    """``√(1 - h²) s + h w``: a unit-variance value blurred by a Gaussian kernel, still of unit variance."""
    return np.sqrt(1.0 - bandwidth**2) * value + bandwidth * normals


def factor_normals(
    normals: np.ndarray, picked: np.ndarray, bandwidth: np.ndarray, label: np.ndarray,
    scores: np.ndarray, n_factors: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Factor normals of a block of cells, resampled from the reference cells' scores.

    A cell with a reference cell (:func:`pick_cells`) takes its scores on its label's factors,
    blurred (:func:`blur`) with its own normals: unit variance and the factors uncorrelated, as
    with Gaussian normals, so the copula's correlation is the same, but the scores' shape is
    kept. Other cells, and columns beyond a label's factors, keep their normals.
    """
    out = normals.copy()
    rows = np.flatnonzero(picked >= 0)
    h = bandwidth[rows, None]
    mixed = blur(scores[picked[rows]], normals[rows], h)
    own = np.arange(normals.shape[1]) < n_factors[label[rows]][:, None]
    out[rows] = np.where(own, mixed, normals[rows])
    return out


_SQRT_HALF = math.sqrt(0.5)
# Library sizes at which the zero bounds are tabulated, per (label, batch): this many points
# evenly spaced in log library size over the range the cells' sizes are drawn from.
_GRID_POINTS = 24


def zero_bounds(
    table: np.ndarray, log_low: np.ndarray, log_high: np.ndarray, phi, pi, label_of_row
) -> tuple[np.ndarray, np.ndarray]:
    """Tabulate the normal scores below which an entry is surely zero, over library sizes.

    An entry is zero when ``Φ(z) <= π + (1 - π) P(Y = 0)``, i.e. ``z`` below a bound that falls
    as the library size ``L`` grows. For each (label, batch) row of ``table`` the bound is
    tabulated at library sizes ``grid[row]``, from ``exp(log_low[row])`` to ``exp(log_high[row])``;
    a cell uses the first point at or above its own
    size, whose bound is lower than its exact one, so the test never calls a non-zero entry
    zero and spares the normal CDF for all but a few per cent of entries. Returns ``grid``
    (rows × points) and the bounds (rows × points × genes, ``float32`` rounded down).
    """
    steps = np.linspace(0.0, 1.0, _GRID_POINTS)
    grid = np.exp(log_low[:, None] + (log_high - log_low)[:, None] * steps[None, :])
    # the last point must not fall below the largest size through rounding
    grid[:, -1] = np.nextafter(grid[:, -1], np.inf)
    lab = np.asarray(label_of_row)
    mu = grid[:, :, None] * table[:, None, :] / (1 - pi[lab])[:, None, :]
    d, zi = phi[lab][:, None, :], pi[lab][:, None, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        nb = np.where(d > 0, np.exp(-np.log1p(mu * d) / np.where(d > 0, d, 1)), np.exp(-mu))
    bounds = special.ndtri(zi + (1 - zi) * nb)
    return grid, np.nextafter(bounds.astype(np.float32), np.float32(-np.inf))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def draw_counts(
    shared, e, lib, profile_row, label, grid_index, bounds, profile, phi, pi, noise_sd, data,
    indices, row_nnz,
):  # fmt: skip
    """Draw the counts of a block of cells through the copula, written as CSR rows.

    Row ``i`` has library size ``lib[i]``, proportions ``profile[profile_row[i]]`` and the
    marginals of ``label[i]``; its normal scores are ``z = shared[i] + noise_sd · e[i]``, with
    ``shared = F w`` the factors' part (no columns: none) and ``e[i]`` the genes' own normals.
    An entry whose ``z`` is below its tabulated
    bound ``bounds[profile_row, grid_index]`` (see :func:`zero_bounds`; ``grid_index < 0``
    skips it) is zero at once; the others are zero when ``u = Φ(z)`` falls in the zero
    inflation or under ``P(Y = 0)``, else the NB quantile at the remaining uniform is found by
    walking up its CDF. Returns the number of non-zeros written.
    """
    n_cells, n_genes = e.shape
    factors = shared.shape[1] > 0
    nnz = 0
    for i in range(n_cells):
        start = nnz
        lab = label[i]
        row = profile_row[i]
        k = grid_index[i]
        for j in range(n_genes):
            mu = lib[i] * profile[row, j]
            if mu <= 0.0:
                continue
            z = noise_sd[lab, j] * e[i, j]
            if factors:
                z += shared[i, j]
            if k >= 0 and z <= bounds[row, k, j]:
                continue
            u = 0.5 * math.erfc(-z * _SQRT_HALF)
            zi = pi[lab, j]
            if u <= zi:
                continue
            v = (u - zi) / (1.0 - zi)
            mu /= 1.0 - zi
            d = phi[lab, j]
            if d > 0.0:
                size = 1.0 / d
                log_p0 = -size * math.log1p(mu * d)
                ratio = mu * d / (1.0 + mu * d)
            else:
                size = 0.0
                log_p0 = -mu
                ratio = 0.0
            if log_p0 < -_MAX_LOG_ZERO:
                y = math.floor(mu + math.sqrt(mu + d * mu * mu) * z + 0.5)
                if y <= 0.0:
                    continue
            else:
                p = math.exp(log_p0)
                if v <= p:
                    continue
                cdf = p
                y = 0.0
                while cdf < v:
                    y += 1.0
                    if d > 0.0:
                        p *= (y - 1.0 + size) * ratio / y
                    else:
                        p *= mu / y
                    if p == 0.0 and y > mu:
                        break
                    cdf += p
            data[nnz] = y
            indices[nnz] = j
            nnz += 1
        row_nnz[i] = nnz - start
    return nnz
