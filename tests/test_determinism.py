"""Same seed, machine and thread count → the same weights and counts, in fresh processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
