"""Intervals of differential percentages, and differential counts.

The intervals are tested against Rümke's table as haematology quotes it (the 95% limits for
100 and 200 cells, whole percentages, as reproduced in CLSI H20-A2 and haematology textbooks;
the primary text was not reachable here, so only rows whose rounding is unambiguous are
used), against the closed forms of the Clopper-Pearson interval at 0 and n of n cells, against
the interval's definition (binomial tail probabilities of 2.5% at each limit, from
``scipy.stats.binom``, independent of the ``binomtest`` used by the code), and against the
beta-quantile formula.
"""
import numpy as np
import pytest
from scipy.stats import beta, binom

from mmcell.uncertainty.intervals import (correct_counts, differential_counts,
                                          proportion_interval)


# Rümke's table: observed percentage -> 95% limits in whole percentages, for 100 and 200 cells.
RUMKE = {
    100: {0: (0, 4), 2: (0, 7), 5: (2, 11), 10: (5, 18), 15: (9, 24), 20: (13, 29),
          25: (17, 35), 30: (21, 40), 40: (30, 50), 50: (40, 60)},
    200: {0: (0, 2), 5: (2, 9), 10: (6, 15), 15: (10, 21), 20: (15, 26), 25: (19, 32),
          30: (24, 37), 40: (33, 47), 50: (43, 57)},
}


@pytest.mark.parametrize('n', [100, 200])
def test_limits_match_ruemkes_table(n):
    for percent, limits in RUMKE[n].items():
        low, high = proportion_interval(percent * n // 100, n)
        assert (round(100 * low), round(100 * high)) == limits, (n, percent)
        # the table is symmetric: 100 - p has the mirrored limits
        low, high = proportion_interval(n - percent * n // 100, n)
        assert (round(100 * low), round(100 * high)) == (100 - limits[1], 100 - limits[0])


@pytest.mark.parametrize('n', [100, 200])
def test_closed_forms_at_none_and_all_of_the_cells(n):
    assert proportion_interval(0, n) == (0.0, pytest.approx(1 - 0.025 ** (1 / n), abs=1e-12))
    assert proportion_interval(n, n) == (pytest.approx(0.025 ** (1 / n), abs=1e-12), 1.0)
    # 100 cells: no eosinophil seen still allows up to 3.62%; 200 cells: 1.83%.
    assert 100 * proportion_interval(0, n)[1] == pytest.approx({100: 3.62, 200: 1.83}[n], abs=0.005)


@pytest.mark.parametrize('n', [100, 200])
def test_each_limit_leaves_2_5_percent_in_its_binomial_tail(n):
    for k in range(1, n):
        low, high = proportion_interval(k, n)
        assert binom.sf(k - 1, n, low) == pytest.approx(0.025, abs=1e-9)  # P(X >= k | low)
        assert binom.cdf(k, n, high) == pytest.approx(0.025, abs=1e-9)  # P(X <= k | high)
        assert low == pytest.approx(beta.ppf(0.025, k, n - k + 1), abs=1e-12)
        assert high == pytest.approx(beta.ppf(0.975, k + 1, n - k), abs=1e-12)


def test_rounded_values_of_a_100_cell_differential():
    # An observed 10% of 100 cells: the true share lies in 4.9-17.6% (95%); 50%: 39.8-60.2%.
    assert [round(100 * v, 1) for v in proportion_interval(10, 100)] == [4.9, 17.6]
    assert [round(100 * v, 1) for v in proportion_interval(50, 100)] == [39.8, 60.2]
    low90, high90 = proportion_interval(10, 100, confidence=0.9)
    low95, high95 = proportion_interval(10, 100)
    assert low95 < low90 < 0.1 < high90 < high95


@pytest.mark.parametrize('count, total', [(1, 0), (-1, 10), (11, 10), (1.5, 10)])
def test_impossible_counts_are_refused(count, total):
    with pytest.raises(ValueError):
        proportion_interval(count, total)


CLASSES = ['neutrophil', 'lymphocyte', 'monocyte', 'eosinophil', 'basophil']


def test_unidentified_cells_are_counted_once_and_never_in_a_class():
    labels = (['neutrophil'] * 55 + ['lymphocyte'] * 30 + ['monocyte'] * 6 + ['eosinophil'] * 3
              + ['unidentified'] * 6)
    counts = differential_counts(labels, CLASSES)
    assert [row.count for row in counts.rows] == [55, 30, 6, 3, 0]
    assert (counts.identified, counts.unidentified, counts.total) == (94, 6, 100)
    assert sum(row.count for row in counts.rows) + counts.unidentified == len(labels)
    assert 'unidentified' not in [row.name for row in counts.rows]
    assert counts.unidentified_percent == 6.0
    assert counts.unidentified_ci == pytest.approx(
        tuple(100 * v for v in proportion_interval(6, 100)))
    # Percentages are of the identified cells, and sum to 100.
    assert sum(row.percent for row in counts.rows) == pytest.approx(100)
    neutrophil = counts.rows[0]
    assert neutrophil.percent == pytest.approx(100 * 55 / 94)
    assert (neutrophil.ci_low, neutrophil.ci_high) == pytest.approx(
        tuple(100 * v for v in proportion_interval(55, 94)))
    assert counts.rows[-1].ci_low == 0 and counts.rows[-1].ci_high > 0  # none seen, not excluded
    table = counts.table()
    assert 'unidentified' in table.splitlines()[-1] and '(of all 100 cells)' in table


def test_class_indices_and_minus_one_are_accepted_as_labels():
    counts = differential_counts([0, 0, 1, -1, 4], CLASSES)
    assert [row.count for row in counts.rows] == [2, 1, 0, 0, 1]
    assert counts.unidentified == 1


def test_no_identified_cell_gives_nan_percentages():
    counts = differential_counts(['?', '?'], CLASSES, unidentified_label='?')
    assert counts.identified == 0 and counts.unidentified == 2
    assert all(np.isnan(row.percent) for row in counts.rows)


def test_labels_that_are_neither_a_class_nor_unidentified_are_refused():
    with pytest.raises(ValueError, match="label 'blast' is not one of the classes"):
        differential_counts(['neutrophil', 'blast'], CLASSES)
    with pytest.raises(ValueError, match='not a class index'):
        differential_counts([5], CLASSES)
    with pytest.raises(ValueError, match='is also a class'):
        differential_counts([], CLASSES, unidentified_label='monocyte')


CONFUSION = np.array([[90, 10, 0],   # true neutrophils: 10% called lymphocytes
                      [10, 80, 10],  # true lymphocytes: 10% each way
                      [0, 5, 95]])   # true monocytes: 5% called lymphocytes


def test_confusion_correction_recovers_the_true_counts():
    true = np.array([500, 300, 200])
    observed = CONFUSION.T / 100 @ true  # 480, 300, 220
    assert observed.tolist() == [480, 300, 220]
    assert correct_counts(observed, CONFUSION) == pytest.approx(true)
    labels = ['neutrophil'] * 480 + ['lymphocyte'] * 300 + ['monocyte'] * 220
    counts = differential_counts(labels, CLASSES[:3], confusion=CONFUSION)
    assert [row.corrected_count for row in counts.rows] == pytest.approx([500, 300, 200])
    assert [row.corrected_percent for row in counts.rows] == pytest.approx([50, 30, 20])
    assert [row.count for row in counts.rows] == [480, 300, 220]  # the counts as given stay
    assert 'corrected count' in counts.table()


def test_confusion_correction_with_an_unidentified_column():
    # Validation: of each class 10% left unidentified (the last column).
    confusion = np.array([[80, 10, 10], [0, 90, 10]])
    true = np.array([300, 700])
    observed = confusion.T / 100 @ true  # 240 class 0, 660 class 1, 100 unidentified
    labels = ['a'] * 240 + ['b'] * 660 + ['unidentified'] * 100
    counts = differential_counts(labels, ['a', 'b'], confusion=confusion)
    assert observed.tolist() == [240, 660, 100]
    assert [row.corrected_count for row in counts.rows] == pytest.approx(true)
    assert counts.unidentified == 100


def test_confusion_correction_stays_non_negative_and_refuses_unknown_errors():
    estimate = correct_counts([0, 100], np.array([[50, 50], [0, 100]]))
    assert (estimate >= 0).all() and estimate == pytest.approx([0, 100])
    with pytest.raises(ValueError, match=r"classes \['b'\] have no validation cells"):
        correct_counts([1, 1], np.array([[1, 0], [0, 0]]), classes=['a', 'b'])
    with pytest.raises(ValueError, match='observed counts'):
        correct_counts([1, 1, 1], CONFUSION[:2, :2])
