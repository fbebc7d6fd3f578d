"""A label-conditional Gaussian-mixture prior fitted to a VAE's aggregate posterior."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.mixture import GaussianMixture


@dataclass
class LatentPrior:
    """One Gaussian mixture over the latent space per label.

    Sampling ``z`` from N(0, I) ignores where a label's cells actually sit in the latent space
    (the aggregate posterior is not the prior), which makes samples land between cell types; a
    mixture fitted to draws from the encoder's posteriors of each label's cells does not.
    Components a label does not use have weight 0.
    """

    weights: np.ndarray  # (n_labels, n_components)
    means: np.ndarray  # (n_labels, n_components, n_latent)
    chol: np.ndarray  # (n_labels, n_components, n_latent, n_latent), lower Cholesky factors

    @classmethod
    def fit(
        cls,
        qz_mean: np.ndarray,
        qz_var: np.ndarray,
        label: np.ndarray,
        n_labels: int,
        *,
        max_components: int = 8,
        draws_per_cell: int = 3,
        seed: int = 0,
    ) -> LatentPrior:
        """Fit a mixture per label to ``draws_per_cell`` samples of each cell's posterior."""
        rng = np.random.default_rng(seed)
        n_latent = qz_mean.shape[1]
        weights = np.zeros((n_labels, max_components))
        means = np.zeros((n_labels, max_components, n_latent))
        chol = np.tile(np.eye(n_latent), (n_labels, max_components, 1, 1))
        for lab in range(n_labels):
            m, v = qz_mean[label == lab], qz_var[label == lab]
            z = np.concatenate(
                [m + np.sqrt(v) * rng.standard_normal(m.shape) for _ in range(draws_per_cell)]
            )
            # About 20 cells per component keeps full covariances well conditioned.
            k = int(np.clip(len(m) // 20, 1, max_components))
            gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, random_state=seed)
            gmm.fit(z)
            weights[lab, :k] = gmm.weights_
            means[lab, :k] = gmm.means_
            chol[lab, :k] = np.linalg.cholesky(gmm.covariances_)
        return cls(weights, means, chol)

    def sample(self, label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Latent codes for cells of the given label codes."""
        n_latent = self.means.shape[2]
        z = np.empty((len(label), n_latent))
        for lab in np.unique(label):
            idx = np.flatnonzero(label == lab)
            comp = rng.choice(self.weights.shape[1], size=len(idx), p=self.weights[lab])
            eps = rng.standard_normal((len(idx), n_latent))
            z[idx] = self.means[lab, comp] + np.einsum("nij,nj->ni", self.chol[lab, comp], eps)
        return z

    def to_record(self) -> dict:
        """Return a plain dict that :mod:`anndata` writes to h5ad."""
        return {"weights": self.weights, "means": self.means, "chol": self.chol}

    @classmethod
    def from_record(cls, record: Mapping) -> LatentPrior:
        """Inverse of :meth:`to_record`."""
        return cls(*(np.asarray(record[k], dtype=np.float64) for k in ("weights", "means", "chol")))
