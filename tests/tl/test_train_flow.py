import anndata as ad
import numpy as np
import pytest
from conftest import make_counts
from lightning.pytorch.callbacks import Callback

import sc_synth as ss

_FAST = {
    "autoencoder_epochs": 2,
    "max_epochs": 2,
    "n_hidden": 16,
    "n_latent": 3,
    "flow_n_hidden": 16,
    "flow_n_layers": 1,
    "enable_progress_bar": False,
}


def _train(adata, **kwargs):
    ss.tl.train_flow(adata, **{**_FAST, **kwargs})


@pytest.fixture(scope="module")
def trained():
    adata = make_counts()
    _train(adata, labels_key="cell_type", batch_key="batch")
    return adata


def test_record_holds_what_sampling_needs_and_no_training_codes(trained):
    record = trained.uns["flow"]
    assert record["kind"] == "flow"
    for field in ("sampling", "conditions", "mean_factor", "dispersion", "weights"):
        assert field in record
    assert record["sampling"] == {"guidance": 1.0, "n_steps": 2}
    assert "latent_prior" not in record
    assert any(k.startswith("autoencoder.") for k in record["weights"])
    assert any(k.startswith("velocity.") for k in record["weights"])
    assert len(record["history"]["reconstruction_loss_train"]) == 2
    assert len(record["autoencoder_history"]["elbo_train"]) == 2

    def arrays(tree):
        for value in tree.values():
            yield from arrays(value) if isinstance(value, dict) else [np.asarray(value)]

    # No array has a row per training cell.
    assert all(a.ndim == 0 or a.shape[0] != trained.n_obs for a in arrays(record))


def test_both_stages_take_the_callbacks_with_a_progress_bar():
    adata = make_counts()
    seen = []

    class Count(Callback):
        def on_train_start(self, trainer, pl_module):
            seen.append(type(pl_module.module).__name__)

    callbacks = [Count()]
    _train(adata, labels_key="cell_type", callbacks=callbacks, enable_progress_bar=True)
    assert seen == ["VAE", "FlowModule"]
    assert len(callbacks) == 1


def test_same_seed_same_counts_through_h5ad(trained, tmp_path):
    first = ss.tl.generate(trained, "flow", seed=3)
    assert first.n_obs == trained.n_obs
    assert (first.X != ss.tl.generate(trained, "flow", seed=3).X).nnz == 0
    assert (first.X != ss.tl.generate(trained, "flow", seed=4).X).nnz > 0
    trained.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    assert (first.X != ss.tl.generate(back, "flow", seed=3).X).nnz == 0


def test_guidance_and_steps_change_the_cells(trained):
    groups = {"type_0": 50}
    plain = ss.tl.generate(trained, "flow", groups=groups, seed=0)
    assert (
        plain.X != ss.tl.generate(trained, "flow", groups=groups, seed=0, guidance=1).X
    ).nnz == 0
    for options in ({"guidance": 3.0}, {"n_steps": 1}):
        other = ss.tl.generate(trained, "flow", groups=groups, seed=0, **options)
        assert (plain.X != other.X).nnz > 0


def test_a_zero_inflated_autoencoder_drops_counts_to_zero():
    adata = make_counts()
    _train(adata, labels_key="cell_type", gene_likelihood="zinb")
    record = adata.uns["flow"]
    assert record["init_params"]["autoencoder"]["gene_likelihood"] == "zinb"
    out = ss.tl.generate(adata, "flow", seed=1)
    assert out.n_obs == adata.n_obs
    # Dropped counts leave the sparse matrix rather than stay as stored zeros.
    assert (out.X.data > 0).all()
    np.testing.assert_array_equal(out.X.data, np.round(out.X.data))
    assert (out.X != ss.tl.generate(adata, "flow", seed=1).X).nnz == 0


def test_sampling_options_are_checked_before_generation(trained):
    with pytest.raises(ValueError, match="guidance"):
        ss.tl.generate(trained, "flow", guidance=-1.0)
    with pytest.raises(ValueError, match="n_steps"):
        ss.tl.generate(trained, "flow", n_steps=0)
    trained.uns["not_flow"] = {**trained.uns["flow"], "kind": "gan"}
    try:
        with pytest.raises(TypeError, match="do not apply to models of kind 'gan'"):
            ss.tl.generate(trained, "not_flow", guidance=2.0)
    finally:
        del trained.uns["not_flow"]


def test_a_label_is_generated_in_a_batch_it_had_no_cells_in():
    adata = make_counts()
    unseen = (adata.obs["cell_type"] == "type_1") & (adata.obs["batch"] == "batch_1")
    train = adata[~unseen.to_numpy()].copy()
    _train(train, labels_key="cell_type", batch_key="batch")
    record = train.uns["flow"]
    assert record["conditions"]["n_cells"][1, 1] == 0
    out = ss.tl.generate(train, "flow", groups={("type_1", "batch_1"): 40}, seed=0)
    assert out.n_obs == 40
    assert set(out.obs["batch"]) == {"batch_1"}
    assert set(out.obs["cell_type"]) == {"type_1"}
    # The VAE, which replays training codes, refuses the same request.
    ss.tl.train_vae(train, labels_key="cell_type", batch_key="batch", max_epochs=1, n_hidden=8)
    with pytest.raises(ValueError, match="saw no cells of this label in this batch"):
        ss.tl.generate(train, "vae", groups={("type_1", "batch_1"): 40})


def test_vae_key_reuses_the_autoencoder():
    adata = make_counts()
    ss.tl.train_vae(adata, labels_key="cell_type", batch_key="batch", max_epochs=2, n_hidden=8)
    ss.tl.train_flow(
        adata, labels_key="cell_type", batch_key="batch", vae_key="vae", max_epochs=2,
        flow_n_hidden=16, enable_progress_bar=False,
    )  # fmt: skip
    weights, trained = adata.uns["flow"]["weights"], adata.uns["vae"]["weights"]
    assert all(np.array_equal(weights[f"autoencoder.{k}"], trained[k]) for k in trained)
    assert not adata.uns["flow"]["autoencoder_history"]
    assert ss.tl.generate(adata, "flow", groups={"type_2": 10}).n_obs == 10


@pytest.mark.parametrize(
    ("setup", "kwargs", "error", "match"),
    [
        (None, {"labels_key": "nope"}, KeyError, "labels_key='nope'"),
        (None, {"batch_key": "nope"}, KeyError, "batch_key='nope'"),
        (None, {"guidance": -1.0}, ValueError, "guidance"),
        (None, {"p_uncond": 1.0}, ValueError, "p_uncond"),
        (None, {"flow_n_hiden": 8}, TypeError, "flow_n_hiden"),
        (None, {"vae_key": "missing"}, KeyError, "key='missing'"),
        ("wrong_kind", {"vae_key": "other"}, ValueError, "kind 'gan'"),
        ("other_genes", {"vae_key": "other"}, ValueError, "other genes"),
        ("other_labels", {"vae_key": "other"}, ValueError, "trained with labels"),
        ("vae", {"vae_key": "other", "n_latent": 4}, TypeError, "do not apply with `vae_key`"),
        ("vae", {"vae_key": "other", "autoencoder_epochs": 4}, TypeError, "autoencoder_epochs"),
    ],
)
def test_bad_input_fails_before_training_and_changes_nothing(setup, kwargs, error, match):
    adata = make_counts()
    if setup is not None:
        source = make_counts()
        if setup == "other_genes":
            source = source[:, :40].copy()
        if setup == "other_labels":
            source.obs["cell_type"] = source.obs["cell_type"].cat.rename_categories(list("abc"))
        ss.tl.train_vae(source, labels_key="cell_type", batch_key="batch", max_epochs=1, n_hidden=8)
        adata.uns["other"] = dict(source.uns["vae"])
        if setup == "wrong_kind":
            adata.uns["other"]["kind"] = "gan"
    before = set(adata.uns)
    options = {"labels_key": "cell_type", "batch_key": "batch", "max_epochs": 1, **kwargs}
    with pytest.raises(error, match=match):
        ss.tl.train_flow(adata, **options)
    assert set(adata.uns) == before
    assert list(adata.obs.columns) == ["cell_type", "batch"]


@pytest.mark.parametrize(
    ("corrupt", "match"),
    [
        (lambda x: x.data.__setitem__(0, np.nan), "NaN"),
        (lambda x: x.data.__setitem__(0, 0.5), "non-integer"),
    ],
)
def test_non_counts_are_refused(corrupt, match):
    adata = make_counts()
    corrupt(adata.X)
    with pytest.raises(ValueError, match=match):
        _train(adata)
    assert "flow" not in adata.uns


def test_single_cell_labels_and_unknown_groups_are_refused(trained):
    adata = make_counts()
    adata.obs["cell_type"] = adata.obs["cell_type"].cat.add_categories("lonely")
    adata.obs.iloc[0, adata.obs.columns.get_loc("cell_type")] = "lonely"
    with pytest.raises(ValueError, match=r"\['lonely'\] have fewer than 2 cells"):
        _train(adata, labels_key="cell_type")
    with pytest.raises(KeyError, match="Unknown label 'type_9'"):
        ss.tl.generate(trained, "flow", groups={"type_9": 5})


def test_corrupted_record_is_refused(trained):
    broken = ad.AnnData(uns={"flow": {**trained.uns["flow"]}})
    del broken.uns["flow"]["sampling"]
    with pytest.raises(ValueError, match="lacks"):
        ss.tl.generate(broken, "flow")
    broken.uns["flow"] = {**trained.uns["flow"], "weights": {"bad": np.zeros(2)}}
    with pytest.raises(ValueError, match="do not fit"):
        ss.tl.generate(broken, "flow")


@pytest.mark.slow
def test_unseen_label_and_batch_match_their_held_out_cells():
    """Simulated 2 batches × 3 groups with one pair held out: generated cells of that pair must
    sit among its true cells, where the same label's real cells from the other batch do not."""
    sim = ss.pp.simulate(
        n_cells=1800, n_genes=200, batch_cells=[900, 900], group_prob=[1 / 3] * 3, seed=0
    )
    hold = ((sim.obs["group"] == "Group2") & (sim.obs["batch"] == "Batch2")).to_numpy()
    train, test = sim[~hold].copy(), sim[hold].copy()
    ss.tl.train_flow(train, labels_key="group", batch_key="batch", autoencoder_epochs=200)
    made = ss.tl.generate(train, "flow", groups={("Group2", "Batch2"): int(hold.sum())})
    other_batch = train[(train.obs["group"] == "Group2").to_numpy()].copy()
    table = ss.tl.evaluate(
        test, {"flow": made, "other batch": other_batch}, metrics=["precision_recall"]
    )
    assert table.loc["other batch", "precision"] < 0.1
    assert table.loc["flow", "precision"] > 0.5
    assert table.loc["flow", "recall"] > 0.4
