import math

import numpy as np
import pytest

from sc_synth.pp import SimParams


def test_defaults_are_splatters():
    p = SimParams()
    assert (p.mean_shape, p.mean_rate) == (0.6, 0.3)
    assert (p.lib_loc, p.lib_scale, p.lib_norm) == (11.0, 0.2, False)
    assert (p.out_prob, p.out_fac_loc, p.out_fac_scale) == (0.05, 4.0, 0.5)
    assert (p.batch_fac_loc, p.batch_fac_scale, p.batch_rm_effect) == (0.1, 0.1, False)
    assert (p.de_prob, p.de_down_prob, p.de_fac_loc, p.de_fac_scale) == (0.1, 0.5, 0.1, 0.4)
    assert (p.bcv_common, p.bcv_df) == (0.1, 60.0)
    assert (p.dropout_type, p.dropout_mid, p.dropout_shape) == ("none", 0.0, -1.0)


@pytest.mark.parametrize(
    ("name", "value", "error", "match"),
    [
        ("mean_shape", 0, ValueError, r"`mean_shape` must be a real number > 0"),
        ("mean_rate", -1.0, ValueError, r"`mean_rate`"),
        ("lib_scale", -0.1, ValueError, r"`lib_scale` must be a real number >= 0"),
        ("lib_loc", float("nan"), ValueError, r"`lib_loc`"),
        ("lib_norm", "yes", TypeError, r"`lib_norm` must be True or False"),
        ("out_prob", 1.5, ValueError, r"`out_prob` must be a real number in \[0, 1\]"),
        ("de_prob", [0.1, 2.0], ValueError, r"`de_prob` must be a real number in \[0, 1\]"),
        ("de_fac_scale", "big", TypeError, r"`de_fac_scale`"),
        ("de_down_prob", [], ValueError, r"`de_down_prob` must be a number or a non-empty"),
        ("bcv_df", 0, ValueError, r"`bcv_df` must be a real number > 0"),
        ("bcv_common", -0.1, ValueError, r"`bcv_common`"),
        ("dropout_type", "gene", ValueError, r"`dropout_type` must be one of"),
        ("batch_rm_effect", 1, TypeError, r"`batch_rm_effect`"),
    ],
)
def test_invalid_values_name_the_parameter(name, value, error, match):
    with pytest.raises(error, match=match):
        SimParams(**{name: value})


def test_experiment_dropout_needs_single_values():
    with pytest.raises(ValueError, match=r"`dropout_mid` must be a single number"):
        SimParams(dropout_type="experiment", dropout_mid=[0.0, 1.0])


def test_sequences_become_tuples_and_inf_df_is_allowed():
    p = SimParams(de_prob=[0.1, 0.3], bcv_df=math.inf)
    assert p.de_prob == (0.1, 0.3)
    assert math.isinf(p.bcv_df)


def test_replace_validates_and_rejects_unknown_names():
    p = SimParams()
    assert p.replace(bcv_common=0.3).bcv_common == 0.3
    assert p.bcv_common == 0.1
    with pytest.raises(ValueError, match="bcv_common"):
        p.replace(bcv_common=-1)
    with pytest.raises(TypeError, match=r"Unknown simulation parameter\(s\) \['de_prb'\]"):
        p.replace(de_prb=0.2)


def test_frozen():
    with pytest.raises(AttributeError):
        SimParams().de_prob = 0.5


def test_repr_groups_steps_and_marks_changes():
    text = repr(SimParams(de_prob=0.25))
    assert "# differential expression" in text
    assert "de_prob=0.25*" in text
    assert "bcv_common=0.1," in text


def test_to_dict_is_plain():
    d = SimParams(de_prob=[0.1, 0.2]).to_dict()
    assert d["de_prob"] == [0.1, 0.2]
    assert all(isinstance(v, str | float | bool | list) for v in d.values())
    assert SimParams(**d) == SimParams(de_prob=[0.1, 0.2])


def test_method_and_path_defaults_are_splatters():
    p = SimParams()
    assert p.method == "groups"
    assert (p.path_from, p.path_n_steps, p.path_skew) == (0, 100, 0.5)
    assert (p.path_nonlinear_prob, p.path_sigma_fac) == (0.1, 0.8)


@pytest.mark.parametrize(
    ("name", "value", "error", "match"),
    [
        ("method", "trajectory", ValueError, r"`method` must be one of \('single', 'groups'"),
        ("method", None, ValueError, r"`method` must be one of"),
        ("path_from", -1, ValueError, r"`path_from` must be an integer >= 0, got -1"),
        ("path_from", [0, 1.5], TypeError, r"`path_from` must be an integer >= 0, got 1.5"),
        ("path_from", [], ValueError, r"`path_from` must be an integer or a non-empty sequence"),
        ("path_n_steps", 0, ValueError, r"`path_n_steps` must be an integer >= 1, got 0"),
        ("path_n_steps", [10, -2], ValueError, r"`path_n_steps` must be an integer >= 1, got -2"),
        ("path_n_steps", True, TypeError, r"`path_n_steps` must be an integer"),
        ("path_skew", 1.5, ValueError, r"`path_skew` must be a real number in \[0, 1\]"),
        ("path_skew", [0.5, -0.1], ValueError, r"`path_skew` must be a real number in \[0, 1\]"),
        ("path_nonlinear_prob", 2.0, ValueError, r"`path_nonlinear_prob` must be a real number in"),
        ("path_sigma_fac", -0.5, ValueError, r"`path_sigma_fac` must be a real number >= 0"),
    ],
)
def test_invalid_method_and_path_values(name, value, error, match):
    with pytest.raises(error, match=match):
        SimParams(**{name: value})


def test_path_integers_accept_integral_numbers_and_survive_to_dict():
    p = SimParams(method="paths", path_from=[0.0, 1, np.int64(1)], path_n_steps=50.0)
    assert p.path_from == (0, 1, 1)
    assert p.path_n_steps == 50
    assert isinstance(p.path_n_steps, int)
    d = p.to_dict()
    assert d["path_from"] == [0, 1, 1]
    assert SimParams(**d) == p
    assert "path_from=[0, 1, 1]*" in repr(p)
