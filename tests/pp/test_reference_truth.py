import numpy as np

import sc_synth as ss
from sc_synth.pp._copula import MAX_FACTORS
from sc_synth.pp._reference_truth import mean_library, truth_var, truth_varm


def _params(log_lib_quantiles):
    """Two labels, two batches, four genes; the second label doubles the first gene's share."""
    profile = np.array([[0.25, 0.25, 0.25, 0.25], [0.5, 0.5 / 3, 0.5 / 3, 0.5 / 3]])
    return ss.pp.ReferenceParams(
        labels=["A", "B"], batches=["b1", "b2"], gene_names=["g0", "g1", "g2", "g3"],
        labels_key="cell_type", batch_key="donor", group_prob=np.array([0.75, 0.25]),
        batch_prob=np.array([[0.5, 0.5], [1.0, 0.0]]), base_profile=profile[0],
        profile=profile, batch_factor=np.array([[1.0] * 4, [2.0, 1.0, 1.0, 1.0]]),
        dispersion=np.full((2, 4), 0.1), zero_inflation=np.zeros((2, 4)),
        log_lib_quantiles=log_lib_quantiles, factors=np.zeros((2, 4, MAX_FACTORS)),
    )  # fmt: skip


def test_mean_library_is_the_mean_of_the_interpolated_law():
    # every size the same: the mean is that size; sizes log-uniform on [a, b]: (b - a) / log(b / a)
    flat = np.full((2, 2, 101), np.log(1000.0))
    np.testing.assert_allclose(mean_library(_params(flat)), 1000.0)
    spread = np.broadcast_to(np.linspace(np.log(500.0), np.log(2000.0), 101), (2, 2, 101))
    np.testing.assert_allclose(mean_library(_params(spread)), 1500.0 / np.log(4.0))


def test_truth_holds_the_factors_and_the_means_at_each_labels_depth():
    quantiles = np.full((2, 2, 101), np.log(1000.0))
    quantiles[1, 0] = np.log(3000.0)  # label B's cells (all in batch b1) are deeper
    params = _params(quantiles)
    var, varm = truth_var(params), truth_varm(params)
    np.testing.assert_allclose(var["de_fac_B"], [2.0, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(var["de_fac_A"], 1.0)
    np.testing.assert_allclose(var["batch_fac_b2"], [2.0, 1.0, 1.0, 1.0])
    # the base profile at the mean depth over labels: 0.75 x 1000 + 0.25 x 3000
    np.testing.assert_allclose(var["base_gene_mean"], 0.25 * 1500.0)
    assert varm["mean"].shape == (4, 2)
    np.testing.assert_allclose(varm["mean"][:, 1], params.profile[1] * 3000.0)
    np.testing.assert_allclose(varm["mean"][:, 0], params.profile[0] * 1000.0)
    np.testing.assert_array_equal(varm["dispersion"], params.dispersion.T)
