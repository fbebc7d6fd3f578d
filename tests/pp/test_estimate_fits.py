import numpy as np

from sc_synth.pp._estimate_fits import fit_gamma, fit_library_sizes


def test_gamma_fit_recovers_shape_and_rate():
    means = np.random.default_rng(0).gamma(0.6, 1 / 0.3, size=5000)
    shape, rate = fit_gamma(means)
    # fitted to the means winsorised at their 10% and 90% quantiles, as Splatter does: about
    # 10% off the law the means came from
    assert abs(shape / 0.6 - 1) < 0.2
    assert abs(rate / 0.3 - 1) < 0.2


def test_library_sizes_fit_tells_lognormal_from_normal():
    rng = np.random.default_rng(1)
    loc, scale, normal = fit_library_sizes(rng.lognormal(9.0, 0.4, size=3000))
    assert not normal
    assert abs(loc - 9.0) < 0.05
    assert abs(scale - 0.4) < 0.05
    loc, scale, normal = fit_library_sizes(rng.normal(20000, 1500, size=3000))
    assert normal
    assert abs(loc / 20000 - 1) < 0.02
