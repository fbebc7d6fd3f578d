import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from sc_synth.tl import _neighbors
from sc_synth.tl._neighbors import kth_neighbor_sq, prdc


def brute_force_prdc(real, fake, k):
    """Precision, recall, density and coverage from full distance matrices."""
    real_radii = np.sort(cdist(real, real), axis=1)[:, k]
    fake_radii = np.sort(cdist(fake, fake), axis=1)[:, k]
    d = cdist(real, fake)
    inside_real = d < real_radii[:, None]
    return {
        "precision": inside_real.any(axis=0).mean(),
        "recall": (d < fake_radii[None, :]).any(axis=1).mean(),
        "density": inside_real.sum(axis=0).mean() / k,
        "coverage": (d.min(axis=1) < real_radii).mean(),
    }


@pytest.mark.parametrize(
    ("n_real", "n_fake", "dims", "k", "shift"),
    [
        (300, 300, 30, 5, 0.3),
        (257, 190, 30, 3, 0.0),
        (150, 420, 10, 1, 0.8),
        (3000, 2500, 30, 5, 0.1),
    ],
)
def test_prdc_equals_brute_force(n_real, n_fake, dims, k, shift):
    rng = np.random.default_rng(n_real)
    real = rng.standard_normal((n_real, dims)) * np.linspace(3, 0.5, dims)
    fake = rng.standard_normal((n_fake, dims)) * np.linspace(3, 0.5, dims) * 1.1 + shift
    ours, reference = prdc(real, fake, k), brute_force_prdc(real, fake, k)
    for name, value in reference.items():
        assert ours[name] == pytest.approx(value, abs=1e-9), name


def test_many_tiles_and_workers_give_the_same_numbers(monkeypatch):
    # small tiles and three workers exercise the tile edges, the shared task queue and the
    # merge of each worker's private neighbour lists and ball counts
    rng = np.random.default_rng(7)
    real = rng.standard_normal((700, 12)) * np.linspace(2, 0.5, 12)
    fake = rng.standard_normal((650, 12)) * np.linspace(2, 0.5, 12) + 0.2
    reference = brute_force_prdc(real, fake, 5)
    monkeypatch.setattr(_neighbors, "_TILE", 96)
    monkeypatch.setattr(_neighbors, "_n_workers", lambda n_pairs: 3)
    ours = prdc(real, fake, 5)
    for name, value in reference.items():
        assert ours[name] == pytest.approx(value, abs=1e-9), name
    expected = np.sort(cdist(fake, real) ** 2, axis=1)[:, 2]
    np.testing.assert_allclose(kth_neighbor_sq(fake, real, 3), expected, rtol=1e-12)


def test_prdc_exact_with_ties_far_from_origin():
    # integer points: many distances tie exactly, so the float32 filter must defer to float64
    rng = np.random.default_rng(1)
    real = rng.integers(0, 4, (400, 8)).astype(float) + 1e3
    fake = rng.integers(0, 5, (350, 8)).astype(float) + 1e3
    ours, reference = prdc(real, fake, 4), brute_force_prdc(real, fake, 4)
    for name, value in reference.items():
        assert ours[name] == pytest.approx(value, abs=1e-9), name


def test_kth_neighbor_equals_sorted_distances():
    rng = np.random.default_rng(2)
    query, ref = rng.standard_normal((500, 30)), rng.standard_normal((5000, 30))
    for kth in (1, 2, 6):
        expected = np.sort(cdist(query, ref) ** 2, axis=1)[:, kth - 1]
        np.testing.assert_allclose(kth_neighbor_sq(query, ref, kth), expected, rtol=1e-12)


def test_set_against_itself_is_perfect():
    x = np.random.default_rng(3).standard_normal((400, 30))
    assert prdc(x, x.copy(), 5) == {
        "precision": 1.0,
        "recall": 1.0,
        "density": 1.0,
        "coverage": 1.0,
    }


def test_shifted_copy_loses_precision_and_recall():
    x = np.random.default_rng(4).standard_normal((400, 10))
    near, far = prdc(x, x + 1.0, 5), prdc(x, x + 3.0, 5)
    assert near["precision"] < 1
    assert near["recall"] < 1
    assert far["precision"] < near["precision"]
    assert far["recall"] < near["recall"]
    assert far["precision"] < 0.2
    assert far["recall"] < 0.2


def test_mode_collapse_keeps_precision_loses_recall():
    rng = np.random.default_rng(5)
    centers = np.eye(10)[:4] * 10
    real = np.repeat(centers, 100, axis=0) + rng.standard_normal((400, 10))
    collapsed = centers[0] + rng.standard_normal((400, 10)) * 0.5
    result = prdc(real, collapsed, 5)
    assert result["precision"] > 0.9
    assert result["recall"] < 0.3
    assert result["coverage"] < 0.3


def test_too_few_reference_points():
    with pytest.raises(ValueError, match="at least 3 reference points"):
        kth_neighbor_sq(np.zeros((4, 2)), np.zeros((2, 2)), 3)


def test_torch_thread_count_is_left_as_it_was():
    x = np.random.default_rng(8).standard_normal((2500, 10))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        prdc(x, x + 0.1, 5)
        kth_neighbor_sq(x, x, 2)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
