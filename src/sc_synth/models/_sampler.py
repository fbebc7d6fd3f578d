"""From a record to the object that draws counts for the model kind it holds."""

from __future__ import annotations

import inspect
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


def load_sampler(record: Mapping, **options) -> Sampler:
    """Rebuild the model held in ``record`` (already checked by ``read_record``).

    ``options`` are sampling settings, such as a flow's ``guidance``, of samplers that take them.
    """
    kind = str(record["kind"])
    sampler = _registry.sampler_class(kind)
    unknown = sorted(set(options) - set(inspect.signature(sampler).parameters))
    if unknown:
        raise TypeError(
            f"Sampling options {unknown} do not apply to models of kind {kind!r}; they apply "
            f"to kinds whose sampler takes them (guidance and n_steps: flow)."
        )
    return sampler(record, **options)
