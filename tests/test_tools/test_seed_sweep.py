"""tools/seed_sweep.py: classification or detection configs over training seeds, resumed, one
table of mean +- std; mmcell.engine.runs (shared with tools/cross_validate.py)."""
import csv
import json

import numpy as np
import pytest
import torch

from ..conftest import load_tool
from .test_analyze_selection import TINY_CELLVIT
from .tiny_config import tiny_classifier_config, tiny_detector_config


def sweep(tmp_path, *argv):
    load_tool('tools/seed_sweep.py').main([*map(str, argv), '--work-dir', str(tmp_path / 'sweep')])
    return json.loads((tmp_path / 'sweep' / 'sweep_summary.json').read_text())


@pytest.mark.trains
def test_each_seed_trains_once_and_the_table_is_the_reports_mean_and_std(tmp_path, cell_crops,
                                                                         capsys):
    resnet, cellvit = tmp_path / 'tiny_resnet.py', tmp_path / 'tiny_cellvit.py'
    resnet.write_text(tiny_classifier_config(cell_crops))
    cellvit.write_text(tiny_classifier_config(cell_crops, model=TINY_CELLVIT))
    summary = sweep(tmp_path, resnet, cellvit, '--seeds', '0', '3', '--selection')
    runs = tmp_path / 'sweep'
    for name in ('tiny_resnet', 'tiny_cellvit'):
        reports = [json.loads((runs / name / f'seed_{s}' / 'classification_report.json')
                              .read_text()) for s in (0, 3)]
        accuracy = [r['rows'][5]['f1-score'] for r in reports]  # after the 5 classes
        row = next(r for r in summary['rows'] if r['config'] == name)
        assert row['seeds'] == [0, 3]
        assert row['accuracy']['mean'] == pytest.approx(np.mean(accuracy))
        assert row['accuracy']['std'] == pytest.approx(np.std(accuracy))
        # Only the training seed differs: the two runs start from different weights.
        first, second = (torch.load(runs / name / f'seed_{s}' / 'iter_4.pth', weights_only=False)
                         ['state_dict'] for s in (0, 3))
        assert any(not torch.equal(first[k], second[k]) for k in first)
    resnet_row, cellvit_row = summary['rows']
    assert 'distinct tokens' not in resnet_row  # no sparse head, no selection figures
    selection = json.loads((runs / 'tiny_cellvit' / 'seed_0' / 'selection.json').read_text())
    assert selection['images'] == 20
    assert cellvit_row['distinct tokens']['runs'][0] == pytest.approx(
        selection['distinct_tokens'])
    printed = capsys.readouterr().out
    assert 'config | seeds | accuracy | macro F1 | distinct tokens' in printed
    with open(runs / 'sweep_summary.csv') as f:
        header = next(csv.reader(f))
    assert header[:4] == ['config', 'seeds', 'accuracy mean', 'accuracy std']
    assert selection['checkpoint'].endswith('seed_0/iter_4.pth')
    # Rerun: every run is found finished, nothing trains, the same table.
    again = sweep(tmp_path, resnet, cellvit, '--seeds', '0', '3', '--selection')
    assert capsys.readouterr().out.count('done before') == 4
    assert again['rows'] == summary['rows']
    # A finished run whose weights are gone is not measured on random ones.
    (runs / 'tiny_cellvit' / 'seed_3' / 'selection.json').unlink()
    (runs / 'tiny_cellvit' / 'seed_3' / 'last_checkpoint').unlink()
    with pytest.raises(SystemExit, match='seed_3: a finished run without a checkpoint'):
        sweep(tmp_path, cellvit, '--seeds', '3', '--selection')


def test_configs_sharing_a_name_and_repeated_seeds_are_refused(tmp_path, cell_crops, capsys):
    (tmp_path / 'a').mkdir()
    for path in (tmp_path / 'tiny.py', tmp_path / 'a' / 'tiny.py'):
        path.write_text(tiny_classifier_config(cell_crops))
    with pytest.raises(SystemExit):
        sweep(tmp_path, tmp_path / 'tiny.py', tmp_path / 'a' / 'tiny.py')
    assert 'configs share a name (tiny): their runs would share a folder' in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        sweep(tmp_path, tmp_path / 'tiny.py', '--seeds', '1', '1')
    assert '--seeds repeats a seed: [1, 1]' in capsys.readouterr().err


@pytest.mark.trains
def test_amp_trains_every_run_in_bf16_on_cpu(tmp_path, cell_crops):
    config = tmp_path / 'tiny.py'
    config.write_text(tiny_classifier_config(cell_crops))
    summary = sweep(tmp_path, config, '--seeds', '0', '--amp')
    assert summary['amp'] is True
    dumped = (tmp_path / 'sweep' / 'tiny' / 'seed_0' / 'tiny.py').read_text()
    assert "type='BF16OptimWrapper'" in dumped


@pytest.mark.trains
def test_detectors_sweep_to_map_and_a_per_class_table(tmp_path, tiny_coco, capsys):
    config = tmp_path / 'tiny_det.py'
    config.write_text(tiny_detector_config(tiny_coco, max_iters=4))
    summary = sweep(tmp_path, config, '--seeds', '0', '1')
    runs = tmp_path / 'sweep'
    reports = [json.loads((runs / 'tiny_det' / f'seed_{s}' / 'detection_report.json')
                          .read_text()) for s in (0, 1)]
    overall = [r['rows'][-1] for r in reports]
    assert [o['name'] for o in overall] == ['overall', 'overall']
    row = summary['rows'][0]
    assert row['seeds'] == [0, 1] and row['score_thr'] == 0.5
    for key, figure in (('mAP', 'ap'), ('recall', 'recall'), ('precision', 'precision'),
                        ('F1', 'f1-score')):
        values = [o[figure] for o in overall]
        assert row[key]['mean'] == pytest.approx(np.mean(values))
        assert row[key]['std'] == pytest.approx(np.std(values))
    assert list(row['classes']) == ['rbc', 'wbc']
    wbc_ap = [r['rows'][1]['ap'] for r in reports]
    assert row['classes']['wbc']['ap']['runs'] == [round(v, 2) for v in wbc_ap]
    first, second = (torch.load(runs / 'tiny_det' / f'seed_{s}' / 'iter_4.pth',
                                weights_only=False)['state_dict'] for s in (0, 1))
    assert any(not torch.equal(first[k], second[k]) for k in first)
    printed = capsys.readouterr().out
    assert 'config | seeds | mAP | recall | precision | F1' in printed
    assert 'tiny_det (recall, precision, F1 at score >= 0.5):' in printed
    with open(runs / 'sweep_classes.csv') as f:
        lines = list(csv.reader(f))
    assert lines[0][:4] == ['config', 'class', 'ap mean', 'ap std']
    assert [line[1] for line in lines[1:]] == ['rbc', 'wbc']
    with open(runs / 'sweep_summary.csv') as f:
        assert next(csv.reader(f))[2:4] == ['mAP mean', 'mAP std']
    again = sweep(tmp_path, config, '--seeds', '0', '1')
    assert capsys.readouterr().out.count('done before') == 2
    assert again['rows'] == summary['rows']


def test_a_mix_of_classifiers_and_detectors_and_selection_on_detectors_are_refused(
        tmp_path, cell_crops, tiny_coco):
    classifier, detector = tmp_path / 'tiny_cls.py', tmp_path / 'tiny_det.py'
    classifier.write_text(tiny_classifier_config(cell_crops))
    detector.write_text(tiny_detector_config(tiny_coco))
    with pytest.raises(SystemExit, match=r'these mix scopes: .*tiny_cls.py \(mmpretrain\), '
                                         r'.*tiny_det.py \(mmdet\)'):
        sweep(tmp_path, classifier, detector)
    with pytest.raises(SystemExit, match='--selection measures sparse attention heads of '
                                         'classifiers; .*tiny_det.py is a mmdet config'):
        sweep(tmp_path, detector, '--selection')
    assert not (tmp_path / 'sweep').exists()  # refused before anything trains
