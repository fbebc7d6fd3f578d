import signal
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import make_counts

from sc_synth._report import report
from sc_synth._study import (
    REPEATS,
    _interruptible_training,
    half_sizes,
    split_halves,
)

SETS = ["real (reference)", "baseline (NB per label)", "vae", "wgan-gp"]


def table_and_spread(precision, recall, sd):
    """An evaluation table of 'all' rows and a spread with the same ``sd`` for every number."""
    table = pd.DataFrame(
        {
            "synthetic": SETS,
            "group": "all",
            "precision": precision,
            "recall": recall,
            "classifier_auc": 0.6,
            "coverage": 0.9,
            "mmd": 0.01,
        },
        index=SETS,
    )
    spread = pd.DataFrame(
        dict.fromkeys(("precision", "recall", "coverage", "mmd"), sd), index=SETS
    ).assign(score=sd * np.sqrt(2))
    return table, spread


def make_report(table, spread, batch_key="batch", n_batches=2, n_labels=3):
    adata = make_counts(n_cells=60, n_genes=10, n_labels=n_labels, n_batches=n_batches)
    timings = {"vae": 12.0, "wgan-gp": 30.0}
    return report(table, timings, adata, "cell_type", batch_key, spread, REPEATS)


def test_report_names_no_leader_within_the_noise():
    # 0.011 ahead with a spread of 0.01 per number: noise.
    table, spread = table_and_spread([0.75, 0.70, 0.711, 0.70], [0.747, 0.6, 0.76, 0.76], 0.01)
    text = make_report(table, spread)
    assert "Highest precision + recall" not in text
    assert "No generator leads on precision + recall beyond the noise: vae is 0.011 ahead" in text
    assert f"standard deviation over {REPEATS} evaluation seeds" in text
    assert "| vae | 0.711 ± 0.010 | 0.760 ± 0.010 | 0.600 |" in text


def test_report_names_a_leader_beyond_the_noise():
    table, spread = table_and_spread([0.75, 0.70, 0.80, 0.60], [0.75, 0.6, 0.70, 0.60], 0.01)
    text = make_report(table, spread)
    assert "Highest precision + recall: **vae**, 0.300 ahead of wgan-gp" in text
    assert "**vae** clears the baseline" in text
    assert "**wgan-gp** falls below the baseline" in text


def test_report_explains_a_number_above_the_ceiling():
    table, spread = table_and_spread([0.75, 0.70, 0.70, 0.90], [0.747, 0.6, 0.76, 0.50], 0.01)
    text = make_report(table, spread)
    assert "the ceiling, what a perfect generator reaches on this data" in text
    assert (
        "vae's recall (0.760) is above the reference (0.747), within noise of the ceiling: "
        "as good as real cells here, not better." in text
    )
    assert "wgan-gp's precision (0.900) is above the reference (0.750), beyond the noise" in text


@pytest.mark.parametrize(
    ("batch_key", "n_batches", "says_batch"),
    [("batch", 2, True), ("batch", 1, False), (None, 1, False)],
)
def test_report_mentions_batches_only_when_there_are_some(batch_key, n_batches, says_batch):
    table, spread = table_and_spread([0.75, 0.70, 0.70, 0.60], [0.75, 0.6, 0.70, 0.60], 0.01)
    data_line = make_report(table, spread, batch_key, n_batches).splitlines()[2]
    assert ("batch" in data_line) == says_batch
    assert "stratified by label and batch" in data_line if says_batch else "by label)" in data_line


def test_report_says_when_there_is_one_label():
    table, spread = table_and_spread([0.75, 0.70, 0.70, 0.60], [0.75, 0.6, 0.70, 0.60], 0.01)
    assert "`cell_type` has one label" in make_report(table, spread, n_labels=1)


def test_half_sizes_match_split_halves():
    adata = make_counts(n_cells=71, n_genes=10)
    keys = ["cell_type", "batch"]
    train, test = split_halves(adata, keys, seed=3)
    sizes = half_sizes(adata.obs, keys)
    assert sizes["train"].sort_index().equals(train.obs.groupby(keys, observed=True).size())
    assert sizes["held_out"].sort_index().equals(test.obs.groupby(keys, observed=True).size())


def test_lightning_exit_on_an_interrupt_comes_back_as_keyboard_interrupt():
    """Lightning calls sys.exit(1) inside its KeyboardInterrupt handler and leaves SIGINT ignored."""

    def lightning_fit():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            sys.exit(1)

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), _interruptible_training():
        lightning_fit()
    assert signal.getsignal(signal.SIGINT) == before


def test_other_exits_pass_through():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(SystemExit), _interruptible_training():
        raise SystemExit(2)
    assert signal.getsignal(signal.SIGINT) == before


def test_report_tables_the_families_beyond_the_manifold():
    table, spread = table_and_spread([0.75, 0.70, 0.71, 0.70], [0.75, 0.6, 0.76, 0.76], 0.01)
    table = table.assign(
        de_slope=[0.98, 0.93, 0.61, 0.88],
        gene_gene_corr=[0.25, 0.02, 0.18, 0.01],
        membership_auc=[np.nan, np.nan, 0.71, 0.52],
    )
    text = make_report(table, spread)
    assert "| set | de_slope | gene_gene_corr | membership_auc |" in text
    assert "| vae | 0.610 | 0.180 | 0.710 |" in text
    assert "| real (reference) | 0.980 | 0.250 | – |" in text
    assert "**de_slope**, **de_r**" in text
    assert "**tstr_f1**" not in text  # no column, no explanation


def test_report_leaves_the_second_table_out_without_its_columns():
    table, spread = table_and_spread([0.75, 0.70, 0.71, 0.70], [0.75, 0.6, 0.76, 0.76], 0.01)
    assert "Beyond the shared manifold" not in make_report(table, spread)
