"""Calibrated probabilities: temperature and vector scaling, ECE, Brier score, reliability bins.

Temperature scaling (Guo et al., ICML 2017) divides the logits by one number ``T`` fitted on
validation logits by minimising the negative log-likelihood; vector scaling fits a scale and a
bias per class (``z * w + b``). Both leave the top-1 class of temperature scaling unchanged
(vector scaling may change it).

Written here, not taken from a library: pytorch-ood's ``TemperatureScaling`` optimises ``T``
itself (not ``log T``, so a step can make it negative) with 50 L-BFGS iterations at a fixed
learning rate and says itself that the optimum is only approximately reached; it has no vector
scaling. Its ``calibration_error`` bins by equal counts (adaptive bins), not by equal-width
confidence bins as the ECE reported in the literature. netcal has both, but needs scikit-learn,
pyro, tensorboard and gpytorch; torchcp needs transformers, which breaks
``import mmpretrain.models``. The fits below are a few lines of torch's L-BFGS on ``log T``
(or ``w, b``) in float64, run to convergence.

Conventions: ``probs`` are (N, C) probabilities, ``labels`` (N,) class indices; confidence is
the top-1 probability; the ``num_bins`` equal-width bins are ``(m/M, (m+1)/M]`` (the first also
holds confidence 0).
"""
from typing import NamedTuple, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    'fit_temperature', 'apply_temperature', 'fit_vector_scaling', 'apply_vector_scaling',
    'expected_calibration_error', 'brier_score', 'ReliabilityBins', 'reliability_bins'
]

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence]


def _logits_labels(logits: ArrayLike, labels: ArrayLike) -> Tuple[torch.Tensor, torch.Tensor]:
    logits = (logits.detach().to('cpu', torch.float64) if isinstance(logits, torch.Tensor) else
              torch.as_tensor(np.asarray(logits, dtype=np.float64)))
    labels = torch.as_tensor(labels).detach().to('cpu', torch.long).reshape(-1)
    if logits.dim() != 2:
        raise ValueError(f'logits must be (N, C), got shape {tuple(logits.shape)}')
    if logits.size(0) != labels.numel():
        raise ValueError(f'{logits.size(0)} rows of logits but {labels.numel()} labels')
    if logits.size(0) == 0:
        raise ValueError('no cells to fit on')
    if labels.min() < 0 or labels.max() >= logits.size(1):
        raise ValueError(f'labels must be class indices in [0, {logits.size(1) - 1}], got '
                         f'{int(labels.min())}..{int(labels.max())}')
    return logits, labels


def _minimise(params, loss_fn, max_iter: int) -> None:
    optimizer = torch.optim.LBFGS(params, lr=1, max_iter=max_iter, tolerance_grad=1e-10,
                                  tolerance_change=1e-12, line_search_fn='strong_wolfe')

    def closure():
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    optimizer.step(closure)


def fit_temperature(logits: ArrayLike, labels: ArrayLike, max_iter: int = 200) -> float:
    """The temperature ``T`` that minimises the NLL of ``softmax(logits / T)`` on ``labels``.

    Optimises ``log T`` (so ``T`` stays positive) with L-BFGS in float64.

    Args:
        logits (Tensor | ndarray): Validation logits, (N, C).
        labels (Tensor | ndarray): Their true classes, (N,).
        max_iter (int): L-BFGS iterations at most. Defaults to 200.

    Returns:
        float: The temperature (> 1 softens over-confident logits).

    Raises:
        ValueError: If the shapes do not match, there are no cells, or a label is not a class.

    Example:
        >>> import torch
        >>> logits = torch.tensor([[4., 0.], [0., 4.], [4., 0.], [4., 0.]])
        >>> labels = torch.tensor([0, 1, 1, 0])  # one of four confident answers is wrong
        >>> t = fit_temperature(logits, labels)
        >>> round(t, 3)  # softmax(4 / t) = 3/4, the accuracy: t = 4 / ln 3
        3.641
    """
    logits, labels = _logits_labels(logits, labels)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    _minimise([log_t], lambda: F.cross_entropy(logits / log_t.exp(), labels), max_iter)
    return float(log_t.detach().exp())


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Calibrated probabilities ``softmax(logits / temperature)``, (N, C).

    Args:
        logits (Tensor): Logits, (N, C).
        temperature (float): From :func:`fit_temperature`.

    Returns:
        Tensor: Probabilities, in the dtype of ``logits`` (float32 for integer logits).

    Raises:
        ValueError: If ``temperature`` is not positive.

    Example:
        >>> import torch
        >>> apply_temperature(torch.tensor([[2., 0.]]), 2.).round(decimals=4)
        tensor([[0.7311, 0.2689]])
    """
    if not temperature > 0:
        raise ValueError(f'temperature must be positive, got {temperature}')
    logits = torch.as_tensor(logits)
    if not logits.is_floating_point():
        logits = logits.float()
    return (logits / temperature).softmax(dim=-1)


def fit_vector_scaling(logits: ArrayLike, labels: ArrayLike,
                       max_iter: int = 500) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-class scale ``w`` and bias ``b`` minimising the NLL of ``softmax(logits * w + b)``.

    Starts from ``w = 1, b = 0`` (the uncalibrated model) and runs L-BFGS in float64. With few
    validation cells of a class its bias can grow large; prefer temperature scaling then.

    Args:
        logits (Tensor | ndarray): Validation logits, (N, C).
        labels (Tensor | ndarray): Their true classes, (N,).
        max_iter (int): L-BFGS iterations at most. Defaults to 500.

    Returns:
        tuple[Tensor, Tensor]: ``scale`` and ``bias``, each (C,), float32.

    Raises:
        ValueError: If the shapes do not match, there are no cells, or a label is not a class.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.randint(0, 3, (3000, ), generator=g)
        >>> # The model under-rates class 2 by a bias of 1.
        >>> logits = 3 * torch.nn.functional.one_hot(labels, 3) + torch.randn(3000, 3, generator=g)
        >>> scale, bias = fit_vector_scaling(logits - torch.tensor([0., 0., 1.]), labels)
        >>> scale.shape, bias.shape
        (torch.Size([3]), torch.Size([3]))
    """
    logits, labels = _logits_labels(logits, labels)
    num_classes = logits.size(1)
    scale = torch.ones(num_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    _minimise([scale, bias], lambda: F.cross_entropy(logits * scale + bias, labels), max_iter)
    bias = bias.detach() - bias.detach().mean()  # softmax ignores a common shift
    return scale.detach().float(), bias.float()


def apply_vector_scaling(logits: torch.Tensor, scale: torch.Tensor,
                         bias: torch.Tensor) -> torch.Tensor:
    """Calibrated probabilities ``softmax(logits * scale + bias)``, (N, C).

    Args:
        logits (Tensor): Logits, (N, C).
        scale (Tensor): Per-class scale, (C,), from :func:`fit_vector_scaling`.
        bias (Tensor): Per-class bias, (C,).

    Returns:
        Tensor: Probabilities.

    Raises:
        ValueError: If ``scale`` or ``bias`` does not have one entry per class.

    Example:
        >>> import torch
        >>> apply_vector_scaling(torch.zeros(1, 2), torch.ones(2), torch.tensor([0., 1.]))
        tensor([[0.2689, 0.7311]])
    """
    logits = torch.as_tensor(logits)
    if not logits.is_floating_point():
        logits = logits.float()
    scale = torch.as_tensor(scale).to(logits)
    bias = torch.as_tensor(bias).to(logits)
    if scale.shape != logits.shape[-1:] or bias.shape != logits.shape[-1:]:
        raise ValueError(f'scale {tuple(scale.shape)} and bias {tuple(bias.shape)} must have '
                         f'one entry per class ({logits.shape[-1]})')
    return (logits * scale + bias).softmax(dim=-1)


def _probs_labels(probs: ArrayLike, labels: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    probs = (probs.detach().cpu().double().numpy() if isinstance(probs, torch.Tensor) else
             np.asarray(probs, dtype=np.float64))
    labels = np.asarray(torch.as_tensor(labels).detach().cpu().long()).reshape(-1)
    if probs.ndim != 2 or probs.shape[0] != labels.size:
        raise ValueError(f'probs must be (N, C) with one row per label, got {probs.shape} and '
                         f'{labels.size} labels')
    if labels.size == 0:
        raise ValueError('no cells')
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f'labels must be class indices in [0, {probs.shape[1] - 1}]')
    return probs, labels


class ReliabilityBins(NamedTuple):
    """The equal-width confidence bins of a reliability diagram (numpy arrays, one per bin).

    Attributes:
        lower (ndarray): Lower edge of each bin.
        upper (ndarray): Upper edge.
        confidence (ndarray): Mean top-1 probability of the cells in the bin (NaN if empty).
        accuracy (ndarray): Share of those cells whose top-1 class is right (NaN if empty).
        count (ndarray): Cells in the bin.
    """
    lower: np.ndarray
    upper: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray


def reliability_bins(probs: ArrayLike, labels: ArrayLike, num_bins: int = 15) -> ReliabilityBins:
    """Confidence, accuracy and count of the cells in each of ``num_bins`` equal-width bins.

    Args:
        probs (Tensor | ndarray): Probabilities, (N, C).
        labels (Tensor | ndarray): True classes, (N,).
        num_bins (int): Bins over [0, 1]. Defaults to 15.

    Returns:
        ReliabilityBins: Per bin: edges, mean confidence, accuracy and count.

    Raises:
        ValueError: If the shapes do not match, there are no cells, or ``num_bins < 1``.

    Example:
        >>> bins = reliability_bins([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [0, 1, 1], num_bins=2)
        >>> bins.count.tolist(), bins.accuracy.tolist()
        ([0, 3], [nan, 0.6666666666666666])
    """
    if num_bins < 1:
        raise ValueError(f'num_bins must be at least 1, got {num_bins}')
    probs, labels = _probs_labels(probs, labels)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    index = np.clip(np.ceil(confidence * num_bins).astype(np.int64) - 1, 0, num_bins - 1)
    count = np.bincount(index, minlength=num_bins)
    with np.errstate(invalid='ignore', divide='ignore'):
        mean_conf = np.bincount(index, confidence, minlength=num_bins) / count
        accuracy = np.bincount(index, correct, minlength=num_bins) / count
    edges = np.linspace(0, 1, num_bins + 1)
    return ReliabilityBins(edges[:-1], edges[1:], mean_conf, accuracy, count)


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, num_bins: int = 15) -> float:
    """Top-1 expected calibration error over equal-width confidence bins.

    ``ECE = sum_m |B_m| / N * |accuracy(B_m) - confidence(B_m)|``.

    Args:
        probs (Tensor | ndarray): Probabilities, (N, C).
        labels (Tensor | ndarray): True classes, (N,).
        num_bins (int): Bins over [0, 1]. Defaults to 15.

    Returns:
        float: ECE in [0, 1].

    Raises:
        ValueError: As :func:`reliability_bins`.

    Example:
        >>> # Four answers at 90% confidence, three right: |0.75 - 0.9| = 0.15.
        >>> round(expected_calibration_error([[0.9, 0.1]] * 4, [0, 0, 0, 1]), 6)
        0.15
    """
    bins = reliability_bins(probs, labels, num_bins)
    filled = bins.count > 0
    gaps = np.abs(bins.accuracy[filled] - bins.confidence[filled])
    return float((bins.count[filled] * gaps).sum() / bins.count.sum())


def brier_score(probs: ArrayLike, labels: ArrayLike) -> float:
    """Multi-class Brier score: the mean over cells of ``sum_k (p_k - [k == y])^2``.

    Brier's original definition, in [0, 2]; 0 is perfect (some libraries divide by C).

    Args:
        probs (Tensor | ndarray): Probabilities, (N, C).
        labels (Tensor | ndarray): True classes, (N,).

    Returns:
        float: The score.

    Raises:
        ValueError: If the shapes do not match or there are no cells.

    Example:
        >>> brier_score([[0.75, 0.25], [0.5, 0.5]], [0, 1])  # (1/16 + 1/16 + 1/4 + 1/4) / 2
        0.3125
    """
    probs, labels = _probs_labels(probs, labels)
    onehot = np.zeros_like(probs)
    onehot[np.arange(labels.size), labels] = 1
    return float(((probs - onehot)**2).sum(axis=1).mean())
