import numpy as np
import pytest
from anndata import AnnData
from scipy import sparse

import sc_synth as ss
from sc_synth.pp._estimate_fits import dispersion_moments


@pytest.fixture(scope="module")
def known():
    truth = {
        "lib_loc": 9.5,
        "lib_scale": 0.3,
        "mean_shape": 0.6,
        "bcv_common": 0.2,
        "bcv_df": 30.0,
        "out_prob": 0.05,
    }
    return truth, ss.pp.simulate(2000, 2000, seed=21, **truth)


def test_recovers_known_parameters(known):
    truth, adata = known
    est = ss.pp.estimate_params(adata)
    assert est.lib_norm is False
    assert abs(est.lib_loc - truth["lib_loc"]) < 0.03
    assert abs(est.lib_scale - truth["lib_scale"]) < 0.03
    assert abs(est.mean_shape / truth["mean_shape"] - 1) < 0.2
    assert abs(est.bcv_common / truth["bcv_common"] - 1) < 0.1
    assert 15 < est.bcv_df < 60
    assert abs(est.out_prob - truth["out_prob"]) < 0.02
    assert est.dropout_shape < 0
    assert est.dropout_type == "none"


def test_normal_library_sizes_detected():
    adata = ss.pp.simulate(800, 300, seed=23, lib_norm=True, lib_loc=20000.0, lib_scale=2000.0)
    est = ss.pp.estimate_params(adata)
    assert est.lib_norm is True
    assert abs(est.lib_loc / 20000 - 1) < 0.02
    assert abs(est.lib_scale / 2000 - 1) < 0.15


def test_bcv_not_inflated_by_dropout():
    truth = 0.2
    adata = ss.pp.simulate(
        1500, 2000, seed=23, bcv_common=truth, dropout_type="experiment", dropout_mid=4.0,
        dropout_shape=-1.0,
    )  # fmt: skip
    est = ss.pp.estimate_params(adata)
    assert abs(est.bcv_common / truth - 1) < 0.15
    # Dispersions over all cells, as a common-dispersion estimate sees them, are inflated by
    # the dropout zeros: the estimator must not follow them.
    counts = adata.X.astype(float)
    lib = np.asarray(counts.sum(1)).ravel()
    phi, p, _ = dispersion_moments(sparse.csr_matrix(counts), lib, positive_only=False)
    mu = lib.mean() * p
    high = mu > 50
    inflated = np.median(np.sqrt(phi[high]) / (truth + 1 / np.sqrt(mu[high])))
    assert inflated > 1.5


def test_dropout_logistic_fit():
    adata = ss.pp.simulate(
        800, 1000, seed=24, dropout_type="experiment", dropout_mid=3.0, dropout_shape=-1.0
    )
    est = ss.pp.estimate_params(adata)
    none = ss.pp.estimate_params(ss.pp.simulate(800, 1000, seed=24))
    # More dropout moves the fitted midpoint of zeros toward higher means.
    assert est.dropout_mid > none.dropout_mid + 1.0
    assert est.dropout_shape < 0


def test_estimate_then_simulate_round_trip(known):
    _, adata = known
    est = ss.pp.estimate_params(adata)
    again = ss.pp.estimate_params(ss.pp.simulate(2000, 2000, params=est, seed=5))
    assert abs(again.lib_loc - est.lib_loc) < 0.03
    assert abs(again.bcv_common / est.bcv_common - 1) < 0.15
    assert abs(again.mean_shape / est.mean_shape - 1) < 0.2


def test_uses_layer_and_leaves_input_unchanged(dense_counts_adata):
    adata = dense_counts_adata
    adata.X = np.log1p(adata.X)
    before = adata.copy()
    est = ss.pp.estimate_params(adata, layer="counts")
    assert isinstance(est, ss.pp.SimParams)
    np.testing.assert_array_equal(adata.X, before.X)
    np.testing.assert_array_equal(adata.layers["counts"], before.layers["counts"])
    assert adata.obs.equals(before.obs)
    assert adata.var.equals(before.var)
    with pytest.raises(ValueError, match="non-integer"):
        ss.pp.estimate_params(adata)


def _adata(x):
    return AnnData(X=x)


@pytest.mark.parametrize(
    ("adata", "error", "match"),
    [
        (np.ones((3, 3)), TypeError, r"`adata` must be an AnnData"),
        (_adata(np.zeros((0, 5))), ValueError, r"adata.X is empty"),
        (_adata(np.array([[1.0, np.nan], [2.0, 3.0]])), ValueError, r"NaN or infinite"),
        (_adata(np.array([[1.0, -2.0], [2.0, 3.0]])), ValueError, r"negative values"),
        (_adata(np.array([[1.5, 2.0], [2.0, 3.0]])), ValueError, r"non-integer values"),
        (_adata(np.array([[0.0, 0.0], [2.0, 3.0]])), ValueError, r"1 cells without counts"),
        (_adata(np.array([["a", "b"]], dtype=object)), TypeError, r"numeric counts"),
    ],
)
def test_bad_input(adata, error, match):
    with pytest.raises(error, match=match):
        ss.pp.estimate_params(adata)


def test_missing_layer(counts_adata):
    with pytest.raises(KeyError, match=r"`layer='raw'` is not in adata.layers"):
        ss.pp.estimate_params(counts_adata, layer="raw")


@pytest.fixture(scope="module")
def typed():
    adata = ss.pp.simulate(400, 120, group_prob=[0.6, 0.4], de_prob=0.3, seed=31)
    adata.obs["cell_type"] = adata.obs["group"].astype(str)
    adata.obs["donor"] = np.tile(["d1", "d2"], 200)
    return adata


def test_labels_give_reference_params(typed):
    fitted = ss.pp.estimate_params(typed, labels_key="cell_type", batch_key="donor")
    assert isinstance(fitted, ss.pp.ReferenceParams)
    assert fitted.labels == ["Group1", "Group2"]
    assert fitted.batches == ["d1", "d2"]
    shares = typed.obs["cell_type"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(fitted.group_prob, shares)
    # the fitted DE factors follow the true ones on the genes that are DE
    true = typed.var["de_fac_Group2"] / typed.var["de_fac_Group1"]
    de = (true != 1).to_numpy()
    fitted_ratio = fitted.profile[1] / fitted.profile[0]
    assert np.corrcoef(np.log(fitted_ratio[de]), np.log(true[de]))[0, 1] > 0.8


def test_without_labels_still_splat(typed):
    assert isinstance(ss.pp.estimate_params(typed), ss.pp.SimParams)


def test_small_label_pooled_with_a_warning(typed):
    adata = typed.copy()
    adata.obs.loc[adata.obs_names[:5], "cell_type"] = "rare"
    with pytest.warns(UserWarning, match=r"\['rare'\] have fewer than 10 cells"):
        fitted = ss.pp.estimate_params(adata, labels_key="cell_type")
    rare = fitted.labels.index("rare")
    assert not fitted.factors[rare].any()
    assert not fitted.zero_inflation[rare].any()


@pytest.mark.parametrize(
    ("change", "kwargs", "error", "match"),
    [
        (None, {"labels_key": "missing"}, KeyError, "labels_key='missing'"),
        (None, {"labels_key": "cell_type", "batch_key": "nope"}, KeyError, "batch_key='nope'"),
        (np.nan, {"labels_key": "cell_type"}, ValueError, "NaN"),
        (0.5, {"labels_key": "cell_type"}, ValueError, "non-integer"),
    ],
)
def test_bad_reference_refused_unchanged(typed, change, kwargs, error, match):
    adata = typed.copy()
    if change is not None:
        adata.X = adata.X.toarray()
        adata.X[0, 0] = change
    before = adata.copy()
    with pytest.raises(error, match=match):
        ss.pp.estimate_params(adata, **kwargs)
    np.testing.assert_array_equal(
        np.asarray(adata.X.todense() if sparse.issparse(adata.X) else adata.X),
        np.asarray(before.X.todense() if sparse.issparse(before.X) else before.X),
    )
    assert adata.obs.equals(before.obs)
