"""Pictures of a classifier's trust: reliability diagrams and risk-coverage curves.

What they show is computed in :mod:`mmcell.uncertainty` (:func:`~mmcell.uncertainty.
reliability_bins`, :func:`~mmcell.uncertainty.risk_coverage_curve`); this module only draws.
:func:`draw_trust_report` draws the two pictures of a trust report
(:func:`~mmcell.uncertainty.trust_report`), as ``tools/test.py`` writes them beside
``trust_report.json``.

The figures are plain ``matplotlib.figure.Figure`` objects (no pyplot: no backend or global
state); save them with ``fig.savefig(path)``. ``mmcell.uncertainty`` and pytorch-ood are
imported when a picture is drawn, so ``import mmcell`` stays without them.
"""
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = ['reliability_diagram', 'risk_coverage_figure', 'draw_trust_report']

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence]


def reliability_diagram(curves: Mapping[str, Tuple[ArrayLike, ArrayLike]], num_bins: int = 15,
                        title: Optional[str] = None):
    """A reliability diagram with several curves (e.g. before and after calibration) on one axes.

    Each curve plots accuracy against mean confidence of the non-empty bins
    (:func:`~mmcell.uncertainty.reliability_bins`), its legend entry giving the ECE; the
    diagonal is perfect calibration.

    Args:
        curves (Mapping[str, tuple]): Legend name -> ``(probs, labels)``.
        num_bins (int): Bins over [0, 1]. Defaults to 15.
        title (str, optional): Axes title. Defaults to None.

    Returns:
        matplotlib.figure.Figure: The figure (not shown; save it with ``fig.savefig(path)``).

    Raises:
        ValueError: If ``curves`` is empty, or as :func:`~mmcell.uncertainty.reliability_bins`.

    Example:
        >>> import torch
        >>> from mmcell.uncertainty import apply_temperature
        >>> logits = torch.tensor([[3., 0.], [0., 3.], [3., 0.]])
        >>> labels = torch.tensor([0, 1, 1])
        >>> fig = reliability_diagram({'uncalibrated': (logits.softmax(1), labels),
        ...                            'T = 2': (apply_temperature(logits, 2.), labels)})
        >>> [t.get_text().split(' (')[0] for t in fig.axes[0].get_legend().get_texts()]
        ['perfect calibration', 'uncalibrated', 'T = 2']
    """
    from matplotlib.figure import Figure

    from mmcell.uncertainty.calibration import expected_calibration_error, reliability_bins
    if not curves:
        raise ValueError('no curves to draw')
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color='grey', linestyle='--', label='perfect calibration')
    for name, (probs, labels) in curves.items():
        bins = reliability_bins(probs, labels, num_bins)
        filled = bins.count > 0
        ece = expected_calibration_error(probs, labels, num_bins)
        ax.plot(bins.confidence[filled], bins.accuracy[filled], marker='o',
                label=f'{name} (ECE {100 * ece:.1f}%)')
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel='confidence (top-1 probability)',
           ylabel='accuracy', aspect='equal')
    if title:
        ax.set_title(title)
    ax.legend(loc='upper left')
    fig.tight_layout()
    return fig


def _double(x: ArrayLike) -> torch.Tensor:
    """float64 on the CPU, flattened; lists and arrays without a float32 detour."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().reshape(-1)
    return torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(-1)


def risk_coverage_figure(curves: Mapping[str, Tuple[ArrayLike, ArrayLike]],
                         title: Optional[str] = None):
    """Risk-coverage curves of several scores on one axes (accuracy of accepted vs share).

    Each curve is :func:`~mmcell.uncertainty.risk_coverage_curve`; the legend gives each
    score's AURRA (pytorch-ood's area under the accuracy-response-rate curve: the mean accuracy
    over all shares accepted; higher is better).

    Args:
        curves (Mapping[str, tuple]): Legend name -> ``(scores, correct)``.
        title (str, optional): Axes title. Defaults to None.

    Returns:
        matplotlib.figure.Figure: The figure (save it with ``fig.savefig(path)``).

    Raises:
        ValueError: If ``curves`` is empty, or as
            :func:`~mmcell.uncertainty.risk_coverage_curve`.

    Example:
        >>> fig = risk_coverage_figure({'msp': ([0.9, 0.7, 0.6], [1, 1, 0])})
        >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        ['msp (AURRA 0.889)']
    """
    from matplotlib.figure import Figure
    from pytorch_ood.metrics.functional import aurra

    from mmcell.uncertainty.scores import risk_coverage_curve
    if not curves:
        raise ValueError('no curves to draw')
    fig = Figure(figsize=(5, 4))
    ax = fig.add_subplot()
    for name, (scores, correct) in curves.items():
        curve = risk_coverage_curve(scores, correct)
        area = aurra(_double(scores), _double(correct))
        ax.step(curve.coverage, curve.accuracy, where='post', label=f'{name} (AURRA {area:.3f})')
    ax.set(xlim=(0, 1), xlabel='share of cells accepted', ylabel='accuracy of accepted cells')
    if title:
        ax.set_title(title)
    ax.legend(loc='lower left')
    fig.tight_layout()
    return fig


def draw_trust_report(report: Dict[str, object], out_dir: str) -> List[str]:
    """Draw a trust report's two pictures into ``out_dir``.

    ``reliability_diagram.png``: the test cells' reliability before and after the state's
    calibration; ``risk_coverage.png``: the risk-coverage curve of each trust score.

    Args:
        report (dict): From :func:`~mmcell.uncertainty.trust_report` (its ``curves``).
        out_dir (str): An existing folder.

    Returns:
        list[str]: The two files written.

    Example:
        >>> import tempfile, torch
        >>> from mmcell.uncertainty import (ClassifierOutputs, ModelFingerprint, TrustState,
        ...                                 trust_report)
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.arange(400) % 2
        >>> logits = 3 * torch.nn.functional.one_hot(labels, 2) + torch.randn(400, 2, generator=g)
        >>> state = TrustState.fit(ModelFingerprint(('a', 'b'), 'cfg.py', '0' * 64),
        ...                        logits[:200], labels[:200], coverage=0.9)
        >>> report = trust_report(state, ClassifierOutputs(logits[200:], torch.zeros(200, 1),
        ...                                                labels[200:]), coverages=(0.9, ))
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     [osp.basename(p) for p in draw_trust_report(report, folder)]
        ['reliability_diagram.png', 'risk_coverage.png']
    """
    curves = report['curves']
    paths = [osp.join(out_dir, 'reliability_diagram.png'), osp.join(out_dir, 'risk_coverage.png')]
    figure = reliability_diagram({'before calibration': (curves['raw'], curves['labels']),
                                  'after': (curves['probs'], curves['labels'])})
    figure.savefig(paths[0], dpi=120, bbox_inches='tight')
    figure = risk_coverage_figure({name: (values, curves['correct'])
                                   for name, values in curves['scores'].items()})
    figure.savefig(paths[1], dpi=120, bbox_inches='tight')
    return paths
