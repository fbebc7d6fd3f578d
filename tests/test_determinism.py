"""Same seed, machine and thread count → the same weights and counts, in fresh processes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
from conftest import make_counts

import sc_synth as ss

# Two torch threads and minibatches of 128 cells × 300 genes, so that multi-threaded kernels
# run; the digest covers the weights and the generated counts of every kind of model.
_SCRIPT = """
import hashlib

import numpy as np
import scanpy as sc

import sc_synth as ss

sc.settings.n_jobs = 2
adata = ss.pp.simulate(256, 300, batch_cells=[128, 128], group_prob=[0.5, 0.5], seed=0)
options = dict(labels_key="group", batch_key="batch", max_epochs=4, batch_size=128, seed=3)
ss.tl.train_vae(adata, key_added="vae", n_hidden=32, n_latent=4, **options)
ss.tl.train_gan(adata, key_added="vanilla", loss="vanilla", n_hidden=32, n_latent=8, **options)
ss.tl.train_gan(adata, key_added="wgan", loss="wgan-gp", n_hidden=32, n_latent=8, **options)
for key in ("vae", "vanilla", "wgan"):
    digest = hashlib.sha256()
    weights = adata.uns[key]["weights"]
    for name in sorted(weights):
        digest.update(np.ascontiguousarray(weights[name]).tobytes())
    counts = ss.tl.generate(adata, key, seed=5).X
    digest.update(counts.data.tobytes() + counts.indices.tobytes() + counts.indptr.tobytes())
    print(key, digest.hexdigest())
"""


def _digests() -> str:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_same_seed_gives_the_same_weights_and_counts_in_fresh_processes():
    first, second = _digests(), _digests()
    assert first.split()[::2] == ["vae", "vanilla", "wgan"]
    assert first == second


def _counts_digest(counts) -> str:
    digest = hashlib.sha256(counts.data.astype(np.float32).tobytes())
    for index in (counts.indices, counts.indptr):
        digest.update(index.astype(np.int64).tobytes())
    return digest.hexdigest()[:16]


# Digests of the counts that the previous version drew from these records (record version 3) and from
# the models it trained on ``make_counts(120, 30)``: a new version must draw the same numbers.
_OLD_RECORDS = Path(__file__).parent / "data" / "records_v3.h5ad"
_GENERATED = {
    "vae": "9ca23639eb07a33a",
    "vae_batch": "8c4010244a99c2c0",
    "gan": "80fed6ebd6234eee",
    "vanilla": "733ab6e0f541f9b8",
}


@pytest.mark.parametrize("key", ["vae", "vae_batch", "gan"])
def test_records_of_the_previous_version_generate_the_same_counts(key):
    adata = ad.read_h5ad(_OLD_RECORDS)
    assert int(adata.uns[key]["record_version"]) == 3
    assert _counts_digest(ss.tl.generate(adata, key, seed=7).X) == _GENERATED[key]


def test_training_with_a_seed_gives_the_counts_of_the_previous_version():
    adata = make_counts(n_cells=120, n_genes=30)
    options = {"max_epochs": 3, "seed": 1}
    conditioned = {"labels_key": "cell_type", "batch_key": "batch"}
    ss.tl.train_vae(adata, **conditioned, key_added="vae", n_hidden=16, n_latent=3, **options)
    ss.tl.train_vae(
        adata, batch_key="batch", key_added="vae_batch", n_hidden=16, n_latent=3,
        gene_likelihood="zinb", **options,
    )  # fmt: skip
    ss.tl.train_gan(adata, **conditioned, key_added="gan", n_hidden=16, n_latent=4, **options)
    ss.tl.train_gan(
        adata, labels_key="cell_type", key_added="vanilla", loss="vanilla", n_hidden=16,
        n_latent=4, **options,
    )  # fmt: skip
    got = {key: _counts_digest(ss.tl.generate(adata, key, seed=7).X) for key in _GENERATED}
    assert got == _GENERATED
