import math
from fractions import Fraction

import pytest
import torch

from mmcell.uncertainty.conformal import (calibration_scores, class_coverage,
                                          conformal_thresholds, min_calibration_cells,
                                          prediction_sets, unidentified)

# Classes of different difficulty: the true-class logit stands out by 3, 2, 1 and 0.5.
MARGINS = torch.tensor([3., 2., 1., 0.5])


def synthetic(per_class, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(len(MARGINS)).repeat_interleave(per_class)
    logits = torch.randn(labels.numel(), len(MARGINS), generator=g)
    logits[torch.arange(labels.numel()), labels] += MARGINS[labels]
    return logits.softmax(1), labels


@pytest.fixture(scope='module')
def calibration_and_test():
    return synthetic(1000, seed=0), synthetic(20000, seed=1)


@pytest.mark.parametrize('coverage', [0.9, 0.95, 0.99])
def test_each_class_reaches_the_asked_coverage_on_a_large_held_out_sample(
        calibration_and_test, coverage):
    (cal_probs, cal_labels), (test_probs, test_labels) = calibration_and_test
    thresholds = conformal_thresholds(calibration_scores(cal_probs, cal_labels), coverage)
    covered = class_coverage(prediction_sets(test_probs, thresholds), test_labels)
    # Sampling error: the coverage given the calibration cells has sd sqrt(a(1-a)/(n+2)) about
    # its mean ceil((n+1)(1-a))/(n+1) >= 1 - a; the held-out estimate adds sqrt(a(1-a)/m).
    alpha = 1 - coverage
    sd = math.sqrt(alpha * coverage / 1002) + math.sqrt(alpha * coverage / 20000)
    for k, value in enumerate(covered.tolist()):
        assert abs(value - coverage) < 4 * sd, (k, value)


def test_one_threshold_for_all_classes_would_under_cover_the_hardest_class(
        calibration_and_test):
    (cal_probs, cal_labels), (test_probs, test_labels) = calibration_and_test
    pooled = conformal_thresholds([torch.cat(calibration_scores(cal_probs, cal_labels))], 0.95)
    covered = class_coverage(prediction_sets(test_probs, pooled.expand(4)), test_labels)
    assert covered[-1] < 0.9 and covered[0] > 0.97  # why the thresholds are per class


def test_the_finite_sample_rank_and_the_smallest_calibration_set():
    # 19 cells at 95%: rank ceil(20 * 0.95) = 19, the largest score.
    scores = torch.arange(1, 20, dtype=torch.float64) / 100
    assert conformal_thresholds([scores], 0.95).item() == pytest.approx(0.19)
    # 100 cells at 90%: rank ceil(101 * 0.9) = 91.
    scores = torch.arange(1, 101, dtype=torch.float64) / 1000
    assert conformal_thresholds([scores], 0.9).item() == pytest.approx(0.091)


@pytest.mark.parametrize('coverage, needed', [(0.9, 9), (0.95, 19), (0.99, 99), (0.5, 1),
                                              (0.8, 4), (0.975, 39)])
def test_too_small_calibration_sets_are_refused_naming_class_count_and_need(coverage, needed):
    assert min_calibration_cells(coverage) == needed
    scores = [torch.rand(needed), torch.rand(needed - 1)]
    with pytest.raises(ValueError) as err:
        conformal_thresholds(scores, coverage, classes=['neutrophil', 'basophil'])
    message = str(err.value)
    assert "'basophil'" in message and f'has {needed - 1} calibration cells' in message
    assert f'at least {needed}' in message and f'{coverage * 100:g}%' in message
    assert conformal_thresholds(scores[:1], coverage).isfinite().all()


def test_the_rule_is_the_one_the_finite_sample_quantile_needs():
    # n = ceil(1 / (1 - c)) - 1 is the smallest n with ceil((n + 1) c) <= n (exact arithmetic).
    for c in [0.5, 0.6, 0.75, 0.8, 0.9, 0.95, 0.96, 0.975, 0.99, 0.995, 0.999]:
        n = min_calibration_cells(c)
        level = Fraction(str(c))
        assert math.ceil((n + 1) * level) <= n
        assert math.ceil(n * level) > n - 1


@pytest.mark.parametrize('coverage', [0, 1, 1.5, -0.1, float('nan'), '0.9', None])
def test_coverages_outside_0_1_are_refused(coverage):
    with pytest.raises(ValueError, match=r'coverage must be a number in \(0, 1\).*' +
                       repr(coverage).replace('.', r'\.')):
        conformal_thresholds([torch.rand(100)], coverage)
    with pytest.raises(ValueError):
        min_calibration_cells(coverage)


def test_a_cell_is_unidentified_when_its_set_is_not_exactly_one_class():
    probs = torch.tensor([[0.97, 0.02, 0.01],   # {0}
                          [0.50, 0.45, 0.05],   # {0, 1}
                          [0.40, 0.30, 0.30],   # {}
                          [0.05, 0.05, 0.90]])  # {2}
    sets = prediction_sets(probs, torch.tensor([0.55, 0.6, 0.2]))
    assert sets.tolist() == [[True, False, False], [True, True, False], [False, False, False],
                             [False, False, True]]
    assert unidentified(sets).tolist() == [False, True, True, False]


def test_calibration_scores_are_sorted_per_class():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    scores = calibration_scores(probs, torch.tensor([0, 1, 0, 0]))
    assert scores[0].tolist() == pytest.approx([0.1, 0.4, 0.7])
    assert scores[1].tolist() == pytest.approx([0.2])
    with pytest.raises(ValueError, match='class indices'):
        calibration_scores(probs, torch.tensor([0, 1, 0, 2]))
