"""The ground truth a simulation in the image of a reference records, read off its parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._reference import ReferenceParams


def truth_var(params: ReferenceParams) -> pd.DataFrame:
    """Per-gene truth: the base profile at the mean library size, DE and batch factors."""
    mean_lib = float((params.batch_prob * mean_library(params)).sum(axis=1) @ params.group_prob)
    columns = {"base_gene_mean": params.base_profile * mean_lib}
    with np.errstate(divide="ignore", invalid="ignore"):
        for g, name in enumerate(params.labels):
            columns[f"de_fac_{name}"] = np.where(
                params.base_profile > 0, params.profile[g] / params.base_profile, 1.0
            )
    for b, name in enumerate(params.batches):
        columns[f"batch_fac_{name}"] = params.batch_factor[b]
    return pd.DataFrame(columns, index=pd.Index(params.gene_names))


def mean_library(params: ReferenceParams) -> np.ndarray:
    """``(L, B)`` mean library size of the distribution the quantiles interpolate."""
    q = np.exp(params.log_lib_quantiles)
    # piecewise log-linear between quantiles: the mean of each piece is its logarithmic mean
    low, high = q[..., :-1], q[..., 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        piece = np.where(high > low, (high - low) / np.log(high / low), low)
    return piece.mean(axis=-1)


def truth_varm(params: ReferenceParams) -> dict[str, np.ndarray]:
    """Genes × labels marginal parameters (columns in the order of ``params.labels``)."""
    label_lib = (params.batch_prob * mean_library(params)).sum(axis=1)
    return {
        "mean": (params.profile * label_lib[:, None]).T,
        "dispersion": params.dispersion.T,
        "zero_inflation": params.zero_inflation.T,
    }
