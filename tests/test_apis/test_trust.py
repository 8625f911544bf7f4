"""A classifier's trust state at inference: found beside its checkpoint, checked against the
model, and putting the cells it cannot trust in ``unidentified``, counted once."""
import csv
import shutil

import pytest
import torch

from mmcell.apis import CellClassificationInferencer, SmearInferencer
from mmcell.uncertainty import (ModelFingerprint, TrustState, collect_outputs, correct_counts,
                                model_fingerprint, trust_state_path)

from ..conftest import PBC_CLASSES, run_tool


@pytest.fixture(scope='module')
def trusted_classifier(cell_classifier, synthetic_data, tmp_path_factory):
    """The random CellViT with a trust state fitted on the synthetic crops, beside a copy of
    its checkpoint; returns (config, checkpoint, state)."""
    config, checkpoint = cell_classifier
    folder = tmp_path_factory.mktemp('trusted')
    copy = str(folder / 'epoch_1.pth')
    shutil.copy(checkpoint, copy)
    classifier = CellClassificationInferencer(config, copy)
    assert classifier.trust_state is None  # nothing beside the checkpoint yet
    crops = sorted(str(p) for p in (synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB').rglob(
        '*.jpg'))
    outputs = collect_outputs(classifier.model, classifier.preprocess(crops, batch_size=8))
    labels = torch.tensor([PBC_CLASSES.index(p.split('/')[-2]) for p in crops])
    state = TrustState.fit(model_fingerprint(classifier.model, PBC_CLASSES, config),
                           outputs.logits, labels, train_features=outputs.features,
                           train_labels=labels, val_features=outputs.features, coverage=0.5)
    state.save(trust_state_path(copy))
    return config, copy, state


def test_the_state_beside_the_checkpoint_is_found_and_calibrates(trusted_classifier,
                                                                   synthetic_data):
    config, checkpoint, state = trusted_classifier
    classifier = CellClassificationInferencer(config, checkpoint)
    assert classifier.trust_state.fingerprint == state.fingerprint
    assert CellClassificationInferencer(config, checkpoint, trust=None).trust_state is None
    crop = str(next((synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB' / 'ig').iterdir()))
    trusted = classifier([crop])[0]
    # Temperature scaling is shift-invariant: log-probabilities stand in for the logits.
    plain = CellClassificationInferencer(config, checkpoint, trust=None)([crop])[0]
    calibrated = state.calibrate(torch.log(torch.tensor(plain['pred_scores'][None]).double())
                                 .float())
    assert trusted['pred_scores'] == pytest.approx(calibrated[0].numpy(), abs=1e-4)
    assert set(trusted['prediction_set']) <= set(PBC_CLASSES)
    if len(trusted['prediction_set']) != 1:  # not exactly one class: unidentified
        assert trusted['unidentified']


def test_a_state_for_another_model_is_refused_naming_both(trusted_classifier, tmp_path):
    config, checkpoint, state = trusted_classifier
    other = TrustState(ModelFingerprint(PBC_CLASSES[::-1], 'other.py', 'f' * 64),
                       state.conformal_scores, coverage=0.5)
    path = tmp_path / 'other.trust.pth'
    other.save(path)
    with pytest.raises(ValueError) as err:
        CellClassificationInferencer(config, checkpoint, trust=str(path))
    assert 'f' * 64 in str(err.value) and state.fingerprint.weights_sha256 in str(err.value)


def test_unidentified_cells_are_counted_once_and_in_no_class(trusted_classifier, cell_detector,
                                                             synthetic_data):
    config, checkpoint, state = trusted_classifier
    smear_inferencer = SmearInferencer(*cell_detector, config, checkpoint, show_progress=False)
    smear = str(synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages' / 'Smear_00006.jpg')
    for coverage in (0.5, 0.9):  # 0.9 needs 9 cells a class: refused (5 here), naming the class
        if coverage == 0.9:
            with pytest.raises(ValueError, match='needs at least 9'):
                smear_inferencer(smear, white_class='RBC', score_thr=0.0, coverage=coverage)
            continue
        result = smear_inferencer(smear, white_class='RBC', score_thr=0.0, coverage=coverage)
        (field, ) = result['fields']
        whites = [c for c in field['cells'] if c['label'] == 'RBC']
        counts = field['counts']
        out = [c for c in whites if c['unidentified']]
        assert counts['RBC:unidentified'] == len(out)
        assert all(c['cell_class'] == 'unidentified' for c in out)
        assert sum(counts[f'RBC:{c}'] for c in (*PBC_CLASSES, 'unidentified')) == len(whites)
        diff = result['differential']
        apart = sum(diff.nucleated_red.values()) + sum(diff.not_white.values())
        assert diff.unidentified == len(out)
        assert diff.identified == len(whites) - len(out) - apart


@pytest.mark.subprocess
def test_infer_refuses_a_coverage_outside_zero_one(cell_classifier, synthetic_data):
    proc = run_tool('tools/infer.py', synthetic_data / 'pbc', '--classifier', *cell_classifier,
                    '--coverage', '1.5', check=False)
    assert proc.returncode == 2 and '1.5 is not between 0 and 1' in proc.stderr


@pytest.mark.subprocess
def test_infer_corrects_counts_with_the_states_confusion(trusted_classifier, cell_detector,
                                                         synthetic_data, tmp_path):
    config, checkpoint, state = trusted_classifier
    smears = str(synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages' / 'Smear_0000[0-3].jpg')
    common = [smears, '--detector', *cell_detector, '--classifier', config, checkpoint,
              '--white-class', 'RBC', '--score-thr', '0', '--no-pictures']
    proc = run_tool('tools/infer.py', *common, '--out-dir', tmp_path / 'plain')
    proc = run_tool('tools/infer.py', *common, '--correct-counts', '--out-dir',
                    tmp_path / 'corrected')
    assert 'non-negative least squares' in proc.stdout
    with open(tmp_path / 'corrected' / 'differential.csv') as f:
        rows = list(csv.DictReader(f))
    with open(tmp_path / 'plain' / 'differential.csv') as f:
        plain = list(csv.DictReader(f))
    assert [r['count'] for r in rows] == [r['count'] for r in plain]  # the same cells
    count = {r['class'].replace(' (not a white cell)', ''): int(r['count']) for r in rows}
    observed = [count[c] for c in (*PBC_CLASSES, 'unidentified')]
    expected = dict(zip(PBC_CLASSES, correct_counts(observed, state.confusion, PBC_CLASSES)))
    white = [r for r in rows if r['corrected_percent']]  # the white-cell rows
    assert [r['class'] for r in white] == ['basophil', 'eosinophil', 'ig', 'lymphocyte',
                                           'monocyte', 'neutrophil']
    assert [float(r['corrected_count']) for r in white] == pytest.approx(
        [expected[r['class']] for r in white], abs=0.05)
    assert sum(float(r['corrected_percent']) for r in white) == pytest.approx(100, abs=0.5)
    # a coverage other than the one the confusion was counted at is refused, naming both
    proc = run_tool('tools/infer.py', *common, '--correct-counts', '--coverage', '0.6',
                    '--out-dir', tmp_path / 'other', check=False)
    assert proc.returncode != 0 and 'coverage 0.5, this run asks 0.6' in proc.stderr


@pytest.mark.subprocess
def test_infer_correct_counts_needs_a_trust_state(cell_classifier, cell_detector, synthetic_data,
                                                  tmp_path):
    smear = str(synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages' / 'Smear_00006.jpg')
    proc = run_tool('tools/infer.py', smear, '--detector', *cell_detector, '--classifier',
                    *cell_classifier, '--correct-counts', '--out-dir', tmp_path, check=False)
    assert proc.returncode != 0
    assert 'correct_counts needs a trust state beside' in proc.stderr
    assert cell_classifier[1] in proc.stderr


def test_the_default_classifier_takes_a_trust_state_in_the_smear_pipeline(
        lite_classifier, cell_detector, synthetic_data, tmp_path):
    config, checkpoint = lite_classifier
    copy = str(tmp_path / 'epoch_6.pth')
    shutil.copy(checkpoint, copy)
    classifier = CellClassificationInferencer(config, copy)
    crops = sorted(str(p) for p in (synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB').rglob(
        '*.jpg'))
    outputs = collect_outputs(classifier.model, classifier.preprocess(crops, batch_size=8))
    assert outputs.features.shape == (40, 1280)  # the pooled EfficientNet-Lite0 features
    labels = torch.tensor([PBC_CLASSES.index(p.split('/')[-2]) for p in crops])
    TrustState.fit(model_fingerprint(classifier.model, PBC_CLASSES, config), outputs.logits,
                   labels, train_features=outputs.features, train_labels=labels,
                   val_features=outputs.features, coverage=0.5).save(trust_state_path(copy))
    trusted = CellClassificationInferencer(config, copy)
    assert trusted.trust_state is not None
    smear = str(synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages' / 'Smear_00006.jpg')
    (field, ) = SmearInferencer(*cell_detector, config, copy, show_progress=False)(
        smear, white_class='RBC', score_thr=0.0)['fields']
    white = [c for c in field['cells'] if c['label'] == 'RBC']
    assert white and all(c['cell_class'] in (*PBC_CLASSES, 'unidentified') for c in white)
    assert sum(field['counts'][f'RBC:{c}'] for c in (*PBC_CLASSES, 'unidentified')) == \
        len(white)
