import csv
import json
from collections import Counter

import mmcv
import numpy as np
import pytest
from mmpretrain.apis import ImageClassificationInferencer

from mmcell.apis import CellClassificationInferencer, SmearInferencer
from mmcell.compat import UnsafeCheckpointError, safe_checkpoint_loading
from mmcell.structures import crop_cell
from mmcell.synthetic import SMEAR_CLASSES

from ..conftest import PBC_CLASSES, run_tool


@pytest.fixture(scope='module')
def classifier(cell_classifier):
    return CellClassificationInferencer(*cell_classifier)


@pytest.fixture(scope='module')
def smear_inferencer(cell_detector, cell_classifier):
    return SmearInferencer(*cell_detector, *cell_classifier, show_progress=False)


def smear(synthetic_data, name='Smear_00006'):
    return str(synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages' / f'{name}.jpg')


def test_classifier_gives_mmpretrains_results_batched(classifier, cell_classifier,
                                                      synthetic_data):
    cells = sorted((synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB' / 'monocyte').iterdir())
    results = classifier([str(cells[0]), mmcv.imread(cells[1])], batch_size=2)
    assert len(results) == 2 and classifier.trust_state is None
    for result in results:
        assert result['pred_scores'].shape == (8, )
        assert abs(result['pred_scores'].sum() - 1) < 1e-5
        assert result['pred_class'] == PBC_CLASSES[result['pred_label']]
        assert result['pred_score'] == pytest.approx(result['pred_scores'].max())
        assert result['unidentified'] is False
    quiet = classifier.classify([str(cells[0]), mmcv.imread(cells[1])], batch_size=1)
    np.testing.assert_allclose(quiet[0]['pred_scores'], results[0]['pred_scores'], atol=1e-5)
    # The same as mmpretrain's own inferencer on the same file.
    with safe_checkpoint_loading():
        plain = ImageClassificationInferencer(*cell_classifier, device='cpu')
    np.testing.assert_allclose(plain(str(cells[0]))[0]['pred_scores'],
                               results[0]['pred_scores'], atol=1e-5)


def test_untrusted_checkpoint_is_refused_by_the_inferencers(cell_classifier, cell_detector,
                                                            evil_checkpoint):
    path, marker = evil_checkpoint
    with pytest.raises(UnsafeCheckpointError, match='refused to load checkpoint'):
        CellClassificationInferencer(cell_classifier[0], str(path))
    with pytest.raises(UnsafeCheckpointError, match='refused to load checkpoint'):
        SmearInferencer(cell_detector[0], str(path))
    assert not marker.exists()


def reference_counts(cell_detector, cell_classifier, images, white, score_thr):
    """The smear pipeline as the earlier tools/infer.py ran it: mmdet's inference_detector on
    each field, each white cell cropped and classified alone by mmpretrain's inferencer."""
    from mmdet.apis import inference_detector, init_detector
    with safe_checkpoint_loading():  # the classifier first: init_detector sets mmdet's scope
        classifier = ImageClassificationInferencer(*cell_classifier, device='cpu')
        detector = init_detector(*cell_detector, device='cpu')
    counts = []
    for path in images:
        img = mmcv.imread(path)
        pred = inference_detector(detector, img).pred_instances
        keep = pred.scores >= score_thr
        labels = [SMEAR_CLASSES[k] for k in pred.labels[keep]]
        field = Counter(labels)
        for box, label in zip(pred.bboxes[keep].numpy(), labels):
            if label == white:
                field[f'{white}:' + classifier(crop_cell(img, box))[0]['pred_class']] += 1
        counts.append(field)
    return counts


def test_smear_inferencer_counts_as_the_earlier_pipeline(smear_inferencer, cell_detector,
                                                         cell_classifier, synthetic_data):
    images = [smear(synthetic_data, name) for name in ('Smear_00006', 'Smear_00007')]
    result = smear_inferencer(images, batch_size=2, score_thr=0.0, white_class='RBC')
    expected = reference_counts(cell_detector, cell_classifier, images, 'RBC', 0.0)
    for field, reference in zip(result['fields'], expected):
        assert list(field['counts'])[:3] == list(SMEAR_CLASSES)
        assert list(field['counts'])[3:] == [f'RBC:{c}' for c in (*PBC_CLASSES, 'unidentified')]
        assert {k: v for k, v in field['counts'].items() if v} == dict(reference)
        whites = [c for c in field['cells'] if c['label'] == 'RBC']
        assert len(field['crops']) == len(whites) == field['counts']['RBC']
        assert all(c['cell_class'] in PBC_CLASSES and 0 < c['cell_score'] <= 1 for c in whites)
        scores = [c['score'] for c in field['cells']]
        assert scores == sorted(scores, reverse=True) and len(scores) == 6


def test_smear_inferencer_differential_is_over_white_cells(smear_inferencer, synthetic_data):
    images = [smear(synthetic_data, f'Smear_0000{k}') for k in range(6, 10)]
    result = smear_inferencer(images, score_thr=0.0, white_class='RBC')
    diff = result['differential']
    classified = Counter(c['cell_class'] for f in result['fields'] for c in f['cells']
                         if 'cell_class' in c)
    assert [row.name for row in diff.rows] == ['basophil', 'eosinophil', 'ig', 'lymphocyte',
                                               'monocyte', 'neutrophil']
    assert diff.identified == sum(row.count for row in diff.rows) > 0
    assert sum(row.percent for row in diff.rows) == pytest.approx(100)
    assert diff.nucleated_red == {'erythroblast': classified['erythroblast']}
    assert diff.not_white == {'platelet': classified['platelet']}
    assert diff.identified + sum(diff.nucleated_red.values()) + sum(
        diff.not_white.values()) == sum(classified.values())


def test_smear_inferencer_tiles_large_fields(smear_inferencer, synthetic_data):
    result = smear_inferencer(smear(synthetic_data), score_thr=0.0, tile_size=(160, 200),
                              white_class='RBC')
    (field, ) = result['fields']
    boxes = np.array([c['box'] for c in field['cells']])
    assert len(boxes) >= 1
    assert (boxes[:, 2] <= 320 + 1e-3).all() and (boxes[:, 3] <= 240 + 1e-3).all()


def test_smear_inferencer_skips_unreadable_fields_and_names_them(smear_inferencer,
                                                                 synthetic_data, tmp_path):
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'\xff\xd8\xff not really a jpeg')
    result = smear_inferencer([smear(synthetic_data), str(broken)], score_thr=0.0,
                              white_class='RBC', out_dir=str(tmp_path / 'out'), report=True)
    assert [path for path, _ in result['skipped']] == [str(broken)]
    assert len(result['fields']) == 1
    timing = result['timing']
    assert timing['fields'] == 1 and timing['detection_s'] > 0
    assert timing['cells'] == result['fields'][0]['counts']['RBC'] == len(
        result['fields'][0]['crops'])
    record = json.loads((tmp_path / 'out' / 'run.json').read_text())
    assert [s['image'] for s in record['skipped']] == [str(broken)]
    assert (tmp_path / 'out' / 'review.html').is_file()
    with open(tmp_path / 'out' / 'differential.csv') as f:
        rows = {r['class']: r for r in csv.DictReader(f)}
    assert 'erythroblast' in rows and rows['erythroblast']['percent'] == ''
    assert 'platelet (not a white cell)' in rows
    with pytest.raises(ValueError, match="white_class 'Blast' is not one of"):
        smear_inferencer(smear(synthetic_data), white_class='Blast')


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
    proc = run_tool('tools/infer.py', images, '--detector', *cell_detector, '--classifier',
                    *cell_classifier, '--score-thr', '0', '--white-class', 'RBC',
                    '--no-pictures', '--out-dir', tmp_path)
    assert not (tmp_path / 'fields').exists() and not (tmp_path / 'review.html').exists()
    assert 'per 100 white cells' in proc.stdout and 'not a white cell' in proc.stdout
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
