"""From a record to the object that draws counts for the model kind it holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
from scipy import sparse

from . import _registry


class Sampler(Protocol):
    """Draws integer counts for cells of given label/batch codes and library sizes."""

    def sample(
        self, label: np.ndarray, batch: np.ndarray, library: np.ndarray, rng: np.random.Generator
    ) -> sparse.csr_matrix:
        """Cells × genes integer counts (``float32``)."""


def load_sampler(record: Mapping) -> Sampler:
    """Rebuild the model held in ``record`` (already checked by ``read_record``)."""
    return _registry.sampler_class(str(record["kind"]))(record)
