import anndata as ad
import numpy as np
import pytest
from scipy import sparse

import sc_synth as ss
from sc_synth.tl import _generate


def test_default_reproduces_training_composition(trained_vae):
    out = ss.tl.generate(trained_vae)
    assert out.shape == trained_vae.shape
    assert sparse.isspmatrix_csr(out.X)
    assert np.all(out.X.data == np.rint(out.X.data))
    assert list(out.var_names) == list(trained_vae.var_names)
    got = out.obs.groupby(["cell_type", "batch"], observed=False).size()
    want = trained_vae.obs.groupby(["cell_type", "batch"], observed=False).size()
    assert got.equals(want)
    assert out.obs["synthetic"].all()
    assert out.uns["sc_synth"] == {
        "model": "vae",
        "key": "vae",
        "seed": 0,
        "sc_synth_version": ss.__version__,
    }


def test_chunks_of_cells_join_into_one_matrix_in_order(trained_vae, monkeypatch):
    whole = ss.tl.generate(trained_vae, n_cells=300)
    # a few cells per chunk: rows must come back in the order of the composition
    monkeypatch.setattr(_generate, "_CHUNK_ENTRIES", 37 * trained_vae.n_vars)
    chunked = ss.tl.generate(trained_vae, n_cells=300)
    assert chunked.X.shape == whole.X.shape
    assert chunked.obs.equals(whole.obs)
    assert sparse.isspmatrix_csr(chunked.X)
    # the draws differ with the chunking, the law does not: per-label means agree
    for label in whole.obs["cell_type"].cat.categories:
        rows = (whole.obs["cell_type"] == label).to_numpy()
        a = np.asarray(whole.X[rows].mean(0)).ravel()
        b = np.asarray(chunked.X[rows].mean(0)).ravel()
        high = a > 5
        assert np.median(np.abs(np.log(b[high] / a[high]))) < 0.15


def test_chunks_gathered_give_the_matrix_of_one_chunk(trained_vae, monkeypatch):
    # 37 cells per draw unit: by default each unit is a chunk, gathered into the result; with
    # chunk_size=300 the units are stacked into a single chunk, which is the result as it is
    monkeypatch.setattr(_generate, "_CHUNK_ENTRIES", 37 * trained_vae.n_vars)
    gathered = ss.tl.generate(trained_vae, n_cells=300, seed=5).X
    single = ss.tl.generate(trained_vae, n_cells=300, seed=5, chunk_size=300).X
    for x in (gathered, single):
        assert sparse.isspmatrix_csr(x)
        assert x.dtype == np.float32
        assert x.shape == (300, trained_vae.n_vars)
    for a, b in [(gathered.data, single.data), (gathered.indices, single.indices)]:
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(gathered.indptr, single.indptr)
    assert gathered.indptr.dtype == single.indptr.dtype


def test_n_cells_scales_composition(trained_vae):
    out = ss.tl.generate(trained_vae, n_cells=61)
    assert out.n_obs == 61
    shares = out.obs["cell_type"].value_counts(normalize=True)
    assert np.allclose(shares.to_numpy(), 1 / 3, atol=0.02)


def test_groups_per_label_and_per_pair(trained_vae):
    out = ss.tl.generate(trained_vae, groups={"type_2": 40, "type_0": 5})
    assert out.obs["cell_type"].value_counts().to_dict() == {"type_0": 5, "type_1": 0, "type_2": 40}
    out = ss.tl.generate(trained_vae, groups={("type_1", "batch_0"): 7})
    assert out.n_obs == 7
    assert (out.obs["batch"] == "batch_0").all()
    assert (out.obs["cell_type"] == "type_1").all()


def test_same_seed_same_counts_different_seed_different(trained_vae):
    a = ss.tl.generate(trained_vae, seed=5)
    b = ss.tl.generate(trained_vae, seed=5)
    c = ss.tl.generate(trained_vae, seed=6)
    assert (a.X != b.X).nnz == 0
    assert (a.X != c.X).nnz > 0


def test_h5ad_round_trip_gives_identical_counts(trained_vae, tmp_path):
    path = tmp_path / "trained.h5ad"
    trained_vae.write_h5ad(path)
    back = ad.read_h5ad(path)
    a = ss.tl.generate(trained_vae, seed=2)
    b = ss.tl.generate(back, seed=2)
    assert (a.X != b.X).nnz == 0


def test_generated_cells_are_new_not_copies(trained_vae):
    out = ss.tl.generate(trained_vae, seed=1)
    real = trained_vae.X.toarray()
    fake = out.X.toarray()
    copies = (fake[:, None, :] == real[None, :, :]).all(-1).any(1)
    assert not copies.any()


def test_conditional_generation_moves_toward_label_markers(trained_vae):
    out = ss.tl.generate(trained_vae, groups={"type_0": 100, "type_2": 100}, seed=3)
    frac = out.X.toarray() / np.asarray(out.X.sum(1))
    is0 = (out.obs["cell_type"] == "type_0").to_numpy()
    markers0, markers2 = slice(0, 5), slice(10, 15)
    assert frac[is0, markers0].mean() > 2 * frac[~is0, markers0].mean()
    assert frac[~is0, markers2].mean() > 2 * frac[is0, markers2].mean()


def test_library_sizes_follow_training_not_a_constant(trained_vae):
    out = ss.tl.generate(trained_vae, n_cells=300, seed=4)
    lib = np.asarray(out.X.sum(1)).ravel()
    real = np.asarray(trained_vae.X.sum(1)).ravel()
    assert np.std(np.log(lib)) > 0.5 * np.std(np.log(real))
    assert abs(np.median(lib) / np.median(real) - 1) < 0.2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"key": "gan"}, KeyError, r"key='gan'.*\['vae'\]"),
        ({"groups": {"type_9": 3}}, KeyError, "Unknown label 'type_9'"),
        ({"groups": {("type_0", "batch_7"): 3}}, KeyError, "Unknown batch 'batch_7'"),
        ({"n_cells": 0}, ValueError, "n_cells"),
        ({"n_cells": 5, "groups": {"type_0": 1}}, ValueError, "not both"),
        ({"groups": ["type_0"]}, TypeError, "groups"),
    ],
)
def test_bad_requests(trained_vae, kwargs, error, match):
    with pytest.raises(error, match=match):
        ss.tl.generate(trained_vae, **kwargs)


def test_corrupted_or_foreign_records_are_refused(trained_vae):
    adata = trained_vae.copy()
    record = dict(adata.uns["vae"])
    adata.uns["partial"] = {k: v for k, v in record.items() if k != "weights"}
    with pytest.raises(ValueError, match=r"missing \['weights'\]"):
        ss.tl.generate(adata, key="partial")
    adata.uns["foreign"] = {**record, "kind": "diffusion"}
    with pytest.raises(ValueError, match="kind 'diffusion'"):
        ss.tl.generate(adata, key="foreign")
    adata.uns["newer"] = {**record, "record_version": 99}
    with pytest.raises(ValueError, match="Upgrade sc_synth"):
        ss.tl.generate(adata, key="newer")
    adata.uns["older"] = {**record, "record_version": 1}
    with pytest.raises(ValueError, match="Train the model again"):
        ss.tl.generate(adata, key="older")
    weights = dict(record["weights"])
    weights.pop(next(iter(weights)))
    adata.uns["broken"] = {**record, "weights": weights}
    with pytest.raises(ValueError, match="do not fit"):
        ss.tl.generate(adata, key="broken")
