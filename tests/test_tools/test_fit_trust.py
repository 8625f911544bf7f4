"""tools/analysis_tools/fit_trust.py fits a trust state beside a checkpoint; tools/test.py and
tools/infer.py use it (open-set figures with a left-out class, unidentified cells)."""
import csv
import json

import pytest
import torch

from mmcell.uncertainty import TrustState

from ..conftest import PBC_CLASSES, run_tool
from .tiny_config import tiny_classifier_config

KNOWN = [c for c in PBC_CLASSES if c != 'platelet']


@pytest.fixture
def open_set_config(tmp_path, synthetic_data):
    """The tiny classifier on the synthetic PBC crops without platelets, split 2/2/1 a class."""
    base = tmp_path / 'tiny.py'
    base.write_text(tiny_classifier_config(synthetic_data / 'pbc'))
    dataset = dict(_delete_=True, type='PBCDataset', data_root=str(synthetic_data / 'pbc'),
                   classes=KNOWN, split=dict(ratios=(0.4, 0.4, 0.2), seed=0, part='train'),
                   pipeline=[dict(type='LoadImageFromFile'), dict(type='Resize', scale=32),
                             dict(type='PackInputs')])
    val = {k: v for k, v in dataset.items() if k != '_delete_'}  # no base loader to replace
    val['split'] = dict(dataset['split'], part='val')
    path = tmp_path / 'tiny_open_set.py'
    path.write_text(f"""_base_ = {str(base)!r}
model = dict(head=dict(num_classes={len(KNOWN)}))
data_preprocessor = dict(num_classes={len(KNOWN)})
train_dataloader = dict(dataset={dataset!r})
val_dataloader = dict(batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler'),
                      dataset={val!r})
val_cfg = dict()
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = dict(dataset={dict(dataset, split=dict(dataset['split'], part='test'))!r})
""")
    return path


@pytest.mark.trains
def test_fit_then_test_reports_calibration_and_the_left_out_class(tmp_path, open_set_config,
                                                                 synthetic_data):
    work = tmp_path / 'run'
    run_tool('tools/train.py', open_set_config, '--work-dir', work)
    checkpoint = work / 'iter_4.pth'
    refused = run_tool('tools/analysis_tools/fit_trust.py', open_set_config, checkpoint,
                       check=False)  # 95% needs 19 validation cells a class; there are 2
    assert refused.returncode != 0 and 'needs at least 19' in refused.stderr
    proc = run_tool('tools/analysis_tools/fit_trust.py', open_set_config, checkpoint,
                    '--coverage', '0.5', '--calibration', 'temperature')
    state_path = work / 'iter_4.trust.pth'
    assert f'wrote {state_path}' in proc.stdout and '14 validation cells' in proc.stdout
    state = TrustState.load(state_path)
    assert list(state.fingerprint.classes) == KNOWN and state.reject_by == ('mahalanobis', )
    assert torch.load(state_path, weights_only=True)  # plain tensors and types only

    proc = run_tool('tools/test.py', open_set_config, checkpoint, '--work-dir', work,
                    '--unknown-classes', 'platelet')
    assert 'Trust report' in proc.stdout and 'unknown cells caught' in proc.stdout
    assert 'trust/unknown_caught' in proc.stdout  # TrustMetric's figures, in the test pass's
    report_dir = next(work.glob('*/trust_report.json')).parent
    report = json.loads((report_dir / 'trust_report.json').read_text())
    assert report['calibration']['cells'] == len(KNOWN)  # one test cell a class
    assert report['rejection']['unknown_cells'] == 5  # all 5 platelets
    targets = {row['target']: row for row in report['conformal']}
    assert 'needs at least 9' in targets[90.0]['refused']
    assert set(report['scores']) == {'max_softmax', 'negative_energy', 'mahalanobis'}
    assert all(0 <= row['auroc'] <= 100 for row in report['scores'].values())
    for name in ('reliability_diagram.png', 'risk_coverage.png', 'trust_report.txt'):
        assert (report_dir / name).stat().st_size > 0

    # tools/infer.py finds the state beside the checkpoint: calibrated probabilities.
    out = tmp_path / 'infer'
    run_tool('tools/infer.py', synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB' / 'ig',
             '--classifier', open_set_config, checkpoint, '--topk', '1', '--out-dir', out)
    with open(out / 'classification.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and all(r['class_1'] in KNOWN for r in rows)
