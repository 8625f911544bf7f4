"""The Table-6 classification report of tools/test.py and k-fold cross-validation."""
import csv
import json

import pytest
import torch
from PIL import Image

from mmcell.evaluation import report_rows

from ..conftest import run_tool
from .tiny_config import tiny_classifier_config

CODES = ['NGS', 'MON', 'EOS']


def test_report_rows_by_hand():
    pred = torch.tensor([0, 0, 1, 1, 1, 2])
    target = torch.tensor([0, 1, 1, 1, 2, 2])
    rows, matrix = report_rows(pred, target, ['a', 'b', 'c'])
    by_name = {r['name']: r for r in rows}
    assert [r['name'] for r in rows] == ['a', 'b', 'c', 'accuracy', 'macro avg', 'weighted avg']
    assert matrix.tolist() == [[1, 0, 0], [1, 2, 0], [0, 1, 1]]  # true x predicted
    assert by_name['a']['precision'] == pytest.approx(50) and by_name['a']['recall'] == 100
    assert by_name['b']['precision'] == pytest.approx(200 / 3)
    assert by_name['b']['recall'] == pytest.approx(200 / 3)
    assert by_name['c']['f1-score'] == pytest.approx(2 * 100 * 50 / 150)
    assert [by_name[n]['support'] for n in 'abc'] == [1, 3, 2]
    assert by_name['accuracy']['f1-score'] == pytest.approx(400 / 6)
    assert by_name['macro avg']['recall'] == pytest.approx((100 + 200 / 3 + 50) / 3)
    assert by_name['weighted avg']['recall'] == pytest.approx(400 / 6)  # = accuracy


@pytest.fixture
def munich_config(tmp_path, munich_aml):
    base = tmp_path / 'tiny.py'
    base.write_text(tiny_classifier_config(munich_aml))
    dataset = dict(_delete_=True, type='MunichAMLDataset', data_root=str(munich_aml),
                   classes=CODES, split=dict(num_folds=2, fold=0, seed=0, part='train'),
                   pipeline=[dict(type='LoadImageFromFile'), dict(type='Resize', scale=32),
                             dict(type='PackInputs')])
    path = tmp_path / 'tiny_munich.py'
    path.write_text(f"""_base_ = {str(base)!r}
model = dict(head=dict(num_classes=3))
data_preprocessor = dict(num_classes=3)
train_dataloader = dict(dataset={dataset!r})
test_dataloader = dict(dataset={dict(dataset, split=dict(dataset['split'], part='val'))!r})
""")
    return path


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.reader(f))


@pytest.mark.trains
def test_test_tool_writes_the_report(tmp_path, munich_config):
    work_dir = tmp_path / 'run'
    run_tool('tools/train.py', munich_config, '--work-dir', work_dir)
    proc = run_tool('tools/test.py', munich_config, work_dir / 'iter_4.pth', '--work-dir',
                    work_dir)
    assert 'weighted avg' in proc.stdout + proc.stderr
    (report, ) = work_dir.glob('*/classification_report.csv')
    rows = read_csv(report)
    assert rows[0] == ['class', 'precision', 'recall', 'f1-score', 'support']
    assert [r[0] for r in rows[1:]] == CODES + ['accuracy', 'macro avg', 'weighted avg']
    assert [int(r[4]) for r in rows[1:4]] == [2, 2, 2] and rows[4][4] == '6'
    picture = report.parent / 'confusion_matrix.png'
    assert picture.stat().st_size > 5000
    width, height = Image.open(picture).size
    assert 500 < width < 900 and 400 < height < 750  # 6x5 inches at 120 dpi, trimmed


@pytest.mark.trains
def test_cross_validation_runs_every_fold_and_summarises(tmp_path, munich_config):
    work_dir = tmp_path / 'cv'
    proc = run_tool('tools/cross_validate.py', munich_config, '--folds', '2', '--work-dir',
                    work_dir)
    assert 'fold 2/2' in proc.stdout and 'macro precision' in proc.stdout
    summary = json.loads((work_dir / 'cv_summary.json').read_text())
    reports = [json.loads((work_dir / f'fold_{i}' / 'classification_report.json').read_text())
               for i in range(2)]
    accuracy = [r['rows'][3]['f1-score'] for r in reports]
    rows = {r['metric']: r for r in summary['rows']}
    assert rows['accuracy']['mean'] == pytest.approx(sum(accuracy) / 2)
    assert rows['accuracy']['std'] == pytest.approx(abs(accuracy[0] - accuracy[1]) / 2)
    assert {f'{c} {m}' for c in CODES for m in ('precision', 'recall')} <= set(rows)
    # The two folds test on disjoint halves of the 12 images.
    assert [r['rows'][4]['support'] for r in reports] == [6, 6]
    table = read_csv(work_dir / 'cv_summary.csv')
    assert table[0] == ['metric', 'mean', 'std', 'fold_0', 'fold_1'] and len(table) == 1 + 4 + 6
    # Finished folds are not run again.
    again = run_tool('tools/cross_validate.py', munich_config, '--folds', '2', '--work-dir',
                     work_dir)
    assert again.stdout.count('done before') == 2
