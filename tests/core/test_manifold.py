import numpy as np
import pytest
import torch

from sc_synth._core._manifold import in_ball
from sc_synth.models.gan._trainingplan import _precision_recall
from sc_synth.tl._neighbors import prdc


def test_a_point_at_the_radius_is_outside():
    assert not in_ball(2.0, 2.0)
    assert in_ball(np.nextafter(2.0, 0.0), 2.0)
    np.testing.assert_array_equal(in_ball(np.array([1.0, 2.0, 3.0]), 2.0), [True, False, False])
    assert in_ball(torch.tensor([1.0, 2.0]), torch.tensor(2.0)).tolist() == [True, False]


# k = 1. Real radii are all 2; fake radii are 2 (-4, -2, 14, 16), 1 (4, 5), 3 (11) and 8 (40,
# 48). Ties: fake -2, 4 and 14 lie exactly 2 from a real point (outside its ball), real 0 lies
# exactly 2 from fake -2 (outside that ball). Only fake 11 lies inside real balls (of 10 and 12),
# whose own ball holds real 10 and 12. The points' mean, 12, keeps centred coordinates exact.
REAL = np.array([[0.0], [2.0], [10.0], [12.0]])
FAKE = np.array([[-4.0], [-2.0], [4.0], [5.0], [11.0], [14.0], [16.0], [40.0], [48.0]])


def test_evaluation_and_gan_monitor_agree_on_ties():
    evaluated = prdc(REAL, FAKE, k=1)
    precision, recall = _precision_recall(
        torch.tensor(REAL, dtype=torch.float32), torch.tensor(FAKE, dtype=torch.float32), 1
    )
    # the monitor's means are float32: 1/9 to 8 digits
    assert evaluated["precision"] == 1 / 9
    assert float(precision) == pytest.approx(1 / 9, rel=1e-6)
    assert evaluated["recall"] == float(recall) == 0.5
