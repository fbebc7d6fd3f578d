import numpy as np

from sc_synth._core._fastmath import fast_exp_neg, fast_log


def test_vectorised_log_and_exp_are_accurate():
    rng = np.random.default_rng(0)
    for y in np.r_[1.0, np.sqrt(2), 1 + rng.random(200) * 1e-6, np.exp(rng.uniform(0, 700, 200))]:
        assert abs(fast_log(y) - np.log(y)) <= 2 * np.spacing(np.log(y)) + 1e-300
    for g in np.r_[0.0, rng.uniform(0, 1e-6, 200), rng.uniform(0, 700, 200)]:
        assert abs(fast_exp_neg(g) - np.exp(-g)) <= 2 * np.spacing(np.exp(-g))
