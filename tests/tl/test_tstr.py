import numpy as np
import pytest
from conftest import make_counts

import sc_synth as ss


def test_tstr_near_reference_for_real_cells_near_chance_for_shuffled_labels():
    cells = make_counts(n_cells=600, seed=0)
    real, fresh = cells[:300].copy(), cells[300:].copy()
    shuffled = fresh.copy()
    shuffled.obs["cell_type"] = np.random.default_rng(0).permutation(
        shuffled.obs["cell_type"].to_numpy()
    )
    df = ss.tl.evaluate(
        real, {"fresh": fresh, "shuffled": shuffled}, groupby="cell_type", metrics="tstr"
    )
    assert df.loc["real (reference)", "tstr_f1"] > 0.9
    assert df.loc["fresh", "tstr_f1"] > df.loc["real (reference)", "tstr_f1"] - 0.05
    # three labels: chance is a third
    assert df.loc["shuffled", "tstr_f1"] < 0.55
    # the "all" row is the macro F1, the mean over the label rows
    labels = df.loc[[f"shuffled | type_{i}" for i in range(3)], "tstr_f1"]
    assert df.loc["shuffled", "tstr_f1"] == np.mean(labels)


def test_a_set_lacking_a_label_is_judged_on_its_own_labels():
    cells = make_counts(n_cells=600, seed=0)
    real, fresh = cells[:300].copy(), cells[300:].copy()
    two = fresh[fresh.obs["cell_type"] != "type_2"].copy()
    with pytest.warns(UserWarning, match="hold different labels"):
        df = ss.tl.evaluate(real, {"fresh": fresh, "two": two}, groupby="cell_type", metrics="tstr")
    assert df.loc["fresh | type_2", "tstr_f1"] > 0.9
    assert df.loc["two | type_2", "n_synthetic"] == 0
    assert np.isnan(df.loc["two | type_2", "tstr_f1"])
    # "two" is judged on the real cells of its two labels
    assert df.loc["two", "tstr_f1"] > 0.9
