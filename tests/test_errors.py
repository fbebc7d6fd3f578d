"""One error type per kind of mistake at every public entry point, naming the argument.

As anndata and scanpy: a missing layer or ``obs`` column raises :class:`KeyError`, a value out
of range :class:`ValueError`, an argument of the wrong type :class:`TypeError`.
"""

import matplotlib
import pytest
from conftest import make_counts

import sc_synth as ss

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def pair():
    cells = make_counts(n_cells=120, seed=0)
    return cells[:60].copy(), cells[60:].copy()


MISSING_LAYER = {
    "tl.evaluate layer": lambda r, s: ss.tl.evaluate(r, s, layer="missing"),
    "tl.evaluate synthetic_layer": lambda r, s: ss.tl.evaluate(r, s, synthetic_layer="missing"),
    "tl.embedding layer": lambda r, s: ss.tl.embedding(r, s, basis="pca", layer="missing"),
    "tl.embedding synthetic_layer": (
        lambda r, s: ss.tl.embedding(r, s, basis="pca", synthetic_layer="missing")
    ),
    "tl.de_fold_changes layer": (
        lambda r, s: ss.tl.de_fold_changes(r, s, groupby="cell_type", layer="missing")
    ),
    "tl.gene_correlations synthetic_layer": (
        lambda r, s: ss.tl.gene_correlations(r, s, synthetic_layer="missing")
    ),
    "pp.estimate_params layer": lambda r, s: ss.pp.estimate_params(r, layer="missing"),
    "pp.simulate layer": lambda r, s: ss.pp.simulate(50, reference=r, layer="missing"),
    "pp.simulate layer labelled": (
        lambda r, s: ss.pp.simulate(50, reference=r, layer="missing", labels_key="cell_type")
    ),
    "tl.train_vae layer": lambda r, s: ss.tl.train_vae(r, layer="missing"),
    "tl.train_gan layer": lambda r, s: ss.tl.train_gan(r, layer="missing"),
}

MISSING_OBS_KEY = {
    "tl.evaluate groupby": lambda r, s: ss.tl.evaluate(r, s, groupby="missing"),
    "tl.evaluate batch_key": lambda r, s: ss.tl.evaluate(r, s, batch_key="missing"),
    "tl.embedding keys": lambda r, s: ss.tl.embedding(r, s, keys="missing", basis="pca"),
    "tl.de_fold_changes groupby": lambda r, s: ss.tl.de_fold_changes(r, s, groupby="missing"),
    "tl.gene_correlations groupby": (
        lambda r, s: ss.tl.gene_correlations(r, s, groupby="missing", group="type_0")
    ),
    "pp.estimate_params labels_key": lambda r, s: ss.pp.estimate_params(r, labels_key="missing"),
    "tl.train_vae labels_key": lambda r, s: ss.tl.train_vae(r, labels_key="missing"),
    "tl.train_gan batch_key": lambda r, s: ss.tl.train_gan(r, batch_key="missing"),
}

# the fragment of the message that names the argument, and the call
BAD_VALUE = {
    "k must": lambda r, s: ss.tl.evaluate(r, s, k=0),
    "n_repeats must": lambda r, s: ss.tl.evaluate(r, s, n_repeats=0),
    "unknown metrics": lambda r, s: ss.tl.evaluate(r, s, metrics="fid"),
    "basis must": lambda r, s: ss.tl.embedding(r, s, basis="tsne"),
    "n_genes must": lambda r, s: ss.tl.gene_correlations(r, s, n_genes=1),
    "groups ['nope']": (
        lambda r, s: ss.tl.de_fold_changes(r, s, groupby="cell_type", groups=["nope"])
    ),
}

WRONG_TYPE = {
    "synthetic must": lambda r, s: ss.tl.evaluate(r, [s]),
    "train must": lambda r, s: ss.tl.evaluate(r, s, metrics="privacy", train=r.X),
    "`layer` must": lambda r, s: ss.tl.evaluate(r, s, layer=1),
    "`groupby` must": lambda r, s: ss.tl.evaluate(r, s, groupby=1),
    "`keys` must": lambda r, s: ss.tl.embedding(r, s, keys=[1], basis="pca"),
    "`adata` must": lambda r, s: ss.pp.estimate_params(r.X),
}


def _raises(call, pair, error, fragment):
    real, synthetic = (adata.copy() for adata in pair)
    with pytest.raises(error) as info:
        call(real, synthetic)
    assert fragment in str(info.value)
    return real


@pytest.mark.parametrize("case", MISSING_LAYER)
def test_a_missing_layer_is_a_key_error_naming_the_argument(pair, case):
    argument = case.split()[1]
    _raises(MISSING_LAYER[case], pair, KeyError, f"`{argument}='missing'`")


@pytest.mark.parametrize("case", MISSING_OBS_KEY)
def test_a_missing_obs_column_is_a_key_error_naming_the_argument(pair, case):
    argument = case.split()[1]
    real = _raises(MISSING_OBS_KEY[case], pair, KeyError, f"`{argument}='missing'`")
    assert not real.uns  # the failed call left the input alone


@pytest.mark.parametrize("fragment", BAD_VALUE)
def test_a_bad_value_is_a_value_error_naming_the_argument(pair, fragment):
    _raises(BAD_VALUE[fragment], pair, ValueError, fragment)


@pytest.mark.parametrize("fragment", WRONG_TYPE)
def test_a_wrong_type_is_a_type_error_naming_the_argument(pair, fragment):
    _raises(WRONG_TYPE[fragment], pair, TypeError, fragment)
