import csv
import json

import mmcv
import numpy as np
import pytest

from mmcell.apis import classify, count_cells, crop_cell, detect, init_classifier, init_detector
from mmcell.synthetic import SMEAR_CLASSES
from mmcell.compat import UnsafeCheckpointError

from ..conftest import PBC_CLASSES, run_tool


@pytest.fixture(scope='module')
def classifier(cell_classifier):
    return init_classifier(*cell_classifier)


@pytest.fixture(scope='module')
def detector(cell_detector):
    return init_detector(*cell_detector)


def smear(synthetic_data, name='Smear_00006'):
    return str(synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages' / f'{name}.jpg')


def test_classify_gives_topk_classes_most_probable_first(classifier, synthetic_data):
    cells = sorted((synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB' / 'monocyte').iterdir())
    ranked = classify(classifier, [str(cells[0]), mmcv.imread(cells[1])], topk=3)
    assert len(ranked) == 2
    for top in ranked:
        names, probs = zip(*top)
        assert len(top) == 3 and set(names) <= set(PBC_CLASSES) and len(set(names)) == 3
        assert list(probs) == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert classify(classifier, [], topk=3) == []
    assert len(classify(classifier, [str(cells[0])], topk=20)[0]) == 8  # at most all classes


def test_detect_whole_image_and_tiled(detector, synthetic_data):
    img = mmcv.imread(smear(synthetic_data))
    found = detect(detector, img, score_thr=0.0)
    assert found['boxes'].shape == (6, 4) and len(found['labels']) == 6
    assert set(found['labels']) <= set(SMEAR_CLASSES)
    assert list(found['scores']) == sorted(found['scores'], reverse=True)
    assert (found['boxes'][:, [0, 2]] <= 320 + 1e-3).all()
    assert (found['boxes'][:, [1, 3]] <= 240 + 1e-3).all()
    assert len(detect(detector, img, score_thr=1.01)['labels']) == 0
    tiled = detect(detector, img, score_thr=0.0, tile_size=(160, 200))  # 2x2 tiles
    assert len(tiled['labels']) >= 1
    assert (tiled['boxes'][:, 2] <= 320 + 1e-3).all() and (tiled['boxes'][:, 3] <= 240 + 1e-3).all()


def test_count_cells_classifies_each_cell_of_the_white_class(detector, classifier,
                                                             synthetic_data):
    found = detect(detector, smear(synthetic_data), score_thr=0.0)
    white = max(set(found['labels']), key=found['labels'].count)  # random weights: any class
    result = count_cells(detector, classifier, smear(synthetic_data), white_class=white,
                         score_thr=0.0)
    counts, cells = result['counts'], result['cells']
    assert list(counts)[:3] == list(SMEAR_CLASSES)
    assert list(counts)[3:] == [f'{white}:{c}' for c in (*PBC_CLASSES, 'unidentified')]
    assert sum(counts[c] for c in SMEAR_CLASSES) == len(cells) == 6
    assert sum(counts[f'{white}:{c}'] for c in PBC_CLASSES) == counts[white] >= 1
    assert counts[f'{white}:unidentified'] == 0  # no trust state: every cell gets a class
    assert result['differential'].identified == counts[white]
    for cell in cells:
        assert ('cell_class' in cell) == (cell['label'] == white)
        if cell['label'] == white:
            assert cell['cell_class'] in PBC_CLASSES and 0 < cell['cell_score'] <= 1


def test_crop_cell_frames_the_box_and_pads_at_borders():
    img = np.arange(100 * 100 * 3, dtype=np.uint8).reshape(100, 100, 3)
    crop = crop_cell(img, (40, 40, 60, 50), context=2.0)  # side 2 x 20 around (50, 45)
    assert crop.shape == (40, 40, 3)
    np.testing.assert_array_equal(crop, img[25:65, 30:70])
    corner = crop_cell(img, (0, 0, 20, 20), context=2.0)  # reaches 10 px past the corner
    assert corner.shape == (40, 40, 3)
    np.testing.assert_array_equal(corner[10:, 10:], img[:30, :30])
    np.testing.assert_array_equal(corner[9, 10:], img[1, :30])  # reflected, edge not repeated


def test_untrusted_checkpoint_is_refused_by_the_api(cell_classifier, evil_checkpoint):
    path, marker = evil_checkpoint
    with pytest.raises(UnsafeCheckpointError, match='refused to load checkpoint'):
        init_classifier(cell_classifier[0], str(path))
    assert not marker.exists()


@pytest.mark.subprocess
def test_infer_tool_classifies_a_folder_one_row_per_image(cell_classifier, synthetic_data,
                                                          tmp_path):
    folder = tmp_path / 'cells'
    folder.mkdir()
    source = synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB'
    for cls in ('basophil', 'platelet', 'ig'):
        (folder / f'{cls}.jpg').write_bytes(sorted((source / cls).iterdir())[0].read_bytes())
    (folder / 'broken.jpg').write_bytes(b'\xff\xd8\xff not really a jpeg')
    proc = run_tool('tools/infer.py', folder, '--classifier', *cell_classifier, '--topk', '2',
                    '--out-dir', tmp_path / 'out')
    with open(tmp_path / 'out' / 'classification.csv') as f:
        rows = list(csv.DictReader(f))
    names = [r['image'].rsplit('/', 1)[-1] for r in rows]
    assert names == ['basophil.jpg', 'ig.jpg', 'platelet.jpg']
    assert list(rows[0]) == ['image', 'class_1', 'score_1', 'class_2', 'score_2']
    assert all(r['class_1'] in PBC_CLASSES and float(r['score_1']) >= float(r['score_2'])
               for r in rows)
    assert 'skipped' in proc.stderr and 'broken.jpg' in proc.stderr
    assert '3 of 4 images done; 1 skipped' in proc.stdout


@pytest.mark.subprocess
def test_infer_tool_smear_pipeline_writes_counts(cell_classifier, cell_detector, synthetic_data,
                                                 tmp_path):
    images = synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages' / 'Smear_0000[67].jpg'
    for stale in ('review.html', 'run.json'):  # an earlier --report run's page, now outdated
        (tmp_path / stale).write_text('old')
    run_tool('tools/infer.py', images, '--detector', *cell_detector, '--classifier',
             *cell_classifier, '--score-thr', '0', '--white-class', 'RBC', '--no-pictures',
             '--out-dir', tmp_path)
    assert not (tmp_path / 'fields').exists() and not (tmp_path / 'review.html').exists()
    with open(tmp_path / 'counts.csv') as f:
        counts = list(csv.DictReader(f))
    names = [c['image'].rsplit('/', 1)[-1] for c in counts]
    assert names == ['Smear_00006.jpg', 'Smear_00007.jpg']
    assert list(counts[0])[1:4] == list(SMEAR_CLASSES)
    for c in counts:
        assert sum(int(c[k]) for k in SMEAR_CLASSES) == 6
        assert sum(int(c[f'RBC:{k}']) for k in PBC_CLASSES) == int(c['RBC'])
    cells = json.loads((tmp_path / 'cells.json').read_text())['cells']
    assert len(cells) == 12
    with open(tmp_path / 'cells.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and all((r['cell_class'] != '') == (r['label'] == 'RBC') for r in rows)


@pytest.mark.subprocess
def test_infer_tool_detection_only_and_missing_input(cell_detector, synthetic_data, tmp_path):
    run_tool('tools/infer.py', smear(synthetic_data), '--detector', *cell_detector,
             '--score-thr', '0', '--out-dir', tmp_path)
    with open(tmp_path / 'detections.csv') as f:
        assert len(list(csv.DictReader(f))) == 6
    assert [p.name for p in (tmp_path / 'fields').iterdir()] == ['0000_Smear_00006.png']
    with open(tmp_path / 'counts.csv') as f:
        (row, ) = list(csv.DictReader(f))
    assert sum(int(row[k]) for k in SMEAR_CLASSES) == 6
    proc = run_tool('tools/infer.py', tmp_path / 'nothing_here', '--detector', *cell_detector,
                    check=False)
    assert proc.returncode != 0 and 'nothing_here does not exist' in proc.stderr
    proc = run_tool('tools/infer.py', smear(synthetic_data), '--detector', *cell_detector,
                    '--report', check=False)
    assert proc.returncode == 2 and '--report reviews a smear run: give both' in proc.stderr
    proc = run_tool('tools/infer.py', smear(synthetic_data), '--detector', *cell_detector,
                    '--classifier', *cell_detector, '--report', '--no-pictures', check=False)
    assert proc.returncode == 2 and '--report shows the field pictures' in proc.stderr
