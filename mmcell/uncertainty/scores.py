"""Per-cell trust scores, the threshold that accepts a share of known cells, AUROC, risk-coverage.

Every score here is oriented so that **higher means more trustworthy** (more like the
training classes):

- ``max_softmax``: the largest softmax probability of ``logits / T`` (Hendrycks and Gimpel,
  2017), in (1/C, 1];
- ``negative_energy``: ``T * logsumexp(logits / T)``, minus the energy of Liu et al. (2020);
- ``mahalanobis``: minus the smallest squared Mahalanobis distance of the head's pre-logit
  feature to a class mean, with one covariance shared by the classes (Lee et al., 2018).

From pytorch-ood (pinned in requirements/stack.txt) come ``MaxSoftmax.score`` and
``EnergyBased.score`` (negated: pytorch-ood scores outliers high), the scoring of
``Mahalanobis.predict_features`` (half the smallest squared distance, negated and doubled
here) and ``metrics.functional.auroc`` (the risk-coverage figure, with pytorch-ood's ``aurra``,
is drawn by :mod:`mmcell.visualization.trust_plots`). The Mahalanobis *fit* is ours: pytorch-ood's
``fit_features`` leaves the covariance undivided by the number of cells (so distances shrink as
the training set grows) and adds a fixed ridge of 1e-6 whatever the scale of the features,
asserting (not raising) on a missing class. :func:`fit_mahalanobis` divides by N and adds a
ridge relative to the mean variance, so a singular covariance (more feature channels than
cells, or collapsed features) still gives a well-conditioned precision. pytorch-ood is
imported inside the functions, so ``import mmcell.uncertainty`` stays light.
"""
import math
from fractions import Fraction
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = [
    'max_softmax', 'negative_energy', 'MahalanobisFit', 'fit_mahalanobis', 'mahalanobis',
    'acceptance_threshold', 'known_unknown_auroc', 'unknown_acceptance', 'RiskCoverage',
    'risk_coverage_curve'
]

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence]


def _double(x: ArrayLike) -> torch.Tensor:
    """float64 on the CPU, flattened; lists and arrays without a float32 detour."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().reshape(-1)
    return torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(-1)


def _matrix(x: ArrayLike) -> torch.Tensor:
    """float64 on the CPU, shape kept; lists and arrays without a float32 detour."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double()
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def _float(x: ArrayLike) -> torch.Tensor:
    x = torch.as_tensor(x).detach()
    return x if x.is_floating_point() else x.float()


def max_softmax(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Maximum softmax probability of ``logits / temperature``, (N,); higher = more trusted.

    Args:
        logits (Tensor): Logits, (N, C).
        temperature (float): Temperature (e.g. from
            :func:`~mmcell.uncertainty.calibration.fit_temperature`). Defaults to 1.

    Returns:
        Tensor: Scores in (1/C, 1].

    Example:
        >>> import torch
        >>> max_softmax(torch.tensor([[2., 0.], [0., 0.]])).round(decimals=4)
        tensor([0.8808, 0.5000])
    """
    from pytorch_ood.detector import MaxSoftmax
    return -MaxSoftmax.score(_float(logits), temperature)


def negative_energy(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``T * logsumexp(logits / T)``, minus the energy, (N,); higher = more trusted.

    Args:
        logits (Tensor): Logits, (N, C).
        temperature (float): Temperature ``T``. Defaults to 1.

    Returns:
        Tensor: Scores (unbounded; about the largest logit when it stands out).

    Example:
        >>> import torch
        >>> negative_energy(torch.tensor([[0., 0.]])).round(decimals=4)  # log 2
        tensor([0.6931])
    """
    from pytorch_ood.detector import EnergyBased
    return -EnergyBased.score(_float(logits), temperature)


class MahalanobisFit(NamedTuple):
    """Class means and the shared precision matrix of pre-logit features.

    Attributes:
        means (Tensor): (C, D), float64.
        precision (Tensor): Inverse of the regularised shared covariance, (D, D), float64.
    """
    means: torch.Tensor
    precision: torch.Tensor


def fit_mahalanobis(features: ArrayLike, labels: ArrayLike, num_classes: Optional[int] = None,
                    ridge: float = 1e-3) -> MahalanobisFit:
    """Fit class means and a shared covariance on training features.

    The covariance is ``sum_i (z_i - mu_{y_i})(z_i - mu_{y_i})^T / N`` plus
    ``ridge * trace / D`` on the diagonal (``ridge`` times the mean variance, or ``ridge`` if
    all variances are 0), so it is invertible even when singular.

    Args:
        features (Tensor | ndarray): Pre-logit features of training cells, (N, D).
        labels (Tensor | ndarray): Their classes, (N,).
        num_classes (int, optional): C. Defaults to None (``labels.max() + 1``).
        ridge (float): Relative ridge. Defaults to 1e-3.

    Returns:
        MahalanobisFit: ``means`` (C, D) and ``precision`` (D, D), float64.

    Raises:
        ValueError: If the shapes do not match, ``ridge`` is not positive, or a class has no
            training cells (naming it).

    Example:
        >>> import torch
        >>> features = torch.tensor([[0., 0.], [2., 0.], [10., 10.], [12., 10.]])
        >>> fit = fit_mahalanobis(features, torch.tensor([0, 0, 1, 1]))
        >>> fit.means.tolist()
        [[1.0, 0.0], [11.0, 10.0]]
        >>> fit.precision.shape  # the second channel has no variance: the ridge fills it in
        torch.Size([2, 2])
    """
    features = _matrix(features)
    labels = torch.as_tensor(labels).detach().cpu().long().reshape(-1)
    if features.dim() != 2 or features.size(0) != labels.numel() or labels.numel() == 0:
        raise ValueError(f'features must be (N, D) with one row per label, got '
                         f'{tuple(features.shape)} and {labels.numel()} labels')
    if not ridge > 0:
        raise ValueError(f'ridge must be positive, got {ridge}')
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f'labels must be class indices in [0, {num_classes - 1}]')
    counts = torch.bincount(labels, minlength=num_classes)
    missing = (counts == 0).nonzero().flatten().tolist()
    if missing:
        raise ValueError(f'classes {missing} have no training features to fit a mean on')
    means = torch.zeros(num_classes, features.size(1), dtype=torch.float64)
    means.index_add_(0, labels, features)
    means /= counts[:, None]
    centred = features - means[labels]
    cov = centred.T @ centred / features.size(0)
    dim = cov.size(0)
    scale = float(torch.trace(cov)) / dim
    cov += ridge * (scale if scale > 0 else 1.0) * torch.eye(dim, dtype=torch.float64)
    precision = torch.linalg.inv(cov)
    return MahalanobisFit(means, (precision + precision.T) / 2)


def mahalanobis(features: torch.Tensor, means: torch.Tensor,
                precision: torch.Tensor) -> torch.Tensor:
    """Minus the smallest squared Mahalanobis distance to a class mean, (N,); higher = more
    trusted.

    Args:
        features (Tensor): Pre-logit features, (N, D).
        means (Tensor): Class means, (C, D), from :func:`fit_mahalanobis`.
        precision (Tensor): Shared precision, (D, D).

    Returns:
        Tensor: Scores (<= 0), float64.

    Raises:
        ValueError: If the feature width does not match the fit.

    Example:
        >>> import torch
        >>> means, precision = torch.zeros(1, 2), torch.eye(2) / 4  # variance 4
        >>> mahalanobis(torch.tensor([[2., 0.], [0., 4.]]), means, precision)
        tensor([-1., -4.], dtype=torch.float64)
    """
    from pytorch_ood.detector import Mahalanobis
    features = _matrix(features)
    if features.dim() != 2 or features.size(1) != means.shape[1]:
        raise ValueError(f'features must be (N, {means.shape[1]}) like the fit, got '
                         f'{tuple(features.shape)}')
    detector = Mahalanobis(None)
    detector.mu = _matrix(means)
    detector.precision = _matrix(precision)
    return -2 * detector.predict_features(features)  # it gives half the smallest distance


def _fraction(share: float, name: str) -> Fraction:
    if not isinstance(share, (int, float)) or not (0 < share <= 1):
        raise ValueError(f'{name} must be a share in (0, 1], got {share!r}')
    return Fraction(str(float(share)))


def acceptance_threshold(scores: ArrayLike, accept: float = 0.95) -> float:
    """The score threshold that accepts (``score >= threshold``) ``accept`` of these cells.

    With ``n`` known (e.g. validation) cells, the ``floor(n * (1 - accept))`` lowest are
    rejected and the threshold is the next score; ties with it are accepted too, so at least
    ``accept`` of the cells pass.

    Args:
        scores (Tensor | ndarray): Trust scores of known cells, (N,).
        accept (float): Share to accept, in (0, 1]. Defaults to 0.95.

    Returns:
        float: The threshold.

    Raises:
        ValueError: If there are no scores, a score is NaN, or ``accept`` is not in (0, 1].

    Example:
        >>> acceptance_threshold(list(range(1, 21)), accept=0.95)  # rejects only the lowest
        2.0
    """
    level = _fraction(accept, 'accept')
    scores = _double(scores)
    if scores.numel() == 0 or scores.isnan().any():
        raise ValueError('acceptance_threshold needs scores of known cells, without NaN')
    rejected = math.floor(scores.numel() * (1 - level))
    return float(scores.sort().values[rejected])


def _known_unknown(known_scores: ArrayLike,
                   unknown_scores: ArrayLike) -> Tuple[torch.Tensor, torch.Tensor]:
    known, unknown = _double(known_scores), _double(unknown_scores)
    if known.numel() == 0 or unknown.numel() == 0:
        raise ValueError('need scores of both known and unknown cells')
    return known, unknown


def known_unknown_auroc(known_scores: ArrayLike, unknown_scores: ArrayLike) -> float:
    """AUROC of telling unknown cells from known ones by a trust score.

    The probability that a random known cell scores higher than a random unknown one (ties
    count half): 1 separates perfectly, 0.5 is chance.

    Args:
        known_scores (Tensor | ndarray): Trust scores of cells of the training classes.
        unknown_scores (Tensor | ndarray): Trust scores of cells of other kinds.

    Returns:
        float: The AUROC.

    Raises:
        ValueError: If either set is empty or a score is NaN.

    Example:
        >>> round(known_unknown_auroc([0.9, 0.8, 0.4], [0.5, 0.1]), 4)  # 5 of 6 pairs in order
        0.8333
    """
    from pytorch_ood.metrics.functional import auroc
    known, unknown = _known_unknown(known_scores, unknown_scores)
    outlier = -torch.cat([known, unknown])  # pytorch-ood: unknowns (label < 0) score high
    labels = torch.cat([torch.zeros(known.numel()), -torch.ones(unknown.numel())]).long()
    return float(auroc(outlier, labels))


def unknown_acceptance(known_scores: ArrayLike, unknown_scores: ArrayLike,
                       accept: float = 0.95) -> float:
    """The share of unknown cells accepted at the threshold that accepts ``accept`` of the known.

    (The false positive rate at 95% true positive rate when known cells are the positives.)

    Args:
        known_scores (Tensor | ndarray): Trust scores of cells of the training classes.
        unknown_scores (Tensor | ndarray): Trust scores of cells of other kinds.
        accept (float): Share of known cells to accept. Defaults to 0.95.

    Returns:
        float: Share of unknown cells with a score at or above the threshold.

    Raises:
        ValueError: As :func:`acceptance_threshold`, or if ``unknown_scores`` is empty.

    Example:
        >>> unknown_acceptance(list(range(1, 21)), [0, 1, 5], accept=0.95)  # threshold 2
        0.3333333333333333
    """
    known, unknown = _known_unknown(known_scores, unknown_scores)
    return float((unknown >= acceptance_threshold(known, accept)).double().mean())


class RiskCoverage(NamedTuple):
    """Accuracy of the accepted cells against the share accepted, accepting by score.

    One point per distinct score, from the most trusted down (tied cells enter together).

    Attributes:
        coverage (ndarray): Share of cells accepted, increasing to 1.
        accuracy (ndarray): Share of the accepted cells that are right.
        threshold (ndarray): The lowest score accepted at that point.
    """
    coverage: np.ndarray
    accuracy: np.ndarray
    threshold: np.ndarray


def risk_coverage_curve(scores: ArrayLike, correct: ArrayLike) -> RiskCoverage:
    """The risk-coverage curve of a trust score (selective classification).

    Args:
        scores (Tensor | ndarray): Trust scores, (N,).
        correct (Tensor | ndarray): Whether each cell's predicted class is right, (N,).

    Returns:
        RiskCoverage: Coverage, accuracy and threshold per distinct score.

    Raises:
        ValueError: If the lengths differ, there are no cells, or a score is NaN.

    Example:
        >>> curve = risk_coverage_curve([0.9, 0.8, 0.8, 0.3], [1, 1, 0, 0])
        >>> curve.coverage.tolist(), curve.accuracy.tolist()
        ([0.25, 0.75, 1.0], [1.0, 0.6666666666666666, 0.5])
    """
    scores, correct = _double(scores).numpy(), _double(correct).numpy()
    if scores.size != correct.size or scores.size == 0 or np.isnan(scores).any():
        raise ValueError(f'need as many scores as correct flags, without NaN; got {scores.size} '
                         f'and {correct.size}')
    order = np.argsort(-scores, kind='stable')
    ranked = scores[order]
    hits = np.cumsum(correct[order])
    last = np.append(ranked[1:] != ranked[:-1], True)  # the last cell of each tie group
    accepted = np.arange(1, scores.size + 1)[last]
    return RiskCoverage(accepted / scores.size, hits[last] / accepted, ranked[last])
