import csv
import json

import numpy as np
import pytest

from mmcell.review import SmearRun

from ..conftest import DATA, PBC_CLASSES, load_tool


@pytest.fixture(scope='module')
def adapt():
    return load_tool('tools/adapt_classifier.py')


@pytest.fixture
def reviewed_run(tmp_path, synthetic_data):
    """A run of PBC-classified white cells (synthetic crops) and its corrections file."""
    import mmcv
    crops = sorted((synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB').rglob('*.jpg'))[:10]
    run = SmearRun(tmp_path / 'run', PBC_CLASSES)
    field = np.full((100, 100, 3), 230, np.uint8)
    cells = [dict(box=[10, 10, 40, 40], label='WBC', score=0.9, cell_class='neutrophil',
                  cell_score=0.5) for _ in crops]
    run.add_field('field.jpg', field, cells, crops=[mmcv.imread(p) for p in crops])
    record = run.write()
    entries = [dict(id=cell['id'], label=path.parent.name)
               for cell, path in zip(record['cells'], crops)]
    path = tmp_path / 'corrections.json'
    path.write_text(json.dumps(dict(format='mmcell-corrections', version=1, run_id=record['id'],
                                    classes=list(PBC_CLASSES), cells=entries)))
    return tmp_path / 'run', path


def test_adapt_reports_before_and_after_on_held_back_cells(adapt, cell_classifier, reviewed_run,
                                                           tmp_path, capsys):
    run_dir, corrections = reviewed_run
    adapt.main([*cell_classifier, str(run_dir), str(corrections), '--work-dir',
                str(tmp_path / 'out'), '--iters', '2', '--holdout', '0.5', '--seed', '3'])
    out = capsys.readouterr().out
    report = json.loads((tmp_path / 'out' / 'adaptation.json').read_text())
    assert report['train_cells'] + report['held_back'] == 10 and report['held_back'] >= 1
    assert report['iters'] == 2 and report['train'] == 'all'
    for part in ('before', 'after'):
        assert report[part]['cells'] == report['held_back']
        assert 0 <= report[part]['accuracy'] <= 100
    train_lines = (tmp_path / 'out' / 'train.txt').read_text().splitlines()
    assert len(train_lines) == report['train_cells']
    assert all(int(line.rsplit(' ', 1)[1]) in range(8) for line in train_lines)
    assert 'On the' in out and 'macro F1' in out


def test_the_held_back_share_is_the_datasets_stratified_split(adapt, reviewed_run, capsys):
    from mmcell.datasets import assign_stratified
    labels = [0] * 20 + [1] * 5 + [2] * 2 + [3]
    parts = assign_stratified(labels, [0.7, 0.3], seed=1)  # as --holdout 0.3 --seed 1 draws
    held = [label for label, part in zip(labels, parts) if part == 1]
    assert sorted(held) == [0] * 6 + [1] * 2 + [2]  # a class of one cell trains
    assert assign_stratified(labels, [1, 0], seed=0).tolist() == [0] * len(labels)
    run_dir, corrections = reviewed_run
    with pytest.raises(SystemExit):
        adapt.main(['config.py', 'cls.pth', str(run_dir), str(corrections), '--holdout', '1'])
    assert r'--holdout must be in [0, 1), got 1.0' in capsys.readouterr().err


def test_adapt_refuses_corrections_of_another_run(adapt, cell_classifier, reviewed_run,
                                                  tmp_path):
    run_dir, corrections = reviewed_run
    data = json.loads(corrections.read_text())
    data['run_id'] = 'f' * 32
    corrections.write_text(json.dumps(data))
    with pytest.raises(SystemExit, match=f"saved from run '{'f' * 32}', not from the run in"):
        adapt.main([*cell_classifier, str(run_dir), str(corrections), '--work-dir',
                    str(tmp_path / 'out')])
    assert not (tmp_path / 'out').exists()


def test_adapt_refuses_a_classifier_with_other_classes(adapt, cell_classifier, reviewed_run,
                                                       tmp_path):
    import torch
    run_dir, corrections = reviewed_run
    other = tmp_path / 'other.pth'
    ckpt = torch.load(cell_classifier[1], map_location='cpu', weights_only=True)
    ckpt['meta']['dataset_meta']['classes'] = [c.upper() for c in PBC_CLASSES]
    torch.save(ckpt, other)
    with pytest.raises(SystemExit, match=r"other.pth has the classes \['BASOPHIL'"):
        adapt.main([cell_classifier[0], str(other), str(run_dir), str(corrections)])


@pytest.mark.trains
@pytest.mark.skipif(not (DATA / 'bccd' / 'labels.csv').is_file(), reason='no BCCD data')
def test_adaptation_curve_on_the_bccd_white_cells(cell_classifier, tmp_path, capsys):
    curve = load_tool('tools/analysis_tools/adaptation_curve.py')
    curve.main([*cell_classifier, '--data-root', str(DATA / 'bccd'), '--k', '5',
                '--draws', '1', '--iters', '1', '--work-dir', str(tmp_path)])
    with open(tmp_path / 'adaptation_curve.csv') as f:
        rows = list(csv.DictReader(f))
    # BCCD's 341 cells: 5 per class, but of the 2 basophils at most half (1) is drawn.
    assert [(r['k'], r['train_cells'], r['test_cells']) for r in rows] == [('5', '21', '320')]
    assert len(list((tmp_path / 'crops').glob('*.png'))) == 341
    assert 'Adaptation on' in capsys.readouterr().out
