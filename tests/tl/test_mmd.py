import numpy as np

from sc_synth.tl import _mmd


def test_mmd_near_zero_for_same_distribution_and_grows_with_shift():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((300, 10)), rng.standard_normal((300, 10))
    same, shifted = _mmd.mmd(a, b, 0), _mmd.mmd(a, b + 1.0, 0)
    assert abs(same) < 0.01
    assert shifted > 0.1
