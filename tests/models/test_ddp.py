"""Distributed data-parallel training on CPU: two processes over gloo, as several GPUs would run.

Lightning's ``ddp`` strategy starts the other processes by running the launching script again,
so training runs in a script of its own, not in pytest's process (as scvi-tools tests it).
"""

import subprocess
import sys

import anndata as ad
import numpy as np
import pytest
from conftest import make_counts
from scipy import sparse

import sc_synth as ss

_SCRIPT = """
import sys

import anndata as ad
import torch

import sc_synth as ss

kind, strategy, source, target = sys.argv[1:]
adata = ad.read_h5ad(source)
train = {"vae": ss.tl.train_vae, "gan": ss.tl.train_gan, "flow": ss.tl.train_flow}[kind]
# The flow's autoencoder keeps its own latent size.
options = {} if kind == "flow" else {"n_latent": 4}
if kind == "gan":
    # The GAN's default length, a number of generator steps, here 4 (each process runs this).
    from sc_synth.models.gan import _model

    _model.DEFAULT_GENERATOR_STEPS = 4
else:
    options["max_epochs"] = 3
train(
    adata,
    labels_key="cell_type",
    batch_key="batch",
    batch_size=32,
    n_hidden=16,
    **options,
    accelerator="cpu",
    devices=2,
    strategy=strategy,
    seed=0,
)
assert torch.distributed.get_world_size() == 2
# Every process holds the trained model; one writes it.
if torch.distributed.get_rank() == 0:
    adata.write_h5ad(target)
torch.distributed.destroy_process_group()
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["vae", "gan", "flow"])
def test_two_cpu_processes_train_a_model_that_generates(tmp_path, kind):
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    source, target = tmp_path / "counts.h5ad", tmp_path / "trained.h5ad"
    make_counts(n_cells=160, n_genes=30).write_h5ad(source)

    done = subprocess.run(
        # Some parameters take no part in some steps (scvi's library encoder with observed
        # library sizes, the generator in critic-only steps): DDP must look for them, as in
        # scvi-tools' own tests.
        [
            sys.executable,
            str(script),
            kind,
            "ddp_find_unused_parameters_true",
            str(source),
            str(target),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    trained = ad.read_h5ad(target)
    record = trained.uns[kind]
    assert record["kind"] == kind
    if kind == "gan":
        # As many generator steps as on one device, each on a minibatch per process (80 cells
        # each: 3 minibatches an epoch), where epochs counted for one device would give half.
        assert record["plan_params"]["generator_steps"] == 4
        assert record["plan_params"]["critic_steps"] == 20
    else:
        # One entry per epoch trained.
        assert max(len(np.ravel(values)) for values in record["history"].values()) == 3
    out = ss.tl.generate(trained, kind, n_cells=50, seed=1)
    assert out.shape == (50, 30)
    assert sparse.isspmatrix_csr(out.X)
    assert out.X.sum() > 0
    again = ss.tl.generate(trained, kind, n_cells=50, seed=1)
    assert (out.X != again.X).nnz == 0
