import pytest

from sc_synth.pp._checks import check_count, check_path_from, check_probabilities


@pytest.mark.parametrize(
    ("path_from", "n_paths", "expected"),
    [(0, 3, [0, 0, 0]), ([0, 1, 1], 3, [0, 1, 1]), ([3, 0, 2], 3, [3, 0, 2]), ([0], 2, [0, 0])],
)
def test_path_from_trees_are_accepted(path_from, n_paths, expected):
    assert check_path_from(path_from, n_paths) == expected


@pytest.mark.parametrize(
    ("path_from", "n_paths", "match"),
    [
        ([0, 4, 1], 3, r"from 1 to 3, got 4"),
        (2, 2, r"path 2 starts from itself"),
        ([0, 3, 2], 3, r"paths \[2, 3\] start from one another"),
        ([2, 3, 1], 3, r"paths \[1, 2, 3\] start from one another"),
    ],
)
def test_path_from_cycles_and_range_are_rejected(path_from, n_paths, match):
    with pytest.raises(ValueError, match=match):
        check_path_from(path_from, n_paths)


def test_probabilities_within_rounding_of_one_are_renormalised():
    probs = check_probabilities("group_prob", [0.3, 0.7000004])
    assert sum(probs) == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ValueError, match=r"`group_prob` must sum to 1"):
        check_probabilities("group_prob", [0.3, 0.71])


def test_counts_must_be_integers_at_least_the_minimum():
    assert check_count("seed", 0, minimum=0) == 0
    with pytest.raises(TypeError, match=r"`n_cells` must be an integer >= 1"):
        check_count("n_cells", True)
    with pytest.raises(ValueError, match=r"`seed` must be an integer >= 0, got -1"):
        check_count("seed", -1, minimum=0)
