import numpy as np
import pandas as pd
import pytest
from conftest import make_counts

import sc_synth as ss
from sc_synth.tl import _privacy


@pytest.fixture(scope="module")
def cells():
    """Held-out real cells, the generator's training cells and fresh cells, all disjoint."""
    cells = make_counts(n_cells=900, seed=0)
    return cells[:300].copy(), cells[300:450].copy(), cells[600:].copy()


def test_membership_and_dcr_for_fresh_cells_and_copies(cells):
    real, train, fresh = cells
    df = ss.tl.evaluate(
        real, {"fresh": fresh, "copy": train.copy()}, groupby="cell_type", metrics="privacy",
        train=train,
    )  # fmt: skip
    assert list(df.columns[6:-1]) == ["dcr_ratio", "copy_fraction", "membership_auc"]
    for name in ("real (reference)", "baseline (NB per label)", "fresh"):
        assert 0.4 < df.loc[name, "membership_auc"] < 0.6
        assert 0.85 < df.loc[name, "dcr_ratio"] < 1.2
        assert df.loc[name, "copy_fraction"] == 0
    assert df.loc["copy", "membership_auc"] > 0.95
    assert df.loc["copy", "dcr_ratio"] == 0
    assert df.loc["copy", "copy_fraction"] == 1
    assert (df.loc[[f"copy | type_{i}" for i in range(3)], "membership_auc"] > 0.95).all()


def test_memorization_is_privacy_without_training_cells(cells):
    real, _, fresh = cells
    old = ss.tl.evaluate(real, {"fresh": fresh, "copy": real.copy()}, metrics="memorization")
    new = ss.tl.evaluate(real, {"fresh": fresh, "copy": real.copy()}, metrics="privacy")
    pd.testing.assert_frame_equal(old, new)
    # without train, all of real stands in for the training cells; no attack without members
    assert new.loc["copy", "dcr_ratio"] == 0
    assert new.loc["fresh", "dcr_ratio"] > 0.8
    assert new["membership_auc"].isna().all()


def test_train_genes_matched_by_name(cells):
    real, train, fresh = cells
    expected = ss.tl.evaluate(real, fresh, metrics="privacy", train=train)
    reordered = train[:, train.var_names[::-1]].copy()
    pd.testing.assert_frame_equal(
        ss.tl.evaluate(real, fresh, metrics="privacy", train=reordered), expected
    )
    fewer = train[:, train.var_names[:40]].copy()
    with pytest.warns(UserWarning, match="40 genes shared by all sets and train"):
        ss.tl.evaluate(real, fresh, metrics="privacy", train=fewer)
    other = train.copy()
    other.var_names = [f"x{i}" for i in range(other.n_vars)]
    with pytest.raises(ValueError, match="train shares no gene names"):
        ss.tl.evaluate(real, fresh, metrics="privacy", train=other)
    with pytest.raises(TypeError, match="train must be an AnnData"):
        ss.tl.evaluate(real, fresh, metrics="privacy", train=train.X)


def test_training_cells_inside_real_are_warned_about(cells):
    real, _, fresh = cells
    with pytest.warns(UserWarning, match="50 cells of train have the counts of a cell of real"):
        ss.tl.evaluate(real, fresh, metrics="privacy", train=real[:50].copy())


def test_memorization_flags_copies():
    rng = np.random.default_rng(1)
    train, fresh = rng.standard_normal((500, 10)), rng.standard_normal((500, 10))
    copied = _privacy.memorization(train[rng.permutation(500)], train)
    assert copied == {"dcr_ratio": 0.0, "copy_fraction": 1.0}
    new = _privacy.memorization(fresh, train)
    assert 0.8 < new["dcr_ratio"] < 1.25
    assert new["copy_fraction"] == 0.0
    half = _privacy.memorization(np.concatenate([train[:150], fresh[:350]]), train)
    assert half["copy_fraction"] == pytest.approx(0.3)
