"""The label-conditional aggregate posterior of a VAE, used as its prior at generation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass
class LatentPrior:
    """The encoder's posteriors of the training cells, grouped by label.

    Sampling ``z`` from N(0, I) ignores where a label's cells actually sit in the latent space
    (the aggregate posterior is not the prior) and lands samples between cell types. Here a
    new cell of label ``l`` picks a training cell of that label at random and draws ``z`` from
    that cell's posterior N(mean, diag(var)): a draw from the label's aggregate posterior. The
    decoder and the count noise then make a new cell, not a copy. Measured on held-out PBMC
    cells, this beat a Gaussian mixture fitted per label to the same posteriors.
    """

    mean: np.ndarray  # (n_cells, n_latent)
    scale: np.ndarray  # (n_cells, n_latent)
    label: np.ndarray  # (n_cells,)

    def sample(self, label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Latent codes for cells of the given label codes."""
        z = np.empty((len(label), self.mean.shape[1]))
        for lab in np.unique(label):
            idx = np.flatnonzero(label == lab)
            pool = np.flatnonzero(self.label == lab)
            pick = pool[rng.integers(len(pool), size=len(idx))]
            z[idx] = self.mean[pick] + self.scale[pick] * rng.standard_normal(
                (len(idx), z.shape[1])
            )
        return z

    def capped(self, max_per_label: int, rng: np.random.Generator) -> LatentPrior:
        """Keep at most ``max_per_label`` cells of each label, drawn at random, in their order.

        The record then grows with the number of labels, not of training cells. A label with no
        more cells keeps all of them and draws nothing from ``rng``.
        """
        keep = []
        for lab in np.unique(self.label):
            pool = np.flatnonzero(self.label == lab)
            if len(pool) > max_per_label:
                pool = np.sort(rng.choice(pool, size=max_per_label, replace=False))
            keep.append(pool)
        keep = np.sort(np.concatenate(keep))
        return LatentPrior(self.mean[keep], self.scale[keep], self.label[keep])

    def to_record(self) -> dict:
        """Return a plain dict that :mod:`anndata` writes to h5ad."""
        return {"mean": self.mean, "scale": self.scale, "label": self.label}

    @classmethod
    def from_record(cls, record: Mapping) -> LatentPrior:
        """Inverse of :meth:`to_record`."""
        return cls(
            np.asarray(record["mean"], dtype=np.float64),
            np.asarray(record["scale"], dtype=np.float64),
            np.asarray(record["label"], dtype=np.int64),
        )
