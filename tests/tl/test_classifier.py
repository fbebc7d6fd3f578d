import numpy as np

from sc_synth.tl import _classifier


def test_classifier_auc_half_when_alike_one_when_apart():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((200, 5)), rng.standard_normal((200, 5))
    assert 0.35 < _classifier.classifier_auc(a, b, 0) < 0.65
    assert _classifier.classifier_auc(a, b + 3.0, 0) > 0.95


def test_classifier_auc_of_a_handful_of_alike_cells_does_not_lean_low():
    # out-of-bag scores of 4 cells a side average about 0.2 here; cross-validated ones about 0.5
    rng = np.random.default_rng(4)
    aucs = [
        _classifier.classifier_auc(rng.standard_normal((4, 5)), rng.standard_normal((4, 5)), seed)
        for seed in range(20)
    ]
    assert np.mean(aucs) > 0.35


def test_classifier_auc_repeats_for_a_seed_and_needs_two_cells():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((300, 5)), rng.standard_normal((300, 5)) + 0.3
    assert _classifier.classifier_auc(a, b, 1) == _classifier.classifier_auc(a, b, 1)
    assert np.isnan(_classifier.classifier_auc(a[:1], b, 0))
