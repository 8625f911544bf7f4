"""Differential counts with 95% confidence intervals, unidentified cells apart, and confusion
correction.

The interval for a percentage of a differential count is the exact binomial (Clopper-Pearson)
interval, from scipy's ``binomtest(k, n).proportion_ci(method='exact')``: the limits that
Rümke's table for manual differentials tabulates (reproduced in CLSI H20), for any number of
cells counted, not only 100, 200, 500 or 1000. It treats the counted cells as a random sample
of the patient's white cells; it says nothing of classification errors (see
:func:`correct_counts` for those).

Unidentified cells (those the classifier declined, see
:func:`~mmcell.uncertainty.conformal.unidentified`) are counted once, apart: they are in no
class, and the class percentages are of the identified cells, so they add up to 100.

A white-cell differential (:func:`white_cell_differential`) is over leukocytes only, as CLSI H20
and ICSH practice has it: nucleated red cells are reported per 100 white cells, and what the
classifier calls a platelet (or a smudge cell) is not a white cell and is counted apart.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = ['NOT_WHITE_CLASSES', 'NUCLEATED_RED_CLASSES', 'proportion_interval', 'correct_counts',
           'DifferentialRow', 'Differential', 'differential_counts', 'white_cell_differential']

#: Classifier classes that are nucleated red cells (PBC's and Munich AML's names).
NUCLEATED_RED_CLASSES = ('erythroblast', 'EBO')
#: Classifier classes that are not white cells (platelets; Munich AML's smudge cells).
NOT_WHITE_CLASSES = ('platelet', 'KSC')


def proportion_interval(count: int, total: int, confidence: float = 0.95) -> Tuple[float, float]:
    """Exact binomial (Clopper-Pearson) confidence interval of ``count / total``, as fractions.

    Args:
        count (int): Cells of the kind counted.
        total (int): Cells counted.
        confidence (float): Confidence level. Defaults to 0.95.

    Returns:
        tuple[float, float]: Lower and upper limit, in [0, 1].

    Raises:
        ValueError: If ``total < 1``, ``count`` is not in ``[0, total]`` or ``confidence`` is
            not in (0, 1).

    Example:
        >>> low, high = proportion_interval(10, 100)  # 10% of a 100-cell differential
        >>> round(100 * low, 1), round(100 * high, 1)
        (4.9, 17.6)
        >>> abs(proportion_interval(0, 100)[1] - (1 - 0.025 ** (1 / 100))) < 1e-12  # closed form
        True
    """
    from scipy.stats import binomtest
    if int(total) != total or total < 1:
        raise ValueError(f'total must be a positive number of cells, got {total}')
    if int(count) != count or not 0 <= count <= total:
        raise ValueError(f'count must be a number of cells in [0, {total}], got {count}')
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be in (0, 1), got {confidence}')
    ci = binomtest(int(count), int(total)).proportion_ci(confidence_level=confidence,
                                                         method='exact')
    return float(ci.low), float(ci.high)


def correct_counts(observed: Sequence[float], confusion: Union[np.ndarray, torch.Tensor],
                   classes: Optional[Sequence[str]] = None) -> np.ndarray:
    """Estimate true class counts from counts made through a known confusion matrix.

    ``confusion[i, j]`` counts validation cells of true class ``i`` given class ``j`` (rows
    need not sum to anything: they are normalised to ``M[i, j] = P(given j | true i)``). The
    expected observed counts of true counts ``x`` are ``M^T x``; the estimate is the
    non-negative least-squares solution of ``M^T x = observed`` (``scipy.optimize.nnls``),
    which is the exact inverse when that has no negative entry.

    A confusion matrix with one more column than rows has the validation cells that were left
    unidentified in its last column; ``observed`` then ends with the unidentified count, and
    the estimate is of the true classes of all the cells, unidentified ones included.

    Args:
        observed (Sequence[float]): Counts given per class (then unidentified, see above).
        confusion (ndarray | Tensor): (C, C) or (C, C + 1), true class by given class.
        classes (Sequence[str], optional): Class names, for error messages. Defaults to None.

    Returns:
        ndarray: Estimated true counts, (C,), float64, non-negative.

    Raises:
        ValueError: If the shapes do not fit, an entry is negative, or a class has no
            validation cells (a zero row: its errors are unknown).

    Example:
        >>> import numpy as np
        >>> confusion = np.array([[90, 10], [20, 80]])  # 10% of class 0 called 1, 20% of 1 called 0
        >>> correct_counts([110, 90], confusion).round(6).tolist()  # made from 100 and 100
        [100.0, 100.0]
    """
    from scipy.optimize import nnls
    confusion = (confusion.detach().cpu().double().numpy() if isinstance(confusion, torch.Tensor)
                 else np.asarray(confusion, dtype=np.float64))
    observed = np.asarray(observed, dtype=np.float64).reshape(-1)
    if confusion.ndim != 2 or confusion.shape[1] not in (confusion.shape[0],
                                                         confusion.shape[0] + 1):
        raise ValueError(f'confusion must be (C, C) or (C, C + 1), got {confusion.shape}')
    if observed.size != confusion.shape[1]:
        raise ValueError(f'{observed.size} observed counts for a confusion matrix with '
                         f'{confusion.shape[1]} columns')
    if (confusion < 0).any() or (observed < 0).any():
        raise ValueError('counts and the confusion matrix must not be negative')
    names = list(classes) if classes is not None else list(range(confusion.shape[0]))
    totals = confusion.sum(axis=1)
    empty = [names[i] for i in np.flatnonzero(totals == 0)]
    if empty:
        raise ValueError(f'classes {empty} have no validation cells in the confusion matrix')
    rates = confusion / totals[:, None]
    estimate, _ = nnls(rates.T, observed)
    return estimate


class DifferentialRow(NamedTuple):
    """One class of a differential count.

    Attributes:
        name (str): The class.
        count (int): Cells given this class.
        percent (float): ``100 * count / identified`` (NaN if no cell was identified).
        ci_low (float): Lower limit of the percentage's confidence interval, in %.
        ci_high (float): Upper limit, in %.
        corrected_count (float | None): Estimated true count (see :func:`correct_counts`),
            None without a confusion matrix.
        corrected_percent (float | None): Its share of the estimated total, in %.
    """
    name: str
    count: int
    percent: float
    ci_low: float
    ci_high: float
    corrected_count: Optional[float] = None
    corrected_percent: Optional[float] = None


class Differential(NamedTuple):
    """A differential count: class rows of the identified cells, and the unidentified apart.

    Attributes:
        rows (list[DifferentialRow]): One per class, in the order of the classes.
        identified (int): Cells given a class (the denominator of the percentages).
        unidentified (int): Cells left unidentified (in no row).
        total (int): All cells counted, ``identified + unidentified``.
        unidentified_percent (float): ``100 * unidentified / total`` (NaN for no cells).
        unidentified_ci (tuple[float, float]): Its confidence interval, in %.
        confidence (float): The confidence level of the intervals.
        nucleated_red (dict[str, int]): A white-cell differential's nucleated red cells per
            class (in no row; see :func:`white_cell_differential`). Defaults to empty.
        not_white (dict[str, int]): Cells the classifier called something other than a white
            cell (platelets...), in no row. Defaults to empty.
    """
    rows: List[DifferentialRow]
    identified: int
    unidentified: int
    total: int
    unidentified_percent: float
    unidentified_ci: Tuple[float, float]
    confidence: float
    nucleated_red: Dict[str, int] = {}
    not_white: Dict[str, int] = {}

    @property
    def nucleated_red_per_100(self) -> float:
        """Nucleated red cells per 100 identified white cells (NaN for no white cell)."""
        count = sum(self.nucleated_red.values())
        return 100 * count / self.identified if self.identified else float('nan')

    def table(self) -> str:
        """The count as a plain-text table (one line per class, then the unidentified cells).

        Returns:
            str: The table.

        Example:
            >>> print(differential_counts(['a', 'b', 'a', '?'], ['a', 'b'], '?').table())
            class           count        %   95% CI
            a                   2     66.7   9.4-99.2
            b                   1     33.3   0.8-90.6
            identified          3    100.0
            unidentified        1     25.0   0.6-80.6 (of all 4 cells)
        """
        level = f'{100 * self.confidence:g}% CI'
        corrected = any(row.corrected_count is not None for row in self.rows)
        lines = [f'{"class":<14}{"count":>7}{"%":>9}   {level}'
                 + ('   corrected count (%)' if corrected else '')]
        for row in self.rows:
            line = (f'{row.name:<14}{row.count:>7}{row.percent:>9.1f}   '
                    f'{row.ci_low:.1f}-{row.ci_high:.1f}')
            if row.corrected_count is not None:
                line += f'   {row.corrected_count:.1f} ({row.corrected_percent:.1f})'
            lines.append(line)
        lines.append(f'{"identified":<14}{self.identified:>7}'
                     f'{100.0 if self.identified else float("nan"):>9.1f}')
        low, high = self.unidentified_ci
        lines.append(f'{"unidentified":<14}{self.unidentified:>7}'
                     f'{self.unidentified_percent:>9.1f}   {low:.1f}-{high:.1f} '
                     f'(of all {self.total} cells)')
        for name, count in self.nucleated_red.items():
            per_100 = 100 * count / self.identified if self.identified else float('nan')
            lines.append(f'{name:<14}{count:>7}   {per_100:.1f} per 100 white cells')
        for name, count in self.not_white.items():
            lines.append(f'{name:<14}{count:>7}   not a white cell, counted apart')
        return '\n'.join(lines)


def _percent_ci(count: int, total: int, confidence: float) -> Tuple[float, float, float]:
    if total == 0:
        return float('nan'), float('nan'), float('nan')
    low, high = proportion_interval(count, total, confidence)
    return 100 * count / total, 100 * low, 100 * high


def differential_counts(labels: Sequence[Union[str, int]], classes: Sequence[str],
                        unidentified_label: str = 'unidentified', confidence: float = 0.95,
                        confusion: Optional[Union[np.ndarray, torch.Tensor]] = None
                        ) -> Differential:
    """Count the cells of a smear per class, with confidence intervals of the percentages.

    Each cell is counted once: in its class, or as unidentified. The class percentages are of
    the identified cells (they sum to 100); the unidentified cells are reported apart, with
    their share of all cells counted. With ``confusion`` (a validation confusion matrix, see
    :func:`correct_counts`) each row also gets the count corrected for the classifier's
    confusions, by non-negative least squares of ``M^T x = observed``.

    Args:
        labels (Sequence[str | int]): Per cell, a class name or index, or
            ``unidentified_label`` (or the index -1) for an unidentified cell.
        classes (Sequence[str]): The classes, in the order of the rows (and of the confusion
            matrix).
        unidentified_label (str): The label of an unidentified cell. Defaults to
            ``'unidentified'``.
        confidence (float): Level of the intervals. Defaults to 0.95.
        confusion (ndarray | Tensor, optional): (C, C), or (C, C + 1) with the validation
            cells left unidentified in the last column. Defaults to None (no correction).

    Returns:
        Differential: The rows, the identified and unidentified counts.

    Raises:
        ValueError: If a label is not a class nor unidentified (naming it), the classes repeat
            or include ``unidentified_label``, or as :func:`correct_counts`.

    Example:
        >>> counts = differential_counts(['neutrophil'] * 6 + ['lymphocyte'] * 3 + ['?'],
        ...                              ['neutrophil', 'lymphocyte', 'monocyte'], '?')
        >>> [(row.name, row.count, round(row.percent, 1)) for row in counts.rows]
        [('neutrophil', 6, 66.7), ('lymphocyte', 3, 33.3), ('monocyte', 0, 0.0)]
        >>> counts.identified, counts.unidentified, counts.total
        (9, 1, 10)
    """
    classes = list(classes)
    if len(set(classes)) != len(classes):
        raise ValueError(f'the classes repeat: {classes}')
    if unidentified_label in classes:
        raise ValueError(f'unidentified_label {unidentified_label!r} is also a class')
    index = {name: k for k, name in enumerate(classes)}
    counts = np.zeros(len(classes), dtype=np.int64)
    unidentified = 0
    for label in labels:
        if isinstance(label, torch.Tensor):
            label = label.item()
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            if label == -1:
                unidentified += 1
            elif 0 <= label < len(classes):
                counts[label] += 1
            else:
                raise ValueError(f'label {label} is not a class index in [0, {len(classes) - 1}] '
                                 'nor -1 (unidentified)')
        elif label == unidentified_label:
            unidentified += 1
        elif label in index:
            counts[index[label]] += 1
        else:
            raise ValueError(f'label {label!r} is not one of the classes {classes} nor '
                             f'{unidentified_label!r}')
    identified = int(counts.sum())
    total = identified + unidentified
    corrected = corrected_share = None
    if confusion is not None:
        confusion_shape = np.shape(confusion)
        observed = list(counts)
        if len(confusion_shape) == 2 and confusion_shape[1] == len(classes) + 1:
            observed.append(unidentified)
        corrected = correct_counts(observed, confusion, classes)
        corrected_total = corrected.sum()
        corrected_share = (100 * corrected / corrected_total if corrected_total > 0 else
                           np.full_like(corrected, np.nan))
    rows = []
    for k, name in enumerate(classes):
        percent, low, high = _percent_ci(int(counts[k]), identified, confidence)
        rows.append(DifferentialRow(
            name, int(counts[k]), percent, low, high,
            None if corrected is None else float(corrected[k]),
            None if corrected_share is None else float(corrected_share[k])))
    percent, low, high = _percent_ci(unidentified, total, confidence)
    return Differential(rows, identified, unidentified, total, percent, (low, high), confidence)


def white_cell_differential(labels: Sequence[str], classes: Sequence[str],
                            unidentified_label: str = 'unidentified', confidence: float = 0.95,
                            confusion: Optional[Union[np.ndarray, torch.Tensor]] = None,
                            nucleated_red: Sequence[str] = NUCLEATED_RED_CLASSES,
                            not_white: Sequence[str] = NOT_WHITE_CLASSES) -> Differential:
    """A haematologist's white-cell differential of the cells a smear's detector called white.

    The rows and percentages are over the leukocyte classes only (they sum to 100 over the
    identified white cells). Nucleated red cells (``nucleated_red``) are counted apart and
    reported per 100 white cells; cells called ``not_white`` (a platelet in a white-cell box)
    are counted apart; unidentified cells as in :func:`differential_counts`. With
    ``confusion`` (over all ``classes``) the counts are corrected over all classes first and the
    white-cell rows' corrected percentages are of the corrected white cells.

    Args:
        labels (Sequence[str]): Per cell, a class name or ``unidentified_label``.
        classes (Sequence[str]): The classifier's classes.
        unidentified_label (str): Defaults to ``'unidentified'``.
        confidence (float): Level of the intervals. Defaults to 0.95.
        confusion (ndarray | Tensor, optional): As for :func:`differential_counts`, over all
            ``classes``. Defaults to None.
        nucleated_red (Sequence[str]): Classes that are nucleated red cells. Defaults to
            :data:`NUCLEATED_RED_CLASSES`.
        not_white (Sequence[str]): Classes that are not white cells. Defaults to
            :data:`NOT_WHITE_CLASSES`.

    Returns:
        Differential: Rows of the leukocyte classes, with ``nucleated_red`` and ``not_white``
        filled (each class of ``classes`` that is one of them).

    Raises:
        ValueError: As :func:`differential_counts`, or when no class is a leukocyte.

    Example:
        >>> classes = ['erythroblast', 'lymphocyte', 'neutrophil', 'platelet']
        >>> labels = ['neutrophil'] * 6 + ['lymphocyte'] * 2 + ['erythroblast', 'platelet']
        >>> diff = white_cell_differential(labels, classes)
        >>> [(row.name, row.count, round(row.percent, 1)) for row in diff.rows]
        [('lymphocyte', 2, 25.0), ('neutrophil', 6, 75.0)]
        >>> diff.nucleated_red, diff.nucleated_red_per_100, diff.not_white
        ({'erythroblast': 1}, 12.5, {'platelet': 1})
    """
    classes = list(classes)
    everything = differential_counts(labels, classes, unidentified_label, confidence, confusion)
    red = {c: row.count for c, row in zip(classes, everything.rows) if c in nucleated_red}
    apart = {c: row.count for c, row in zip(classes, everything.rows) if c in not_white}
    white = [row for row in everything.rows if row.name not in red and row.name not in apart]
    if not white:
        raise ValueError(f'none of the classes {classes} is a white cell')
    identified = sum(row.count for row in white)
    corrected_total = (sum(row.corrected_count for row in white) if confusion is not None
                       else None)
    rows = []
    for row in white:
        percent, low, high = _percent_ci(row.count, identified, confidence)
        share = None
        if corrected_total is not None:
            share = 100 * row.corrected_count / corrected_total if corrected_total > 0 \
                else float('nan')
        rows.append(DifferentialRow(row.name, row.count, percent, low, high,
                                    row.corrected_count, share))
    total = identified + everything.unidentified
    percent, low, high = _percent_ci(everything.unidentified, total, confidence)
    return Differential(rows, identified, everything.unidentified, total, percent, (low, high),
                        confidence, red, apart)
