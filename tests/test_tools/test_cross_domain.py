"""tools/analysis_tools/cross_domain.py: one transfer table whose figures are tools/test.py's;
tools/analysis_tools/fit_stain_target.py: a stain target from a config's training split."""
import json
import shutil

import cv2
import numpy as np
import pytest

from mmcell.datasets.transforms import load_stain_target

from ..conftest import FIVE_CELL_CLASSES, ROOT, load_tool, run_tool, save_random_checkpoint
from .tiny_config import tiny_classifier_config

PBC_TARGET = str(ROOT / 'configs' / '_base_' / 'datasets' / 'pbc_stain_target.json')


@pytest.fixture
def tiny(tmp_path, cell_crops):
    """(config, checkpoint) of the tiny classifier on the 5-class synthetic crops."""
    config = tmp_path / 'tiny.py'
    config.write_text(tiny_classifier_config(cell_crops))
    return config, save_random_checkpoint(config, tmp_path / 'tiny.pth', FIVE_CELL_CLASSES)


def table(tmp_path, *argv):
    out = tmp_path / 'cross_domain'
    load_tool('tools/analysis_tools/cross_domain.py').main([*map(str, argv), '--out-dir', str(out)])
    return json.loads((out / 'cross_domain.json').read_text())


@pytest.mark.subprocess
def test_the_table_is_what_test_py_reports_for_each_set(tmp_path, tiny, cell_crops):
    config, checkpoint = tiny
    run_tool('tools/test.py', config, checkpoint, '--work-dir', tmp_path / 'test')
    report = json.loads(next((tmp_path / 'test').glob('*/classification_report.json')).read_text())
    per_class = [r for r in report['rows'][:len(FIVE_CELL_CLASSES)] if r['support'] > 0]
    # The config's own test split, and the same crops given as a folder of class folders.
    rows = table(tmp_path, config, checkpoint, cell_crops)['rows']
    assert [r['images'] for r in rows] == [20, 20]
    for row in rows:
        assert row['accuracy'] == round(report['rows'][len(FIVE_CELL_CLASSES)]['f1-score'], 2)
        assert row['recall'] == {r['name']: round(r['recall'], 2) for r in per_class}
        assert row['macro_f1'] == round(sum(r['f1-score'] for r in per_class) / len(per_class), 2)


def test_test_time_options_go_into_every_set_and_crops_without_a_cell_are_counted(
        tmp_path, tiny, cell_crops):
    config, checkpoint = tiny
    other = tmp_path / 'other_lab'
    shutil.copytree(cell_crops / 'neutrophil', other / 'Neutrophil')  # folder case is ignored
    cv2.imwrite(str(other / 'Neutrophil' / 'blank.png'), np.full((32, 32, 3), 235, np.uint8))
    result = table(tmp_path, config, checkpoint, other, '--no-in-lab', '--normalize', 'reinhard',
                   '--reframe', '--target', PBC_TARGET)
    (row, ) = result['rows']
    assert row['images'] == 5 and list(row['recall']) == ['neutrophil']
    assert row['no_cell_found'] == 1  # the blank crop, left as it was
    assert result['options'] == dict(normalize='reinhard', reframe=True, crop_context=None,
                                     target=PBC_TARGET, adapt_bn=False)
    assert (tmp_path / 'cross_domain' / 'cross_domain.csv').read_text().startswith(
        'set,images,accuracy,macro_f1,no_cell_found,recall_neutrophil')


def test_adapt_bn_takes_each_sets_own_statistics(tmp_path, tiny, cell_crops, monkeypatch):
    import mmcell.review.adaptation as adaptation
    seen = []
    real = adaptation.reestimate_batchnorm

    def spy(model, loader):
        seen.append(len(loader.dataset))
        return real(model, loader)
    cross_domain = load_tool('tools/analysis_tools/cross_domain.py')
    monkeypatch.setattr(cross_domain, 'reestimate_batchnorm', spy)
    config, checkpoint = tiny
    cross_domain.main([str(config), checkpoint, str(cell_crops), '--adapt-bn', '--out-dir',
                       str(tmp_path / 'cross_domain')])
    result = json.loads((tmp_path / 'cross_domain' / 'cross_domain.json').read_text())
    assert result['options']['adapt_bn'] is True
    assert seen == [r['images'] for r in result['rows']] == [20, 20]  # in-lab, then the folder


def test_bad_sets_and_missing_targets_are_named(tmp_path, tiny):
    config, checkpoint = tiny
    (tmp_path / 'odd' / 'blast').mkdir(parents=True)
    with pytest.raises(SystemExit, match=r"odd: folders \['blast'\] are not classes of the model"):
        table(tmp_path, config, checkpoint, tmp_path / 'odd', '--no-in-lab')
    with pytest.raises(SystemExit, match='nowhere: neither a config nor a folder'):
        table(tmp_path, config, checkpoint, tmp_path / 'nowhere')
    with pytest.raises(SystemExit, match='names none \\(stain_target\\); give --target'):
        table(tmp_path, config, checkpoint, '--normalize', 'macenko')


def test_fit_stain_target_measures_the_training_split(tmp_path, tiny):
    config, _ = tiny
    out = tmp_path / 'target.json'
    load_tool('tools/analysis_tools/fit_stain_target.py').main([str(config), '--out', str(out),
                                                                '--size', '32'])
    target = load_stain_target(str(out))
    assert target.images == 20 and target.source.startswith(str(config))
    assert 60 < target.lab_mean[0] < 100 and 0 < target.cell_fraction < 1
