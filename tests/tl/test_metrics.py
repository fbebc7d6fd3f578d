import numpy as np
import pytest
from conftest import make_counts
from scipy import sparse

from sc_synth.tl import _metrics


@pytest.fixture
def two_halves():
    adata = make_counts(n_cells=600, seed=7)
    return adata.X[:300], adata.X[300:]


def test_gene_stats_agree_for_real_halves(two_halves):
    a, b = two_halves
    stats = _metrics.gene_stats(a, b)
    assert stats["gene_mean_corr"] > 0.95
    assert stats["gene_zero_frac_corr"] > 0.95
    assert stats["library_size_ks"] < 0.15


def test_gene_stats_flag_constant_library_sizes(two_halves):
    a, b = two_halves
    rng = np.random.default_rng(0)
    profile = np.asarray(b.sum(axis=0)).ravel() / b.sum()
    library = int(np.median(np.asarray(b.sum(axis=1))))
    same_size = sparse.csr_matrix(rng.multinomial(library, profile, size=300).astype(np.float32))
    stats = _metrics.gene_stats(a, same_size)
    assert stats["gene_mean_corr"] > 0.9  # the profile is right ...
    assert stats["library_size_ks"] > 0.4  # ... the library sizes are not


def test_memorization_flags_copies():
    rng = np.random.default_rng(1)
    train, fresh = rng.standard_normal((500, 10)), rng.standard_normal((500, 10))
    copied = _metrics.memorization(train[rng.permutation(500)], train)
    assert copied == {"dcr_ratio": 0.0, "copy_fraction": 1.0}
    new = _metrics.memorization(fresh, train)
    assert 0.8 < new["dcr_ratio"] < 1.25
    assert new["copy_fraction"] == 0.0
    half = _metrics.memorization(np.concatenate([train[:150], fresh[:350]]), train)
    assert half["copy_fraction"] == pytest.approx(0.3)


def test_mmd_near_zero_for_same_distribution_and_grows_with_shift():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((300, 10)), rng.standard_normal((300, 10))
    same, shifted = _metrics.mmd(a, b, 0), _metrics.mmd(a, b + 1.0, 0)
    assert abs(same) < 0.01
    assert shifted > 0.1


def test_classifier_auc_half_when_alike_one_when_apart():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((200, 5)), rng.standard_normal((200, 5))
    assert 0.35 < _metrics.classifier_auc(a, b, 0) < 0.65
    assert _metrics.classifier_auc(a, b + 3.0, 0) > 0.95


def test_classifier_auc_of_a_handful_of_alike_cells_does_not_lean_low():
    # out-of-bag scores of 4 cells a side average about 0.2 here; cross-validated ones about 0.5
    rng = np.random.default_rng(4)
    aucs = [
        _metrics.classifier_auc(rng.standard_normal((4, 5)), rng.standard_normal((4, 5)), seed)
        for seed in range(20)
    ]
    assert np.mean(aucs) > 0.35
