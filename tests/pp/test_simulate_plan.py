import numpy as np
import pytest

import sc_synth as ss


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "trajectory"}, r"`method` must be one of \('single', 'groups', 'paths'\)"),
        ({"method": "single", "group_prob": [0.5, 0.5]}, r"`method='single'` simulates one group"),
        ({"path_from": [0, 3]}, r"`path_from` values must be 0 .* from 1 to 2, got 3"),
        ({"path_from": [2, 1]}, r"paths \[1, 2\] start from one another"),
        ({"path_from": [0, 2]}, r"path 2 starts from itself"),
        ({"path_from": 1}, r"path 1 starts from itself"),
        ({"path_from": [0, 1, 1]}, r"`path_from` must be one number or one per path \(2\)"),
        ({"path_n_steps": 0}, r"`path_n_steps` must be an integer >= 1, got 0"),
        ({"path_n_steps": [10, -1]}, r"`path_n_steps` must be an integer >= 1"),
        ({"path_skew": 1.5}, r"`path_skew` must be a real number in \[0, 1\]"),
        ({"path_nonlinear_prob": -0.1}, r"`path_nonlinear_prob` must be a real number in"),
        ({"path_sigma_fac": -1.0}, r"`path_sigma_fac` must be a real number >= 0"),
    ],
)
def test_bad_path_input(kwargs, match):
    kwargs = {"group_prob": [0.5, 0.5], "method": "paths"} | kwargs
    with pytest.raises(ValueError, match=match):
        ss.pp.simulate(100, 50, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_cells": 0}, ValueError, r"`n_cells` must be an integer >= 1"),
        ({"n_cells": 10.5}, TypeError, r"`n_cells` must be an integer"),
        ({"n_genes": -3}, ValueError, r"`n_genes` must be an integer >= 1"),
        ({"seed": -1}, ValueError, r"`seed` must be an integer >= 0"),
        ({"chunk_size": 0}, ValueError, r"`chunk_size`"),
        ({"batch_cells": [500, 400]}, ValueError, r"`batch_cells` must add up to `n_cells`"),
        ({"batch_cells": [1000, -0]}, ValueError, r"`batch_cells` must be an integer >= 1"),
        ({"batch_cells": "10"}, TypeError, r"`batch_cells`"),
        ({"group_prob": [0.5, 0.6]}, ValueError, r"`group_prob` must sum to 1"),
        ({"group_prob": [1.5, -0.5]}, ValueError, r"`group_prob` must hold .* in \[0, 1\]"),
        ({"de_prob": 1.2}, ValueError, r"`de_prob` must be a real number in \[0, 1\]"),
        ({"dropout_type": "gene"}, ValueError, r"`dropout_type` must be one of"),
        ({"de_prb": 0.1}, TypeError, r"Unknown simulation parameter"),
        ({"params": {"de_prob": 0.1}}, TypeError, r"`params` must be a SimParams"),
        ({"reference": np.ones((3, 3))}, TypeError, r"`reference` must be an AnnData"),
        (
            {"group_prob": [0.5, 0.5], "de_prob": [0.1, 0.2, 0.3]},
            ValueError,
            r"`de_prob` must be one number or one per group \(2\)",
        ),
        (
            {"batch_cells": [500, 500], "batch_fac_loc": [0.1, 0.2, 0.3]},
            ValueError,
            r"`batch_fac_loc` must be one number or one per batch",
        ),
        (
            {"dropout_type": "cell", "dropout_mid": [0.0, 1.0]},
            ValueError,
            r"`dropout_mid` must be one number or one per cell \(1000\)",
        ),
    ],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        ss.pp.simulate(**kwargs)
