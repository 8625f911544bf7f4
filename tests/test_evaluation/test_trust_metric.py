"""TrustMetric with TrustOutputsHook makes, in a Runner's one test pass, the trust report that
mmcell.uncertainty.trust_report makes from collect_outputs' second pass: same figures and files."""
import io
import json
import pickle
from types import SimpleNamespace

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from mmpretrain.registry import METRICS, MODELS
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader

from mmcell.evaluation import TrustMetric, TrustOutputsHook
from mmcell.evaluation.trust_metric import trust_summary
from mmcell.uncertainty import (ModelFingerprint, TrustState, collect_outputs, model_fingerprint,
                                trust_report, write_trust_report)
from mmcell.visualization import draw_trust_report

CLASSES = ('lymphocyte', 'monocyte', 'neutrophil')
LABELS = [0, 1, 2]
FILES = ('trust_report.json', 'trust_report.txt', 'reliability_diagram.png', 'risk_coverage.png')


class Cells(torch.utils.data.Dataset):
    """Grey 32 px 'cells' whose brightness follows the class, as mmengine's loaders give them."""

    def __init__(self, labels, seed):
        g = torch.Generator().manual_seed(seed)
        self.items = [dict(inputs=(40 + 70 * k + 30 * torch.rand(1, 32, 32, generator=g)).byte(),
                           data_samples=DataSample().set_gt_label(k)) for k in labels]
        self.metainfo = dict(classes=CLASSES)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def loader(labels, seed):
    return DataLoader(Cells(labels, seed), batch_size=8, collate_fn=pseudo_collate)


@pytest.fixture(scope='module')
def classifier():
    """A tiny mmpretrain classifier (LeNet-5) and its trust state, fitted as fit_trust.py does."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='LeNet5'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=120),
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[128], std=[64])))
    val = collect_outputs(model, loader(LABELS * 20, seed=1), stream=io.StringIO())
    state = TrustState.fit(model_fingerprint(model, CLASSES, 'tiny.py'), val.logits, val.labels,
                           train_features=val.features, train_labels=val.labels,
                           val_features=val.features, coverage=0.9)
    assert state.reject_by == ('mahalanobis', )  # the features are used
    return model, state


def run_test(model, work_dir, evaluator, hooks):
    """``runner.test()`` on the 30 test cells (seed 2); its metrics."""
    runner = Runner(model=model, work_dir=str(work_dir), test_dataloader=loader(LABELS * 10, 2),
                    test_cfg=dict(), test_evaluator=evaluator, custom_hooks=hooks,
                    default_scope='mmpretrain', log_level='WARNING')
    return runner.test()


def test_the_metric_equals_todays_report_on_the_same_outputs(classifier, tmp_path):
    model, state = classifier
    path = state.save(tmp_path / 'tiny.trust.pth')
    unknown = [0] * 10  # labels ignored: brighter 'cells' of a kind the model never saw
    # Today's report: a second pass over the test set (and one over the unknown cells).
    expected = trust_report(
        TrustState.load(path), collect_outputs(model, loader(LABELS * 10, 2), stream=io.StringIO()),
        collect_outputs(model, loader(unknown, 3), stream=io.StringIO()))
    (tmp_path / 'today').mkdir()
    write_trust_report(expected, str(tmp_path / 'today'))
    draw_trust_report(expected, str(tmp_path / 'today'))

    # The metric, built through the registry, in the Runner's one pass; DumpResults after it.
    evaluator = [dict(type='Accuracy'),
                 dict(type='TrustMetric', state=str(path), out_dir=str(tmp_path / 'metric')),
                 dict(type='DumpResults', out_file_path=str(tmp_path / 'p.pkl'))]
    metrics = run_test(model, tmp_path / 'run', evaluator,
                       [TrustOutputsHook(unknown_dataloader=loader(unknown, 3))])

    assert {k[len('trust/'):]: v for k, v in metrics.items() if k.startswith('trust/')} == \
        trust_summary(expected)
    assert {'auroc_mahalanobis', 'unknown_caught', 'coverage_90'} <= set(trust_summary(expected))
    for name in FILES:  # the same bytes, pictures included
        assert (tmp_path / 'metric' / name).read_bytes() == (tmp_path / 'today' / name).read_bytes()
    report = json.loads((tmp_path / 'metric' / 'trust_report.json').read_text())
    assert report['calibration']['cells'] == 30 and report['rejection']['unknown_cells'] == 10
    # The metric took its fields out of the samples: the dumped predictions are as without it.
    with open(tmp_path / 'p.pkl', 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 30 and not {'trust_logits', 'trust_features'} & set(dumped[0])
    assert not model._forward_hooks and not model.head.fc._forward_hooks  # taken off after


def test_a_state_of_another_model_is_refused_before_the_test(classifier, tmp_path):
    model, state = classifier
    other = TrustState.fit(ModelFingerprint(CLASSES, 'other.py', '0' * 64),
                           torch.eye(3).repeat(10, 1), torch.arange(30) % 3, coverage=0.9)
    with pytest.raises(ValueError, match='fitted for another model'):
        run_test(model, tmp_path, [dict(type='TrustMetric', state=other)], [TrustOutputsHook()])


def test_the_metric_and_the_hook_each_name_the_other_when_alone():
    state = TrustState.fit(ModelFingerprint(CLASSES, 'cfg.py', '0' * 64),
                           torch.eye(3).repeat(10, 1), torch.arange(30) % 3, coverage=0.9)
    metric = METRICS.build(dict(type='TrustMetric', state=state))
    assert isinstance(metric, TrustMetric) and metric.prefix == 'trust'
    with pytest.raises(ValueError, match='TrustOutputsHook'):
        metric.process(None, [dict(gt_label=torch.tensor([0]), pred_label=torch.tensor([0]))])
    with pytest.raises(ValueError, match='gt_label'):
        metric.process(None, [dict(trust_logits=torch.zeros(3), trust_features=torch.zeros(1))])
    runner = SimpleNamespace(test_evaluator=SimpleNamespace(metrics=[]))
    with pytest.raises(ValueError, match='no TrustMetric'):
        TrustOutputsHook().before_test(runner)


def test_a_missing_state_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.trust.pth'):
        METRICS.build(dict(type='TrustMetric', state=str(tmp_path / 'nothing.trust.pth')))
