"""Class-conditional (Mondrian) split-conformal prediction sets, and the 'unidentified' bin.

The nonconformity score of a calibration cell is ``s = 1 - p(true class)``. For each class
``k`` separately, with the ``n_k`` calibration scores of the cells of class ``k`` sorted,
the threshold ``q_k`` is the ``ceil((n_k + 1)(1 - alpha))``-th smallest of them. A new cell's
prediction set holds every class ``k`` with ``1 - p_k <= q_k``. If the calibration cells and
the new cells are exchangeable within each class, a new cell of class ``k`` has its class in
the set with probability at least ``1 - alpha`` (the coverage), for every class on its own:
rare classes are not traded for common ones (Vovk 2005; Angelopoulos and Bates, "A Gentle
Introduction to Conformal Prediction", 2021, Sect. 4.1 of class-conditional coverage).

The rank must not exceed ``n_k`` (otherwise ``q_k`` would be +inf and every set would hold
``k``): ``ceil((n_k + 1)(1 - alpha)) <= n_k`` holds exactly when
``n_k >= ceil(1 / alpha) - 1`` (19 cells for 95% coverage, 9 for 90%, 99 for 99%); a class
with fewer calibration cells is refused. The arithmetic is exact (fractions), so 95% needs 19
cells and not, through float rounding, 20.

A cell is *unidentified* when its set is not exactly one class: empty (no class is plausible,
e.g. an unknown cell type) or several (the model cannot tell them apart at this coverage).

Written here, not taken from a library: torchcp needs transformers (which breaks
``import mmpretrain.models``), torch_geometric and torchsort; mapie wraps scikit-learn
estimators and needs scikit-learn. The method is a sort and an index per class.
"""
import math
from fractions import Fraction
from typing import List, Optional, Sequence, Union

import numpy as np
import torch

__all__ = [
    'min_calibration_cells', 'calibration_scores', 'conformal_thresholds', 'prediction_sets',
    'unidentified', 'class_coverage'
]


def _coverage(coverage: float) -> Fraction:
    if not isinstance(coverage, (int, float)) or not 0 < coverage < 1:
        raise ValueError(f'coverage must be a number in (0, 1), e.g. 0.95, got {coverage!r}')
    # The shortest fraction that is this float (0.95 -> 19/20), so ranks are exact.
    return Fraction(str(float(coverage)))


def min_calibration_cells(coverage: float) -> int:
    """The fewest calibration cells a class needs for a finite threshold at ``coverage``.

    ``ceil(1 / (1 - coverage)) - 1``: the smallest ``n`` with ``ceil((n + 1) coverage) <= n``.

    Args:
        coverage (float): Wanted coverage in (0, 1).

    Returns:
        int: The number of cells.

    Raises:
        ValueError: If ``coverage`` is not in (0, 1).

    Example:
        >>> [min_calibration_cells(c) for c in (0.9, 0.95, 0.99)]
        [9, 19, 99]
    """
    alpha = 1 - _coverage(coverage)
    return math.ceil(1 / alpha) - 1


def calibration_scores(probs: torch.Tensor, labels: torch.Tensor,
                       num_classes: Optional[int] = None) -> List[torch.Tensor]:
    """The sorted nonconformity scores ``1 - p(true class)`` of the calibration cells, per class.

    Keep these (not thresholds) to choose any coverage later.

    Args:
        probs (Tensor): Calibrated probabilities of the calibration cells, (N, C).
        labels (Tensor): Their true classes, (N,).
        num_classes (int, optional): C. Defaults to None (``probs.shape[1]``).

    Returns:
        list[Tensor]: For each class, its cells' scores sorted ascending (float64; empty for a
        class without calibration cells).

    Raises:
        ValueError: If the shapes do not match or a label is not a class.

    Example:
        >>> import torch
        >>> probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
        >>> scores = calibration_scores(probs, torch.tensor([0, 0, 1]))
        >>> [s.round(decimals=4).tolist() for s in scores]
        [[0.1, 0.4], [0.2]]
    """
    probs = torch.as_tensor(probs).detach().cpu()
    labels = torch.as_tensor(labels).detach().cpu().long().reshape(-1)
    num_classes = probs.shape[1] if num_classes is None else num_classes
    if probs.dim() != 2 or probs.shape[0] != labels.numel() or probs.shape[1] != num_classes:
        raise ValueError(f'probs must be (N, {num_classes}) with one row per label, got '
                         f'{tuple(probs.shape)} and {labels.numel()} labels')
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'labels must be class indices in [0, {num_classes - 1}]')
    true_prob = probs.double().gather(1, labels[:, None])[:, 0] if labels.numel() else \
        torch.zeros(0, dtype=torch.float64)
    scores = 1 - true_prob
    return [scores[labels == k].sort().values for k in range(num_classes)]


def conformal_thresholds(scores: Sequence[torch.Tensor], coverage: float,
                         classes: Optional[Sequence[str]] = None) -> torch.Tensor:
    """Per-class thresholds ``q_k`` on ``1 - p_k`` for class-conditional ``coverage``.

    Args:
        scores (Sequence[Tensor]): Per class, the calibration scores (from
            :func:`calibration_scores`; sorted or not).
        coverage (float): Wanted coverage in (0, 1), e.g. 0.95.
        classes (Sequence[str], optional): Class names, for the error message. Defaults to
            None (class indices).

    Returns:
        Tensor: ``q``, (C,), float64.

    Raises:
        ValueError: If ``coverage`` is not in (0, 1), or a class has fewer than
            :func:`min_calibration_cells` calibration cells (naming the class, how many it has
            and how many are needed).

    Example:
        >>> import torch
        >>> scores = [torch.arange(1, 20) / 100, torch.arange(1, 40) / 100]  # 19 and 39 cells
        >>> conformal_thresholds(scores, 0.95)  # ranks ceil(20 * .95) = 19 and ceil(40 * .95) = 38
        tensor([0.1900, 0.3800], dtype=torch.float64)
        >>> conformal_thresholds([torch.rand(10)], 0.95, classes=['basophil'])
        Traceback (most recent call last):
        ...
        ValueError: class 'basophil' has 10 calibration cells; 95% coverage needs at least 19 ...
    """
    level = _coverage(coverage)
    needed = min_calibration_cells(coverage)
    names = list(classes) if classes is not None else [str(k) for k in range(len(scores))]
    if len(names) != len(scores):
        raise ValueError(f'{len(names)} class names for the scores of {len(scores)} classes')
    thresholds = []
    for name, class_scores in zip(names, scores):
        class_scores = torch.as_tensor(class_scores, dtype=torch.float64).reshape(-1).sort().values
        n = class_scores.numel()
        if n < needed:
            raise ValueError(
                f'class {name!r} has {n} calibration cells; {float(level) * 100:g}% coverage '
                f'needs at least {needed} (ceil(1 / (1 - coverage)) - 1) for a finite threshold')
        rank = math.ceil((n + 1) * level)  # 1-based, <= n by the check above
        thresholds.append(class_scores[rank - 1])
    return torch.stack(thresholds) if thresholds else torch.zeros(0, dtype=torch.float64)


def prediction_sets(probs: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """The prediction set of each cell: the classes ``k`` with ``1 - p_k <= q_k``.

    Args:
        probs (Tensor): Calibrated probabilities, (N, C).
        thresholds (Tensor): ``q``, (C,), from :func:`conformal_thresholds`.

    Returns:
        Tensor: Boolean membership, (N, C).

    Raises:
        ValueError: If ``thresholds`` does not have one entry per class.

    Example:
        >>> import torch
        >>> probs = torch.tensor([[0.95, 0.05], [0.5, 0.5], [0.02, 0.98]])
        >>> prediction_sets(probs, torch.tensor([0.2, 0.2])).int()
        tensor([[1, 0],
                [0, 0],
                [0, 1]], dtype=torch.int32)
    """
    probs = torch.as_tensor(probs)
    thresholds = torch.as_tensor(thresholds, dtype=torch.float64, device=probs.device)
    if thresholds.shape != probs.shape[-1:]:
        raise ValueError(f'{thresholds.numel()} thresholds for {probs.shape[-1]} classes')
    return (1 - probs.double()) <= thresholds


def unidentified(sets: torch.Tensor) -> torch.Tensor:
    """Cells whose prediction set is not exactly one class (empty or ambiguous), (N,) bool.

    Args:
        sets (Tensor): Boolean prediction sets, (N, C).

    Returns:
        Tensor: True for an unidentified cell.

    Example:
        >>> import torch
        >>> unidentified(torch.tensor([[True, False], [False, False], [True, True]]))
        tensor([False,  True,  True])
    """
    return torch.as_tensor(sets).sum(dim=-1) != 1


def class_coverage(sets: torch.Tensor, labels: Union[torch.Tensor, np.ndarray],
                   num_classes: Optional[int] = None) -> torch.Tensor:
    """For each class, the share of its cells whose set holds the true class (NaN if none).

    Args:
        sets (Tensor): Boolean prediction sets, (N, C).
        labels (Tensor | ndarray): True classes, (N,).
        num_classes (int, optional): C. Defaults to None (``sets.shape[1]``).

    Returns:
        Tensor: Coverage per class, (C,), float64.

    Example:
        >>> import torch
        >>> sets = torch.tensor([[True, False], [False, True], [True, True]])
        >>> class_coverage(sets, torch.tensor([0, 0, 1]))
        tensor([0.5000, 1.0000], dtype=torch.float64)
    """
    sets = torch.as_tensor(sets)
    labels = torch.as_tensor(labels).long().reshape(-1).to(sets.device)
    num_classes = sets.shape[1] if num_classes is None else num_classes
    hit = sets.gather(1, labels[:, None])[:, 0].double()
    covered = torch.zeros(num_classes, dtype=torch.float64).index_add_(0, labels.cpu(), hit.cpu())
    count = torch.bincount(labels.cpu(), minlength=num_classes).double()
    return covered / count
