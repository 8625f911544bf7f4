"""The quick start's main job (tools/demo.py), end to end on a tiny budget."""
import csv
import os
import re

import pytest

from ..conftest import load_tool, run_tool


@pytest.mark.demo
def test_demo_runs_every_step_on_synthetic_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'MMCELL_DATA'}  # no real data
    work, data = tmp_path / 'demo', tmp_path / 'data'
    proc = run_tool('tools/demo.py', '--work-dir', work, '--synthetic-root', data,
                    '--cells-per-class', '5', '--smears', '4', '2', '2', '--cls-epochs', '1',
                    '--det-epochs', '1', env=env)
    out = proc.stdout
    assert f"Data for classification: synthetic data, {data / 'pbc/PBC_dataset_normal_DIB'}" in out
    assert f"Data for detection: synthetic data, {data / 'bccd/BCCD'}" in out
    # Reports and pictures.
    for run, files in (('efficientnet-lite0_pbc_stain', ('classification_report.csv',
                                                          'confusion_matrix.png')),
                       ('faster_rcnn_lite0_fpn_bccd', ('detection_report.csv',
                                                       'pr_curves.png'))):
        for name in files:
            assert len(list((work / run).glob(f'*/{name}'))) == 1, (run, name)
    pictures = sorted(p.name for p in (work / 'pictures').iterdir())
    assert len(pictures) == 9 and 'Smear_00006_features.png' in pictures  # 8 cells + 1 smear
    assert sum(name.endswith('_cam.png') for name in pictures) == 8
    # The smear pipeline's counts, printed next to the generator's ground truth.
    with open(work / 'smear_counts' / 'counts.csv') as f:
        assert len(list(csv.DictReader(f))) == 2
    assert len(list((work / 'smear_counts' / 'fields').glob('*.png'))) == 2
    assert (work / 'smear_counts' / 'review.html').is_file()
    # The white-cell differential: leukocytes, nucleated red cells per 100, platelets apart.
    assert 'per 100 white cells' in out and 'not a white cell, counted apart' in out
    with open(data / 'bccd' / 'BCCD' / 'ground_truth.csv') as f:
        truth = {row['image']: row for row in csv.DictReader(f)}
    for name in ('Smear_00006', 'Smear_00007'):
        line = re.search(rf'^  {name}: (.*)$', out, re.M).group(1)
        assert re.search(rf"RBC \d+/{truth[name]['RBC']}(,|$)", line), line


def test_demo_uses_real_data_where_mmcell_data_has_it(tmp_path, monkeypatch, capsys):
    demo = load_tool('tools/demo.py')
    real = tmp_path / 'real'
    (real / 'pbc' / 'PBC_dataset_normal_DIB').mkdir(parents=True)  # PBC only, no BCCD
    monkeypatch.setenv('MMCELL_DATA', str(real))
    args = demo.parse_args(['--synthetic-root', str(tmp_path / 'synthetic'), '--cells-per-class',
                            '1', '--smears', '1', '1', '1'])
    roots = demo.pick_data(args)
    assert roots['classification'][0] == real
    assert roots['detection'][0] == tmp_path / 'synthetic'
    out = capsys.readouterr().out
    assert f"Data for classification: real data, {real / 'pbc/PBC_dataset_normal_DIB'}" in out
    assert (f"Data for detection: synthetic data, {tmp_path / 'synthetic/bccd/BCCD'} "
            f"($MMCELL_DATA={real} has no bccd/BCCD)") in out
    assert (tmp_path / 'synthetic' / 'bccd' / 'BCCD' / 'ground_truth.csv').is_file()
