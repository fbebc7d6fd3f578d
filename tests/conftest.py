"""Shared fixtures: small AnnData objects of integer counts, built in-process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse


def make_counts(
    n_cells: int = 240,
    n_genes: int = 60,
    n_labels: int = 3,
    n_batches: int = 2,
    seed: int = 0,
    markers_per_label: int = 5,
) -> AnnData:
    """Negative-binomial counts with marker genes per label and a mild effect per batch.

    Label ``i`` raises genes ``i * markers_per_label`` to ``(i + 1) * markers_per_label - 1``
    eight-fold, so tests can check that label-conditional output moves toward those genes.
    """
    rng = np.random.default_rng(seed)
    labels = np.array([f"type_{i}" for i in range(n_labels)])[np.arange(n_cells) % n_labels]
    batches = np.array([f"batch_{i}" for i in range(n_batches)])[
        rng.permutation(np.arange(n_cells) % n_batches)
    ]
    base = rng.gamma(0.8, 1.0, n_genes) + 0.05
    label_fac = np.ones((n_labels, n_genes))
    for i in range(n_labels):
        label_fac[i, i * markers_per_label : (i + 1) * markers_per_label] = 8.0
    batch_fac = rng.lognormal(0.0, 0.2, (n_batches, n_genes))
    li = np.searchsorted(np.unique(labels), labels)
    bi = np.searchsorted(np.unique(batches), batches)
    profile = base * label_fac[li] * batch_fac[bi]
    profile /= profile.sum(1, keepdims=True)
    lib = rng.lognormal(np.log(600.0), 0.3, n_cells)
    mu = profile * lib[:, None]
    dispersion = 5.0
    counts = rng.poisson(rng.gamma(dispersion, mu / dispersion))
    obs = pd.DataFrame(
        {"cell_type": pd.Categorical(labels), "batch": pd.Categorical(batches)},
        index=[f"cell_{i}" for i in range(n_cells)],
    )
    var = pd.DataFrame(index=[f"gene_{j}" for j in range(n_genes)])
    return AnnData(X=sparse.csr_matrix(counts.astype(np.float32)), obs=obs, var=var)


@pytest.fixture
def counts_adata() -> AnnData:
    """240 cells × 60 genes, labels ``cell_type`` (3 types) and ``batch`` (2 batches), sparse counts."""
    return make_counts()


@pytest.fixture
def dense_counts_adata() -> AnnData:
    """The same data as ``counts_adata`` with a dense ``X`` and a copy in ``layers["counts"]``."""
    adata = make_counts()
    adata.X = adata.X.toarray()
    adata.layers["counts"] = adata.X.copy()
    return adata


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def trained_vae() -> AnnData:
    """``make_counts()`` with a small VAE trained on it under ``uns["vae"]``; do not modify."""
    from sc_synth.tl import train_vae

    adata = make_counts()
    train_vae(
        adata,
        labels_key="cell_type",
        batch_key="batch",
        max_epochs=40,
        batch_size=32,
        n_hidden=32,
        n_latent=4,
        enable_progress_bar=False,
    )
    return adata
