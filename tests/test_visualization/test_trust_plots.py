"""The trust pictures: reliability diagrams, risk-coverage curves, a trust report's two PNGs."""
import doctest

import pytest
import torch

import mmcell.visualization.trust_plots as trust_plots
from mmcell.uncertainty import (ClassifierOutputs, ModelFingerprint, TrustState,
                                apply_temperature, trust_report)
from mmcell.visualization import draw_trust_report, reliability_diagram, risk_coverage_figure


def test_reliability_diagram_draws_before_and_after_on_one_axes(tmp_path):
    g = torch.Generator().manual_seed(3)
    logits = 3 * torch.randn(500, 3, generator=g)
    labels = torch.multinomial((logits / 2).softmax(dim=1), 1, generator=g)[:, 0]
    fig = reliability_diagram({'before': (logits.softmax(1), labels),
                               'after': (apply_temperature(logits, 2.), labels)},
                              title='validation')
    (ax, ) = fig.axes
    assert len(ax.lines) == 3  # the diagonal and two curves
    fig.savefig(tmp_path / 'reliability.png')
    assert (tmp_path / 'reliability.png').stat().st_size > 0
    with pytest.raises(ValueError):
        reliability_diagram({})


def test_risk_coverage_figure_draws_one_curve_a_score(tmp_path):
    scores = [0.9, 0.1, 0.5, 0.5, 0.7]
    correct = [True, False, False, True, True]
    fig = risk_coverage_figure({'msp': (scores, correct), 'random': ([0] * 5, correct)})
    assert len(fig.axes[0].lines) == 2
    fig.savefig(tmp_path / 'risk.png')
    assert (tmp_path / 'risk.png').stat().st_size > 0
    with pytest.raises(ValueError):
        risk_coverage_figure({})


def test_draw_trust_report_writes_the_two_pictures(tmp_path):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(300) % 3
    logits = 3 * torch.nn.functional.one_hot(labels, 3) + torch.randn(300, 3, generator=g)
    state = TrustState.fit(ModelFingerprint(('a', 'b', 'c'), 'cfg.py', '0' * 64), logits[:150],
                           labels[:150], coverage=0.9)
    report = trust_report(state, ClassifierOutputs(logits[150:], torch.zeros(150, 1),
                                                   labels[150:]))
    paths = draw_trust_report(report, str(tmp_path))
    assert [p.split('/')[-1] for p in paths] == ['reliability_diagram.png', 'risk_coverage.png']
    assert all((tmp_path / p.split('/')[-1]).stat().st_size > 0 for p in paths)


def test_docstring_examples_run():
    tests = [t for t in doctest.DocTestFinder().find(trust_plots) if t.examples]
    assert len(tests) == 3
    for test in tests:
        out = []
        result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test, out=out.append)
        assert result.failed == 0, ''.join(out)
