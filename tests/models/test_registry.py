import subprocess
import sys

import anndata as ad
import numpy as np
import pytest
from conftest import make_counts
from scipy import sparse

import sc_synth as ss
from sc_synth import cli
from sc_synth._study import Settings, run_study
from sc_synth.models import _registry
from sc_synth.models._conditions import Conditions
from sc_synth.models._record import base_record


class PoissonSampler:
    """Poisson counts around the per-label mean profile stored in the record."""

    def __init__(self, record):
        means = np.asarray(record["weights"]["means"], dtype=np.float64)
        self.profile = means / means.sum(axis=1, keepdims=True)

    def sample(self, label, batch, library, rng):
        counts = rng.poisson(self.profile[label] * library[:, None])
        return sparse.csr_matrix(counts.astype(np.float32))


def train_poisson(adata, *, labels_key, batch_key=None, key_added="poisson", pseudocount, **_):
    """Per-label mean counts; the study's training arguments (epochs, callbacks) do not apply."""
    library = np.asarray(adata.X.sum(axis=1), dtype=np.float64).ravel()
    conditions = Conditions.fit(adata, library, labels_key, batch_key)
    label, _ = conditions.codes(adata)
    X = sparse.csr_matrix(adata.X)
    means = np.stack(
        [
            np.asarray(X[label == code].mean(axis=0)).ravel()
            for code in range(len(conditions.labels))
        ]
    )
    record = base_record("poisson")
    record.update(
        init_params={"pseudocount": pseudocount},
        setup={"layer": "", "var_names": np.asarray(adata.var_names, dtype=object)},
        conditions=conditions.to_record(),
        weights={"means": means + pseudocount},
    )
    adata.uns[key_added] = record


@pytest.fixture
def poisson():
    """A dummy generator kind, registered for one test."""
    kind = _registry.register(
        _registry.GeneratorKind(
            "poisson",
            record_kind="poisson",
            trainer=train_poisson,
            sampler=PoissonSampler,
            options={"pseudocount": 0.01},
            title="Poisson",
            aliases=("pois",),
        )
    )
    try:
        yield kind
    finally:
        _registry.unregister("poisson")


@pytest.fixture
def trained(poisson):
    adata = make_counts()
    poisson.train(adata, labels_key="cell_type", batch_key="batch", key_added="poisson")
    return adata


def test_builtin_generators_and_their_names():
    assert _registry.names() == ["vae", "vanilla-gan", "wgan-gp", "flow"]
    assert _registry.record_kinds() == ["flow", "gan", "vae"]
    assert _registry.get("gan") is _registry.get("wgan-gp")
    assert dict(_registry.get("vanilla-gan").options) == {"loss": "vanilla"}
    assert [kind.name for kind in _registry.kinds() if kind.default] == ["vae", "wgan-gp"]
    with pytest.raises(KeyError, match=r"'diffusion'; generators: \['vae', 'vanilla-gan'"):
        _registry.get("diffusion")


def test_registered_kind_generates_through_tl(trained):
    out = ss.tl.generate(trained, "poisson", n_cells=600, seed=3)
    assert out.uns["sc_synth"]["model"] == "poisson"
    assert list(out.var_names) == list(trained.var_names)
    assert sparse.isspmatrix_csr(out.X)
    for label in trained.obs["cell_type"].cat.categories:
        real = np.asarray(trained[trained.obs["cell_type"] == label].X.mean(axis=0)).ravel()
        synthetic = np.asarray(out[out.obs["cell_type"] == label].X.mean(axis=0)).ravel()
        high = real > 5
        assert np.median(np.abs(np.log(synthetic[high] / real[high]))) < 0.15
    again = ss.tl.generate(trained, "poisson", n_cells=600, seed=3)
    assert (again.X != out.X).nnz == 0


def test_registered_kind_record_survives_h5ad(trained, tmp_path):
    trained.write_h5ad(tmp_path / "poisson.h5ad")
    back = ad.read_h5ad(tmp_path / "poisson.h5ad")
    a = ss.tl.generate(trained, "poisson", n_cells=50)
    b = ss.tl.generate(back, "poisson", n_cells=50)
    assert (a.X != b.X).nnz == 0


def test_registered_kind_augments(trained):
    is1 = (trained.obs["cell_type"] == "type_1").to_numpy()
    rare = trained[~is1 | (np.cumsum(is1) <= 10)].copy()
    out = ss.tl.augment(rare, key="poisson", target=60)
    assert out.uns["sc_synth"]["model"] == "poisson"
    assert out.uns["sc_synth"]["added"] == {"type_1": 50}
    assert out.obs["cell_type"].value_counts()["type_1"] == 60
    assert out.obs["synthetic"].sum() == 50


def test_registered_kind_is_a_study_and_command_line_choice(poisson, capsys):
    assert _registry.get("pois") is poisson
    assert Settings.make(quick=True).max_epochs(poisson) is None
    assert Settings.make(quick=True).max_epochs(_registry.get("gan")) == 150
    argv = ["run", "x.h5ad", "--labels", "t", "--out", "o", "--models", "pois", "vae"]
    assert cli._parser().parse_args(argv).models == ["pois", "vae"]
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    described = " ".join(capsys.readouterr().out.split())
    assert "the WGAN-GP, the flow matching model and the Poisson on one half" in described


@pytest.mark.slow
def test_study_trains_a_registered_kind_under_its_name(poisson, tmp_path):
    adata = make_counts()
    table = run_study(
        adata,
        labels_key="cell_type",
        batch_key="batch",
        models=["pois", "poisson"],
        out=tmp_path,
        settings=Settings.make(quick=True),
    )
    assert "poisson" in table.index
    assert "pois" not in table.index
    assert ad.read_h5ad(tmp_path / "synthetic_poisson.h5ad").uns["sc_synth"]["model"] == "poisson"


def test_record_of_an_unregistered_kind_is_refused_naming_the_known_kinds():
    adata = make_counts()
    train_poisson(adata, labels_key="cell_type", pseudocount=0.0)
    with pytest.raises(ValueError, match=r"kind 'poisson'; known kinds: \['flow', 'gan', 'vae'\]"):
        ss.tl.generate(adata, "poisson")


def test_names_and_samplers_cannot_clash(poisson):
    with pytest.raises(ValueError, match=r"\['pois'\] are already taken"):
        _registry.register(
            _registry.GeneratorKind(
                "other", "other", train_poisson, PoissonSampler, aliases=("pois",)
            )
        )
    with pytest.raises(ValueError, match="share its sampler"):
        _registry.register(_registry.GeneratorKind("other", "poisson", train_poisson, dict))
    assert "other" not in _registry.names()


def test_registry_loads_without_torch():
    script = "import sys; from sc_synth.models import _registry; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.split() == ["False"], result.stderr
