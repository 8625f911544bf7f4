import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from mmcell.uncertainty.state import (ModelFingerprint, TrustState, model_fingerprint,
                                      trust_state_path)

CLASSES = ('lymphocyte', 'monocyte', 'neutrophil')


def head(seed):
    torch.manual_seed(seed)
    return MODELS.build(dict(type='LinearClsHead', num_classes=3, in_channels=8))


def synthetic(n, seed, dim=8):
    """Features in three clusters and logits that a linear layer would give on them."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centres = 3 * torch.eye(3, dim)
    features = centres[labels] + torch.randn(n, dim, generator=g)
    logits = 2 * features[:, :3] + 0.5 * torch.randn(n, 3, generator=g)
    return logits, features, labels


@pytest.fixture(scope='module')
def fitted():
    fingerprint = model_fingerprint(head(0), CLASSES, 'configs/cellvit/cellvit_pbc.py')
    train_logits, train_features, train_labels = synthetic(600, 0)
    val_logits, val_features, val_labels = synthetic(300, 1)
    return TrustState.fit(fingerprint, val_logits, val_labels, train_features=train_features,
                          train_labels=train_labels, val_features=val_features, coverage=0.9)


def test_the_fitted_state_holds_everything(fitted):
    assert fitted.fingerprint.classes == CLASSES
    assert fitted.fingerprint.config == 'cellvit_pbc.py'
    assert fitted.calibration == 'temperature' and fitted.temperature > 0
    assert [s.numel() for s in fitted.conformal_scores] == [100, 100, 100]
    assert all((s.diff() >= 0).all() for s in fitted.conformal_scores)
    assert fitted.mahalanobis_means.shape == (3, 8) and fitted.mahalanobis_precision.shape == (8, 8)
    assert sorted(fitted.thresholds) == ['mahalanobis', 'max_softmax', 'negative_energy']
    assert fitted.reject_by == ('mahalanobis', ) and fitted.accept == 0.95


def test_a_trust_state_survives_save_and_load(fitted, tmp_path):
    path = fitted.save(trust_state_path(tmp_path / 'epoch_3.pth'))
    assert path.name == 'epoch_3.trust.pth'
    raw = torch.load(path, weights_only=True)  # tensors and plain types only
    assert raw['format'] == 'mmcell.trust_state' and raw['classes'] == list(CLASSES)
    loaded = TrustState.load(path)
    assert loaded.source == str(path)
    assert loaded.fingerprint == fitted.fingerprint
    assert loaded.temperature == fitted.temperature and loaded.thresholds == fitted.thresholds
    assert all(torch.equal(a, b) for a, b in zip(loaded.conformal_scores,
                                                 fitted.conformal_scores))
    logits, features, _ = synthetic(50, 2)
    before, after = fitted.apply(logits, features), loaded.apply(logits, features)
    for key in ('probs', 'prediction_set', 'unidentified', 'prediction'):
        assert torch.equal(before[key], after[key])
    assert all(torch.equal(before['scores'][k], after['scores'][k]) for k in before['scores'])
    assert torch.equal(loaded.confusion, fitted.confusion)


def test_the_validation_confusion_counts_each_cell_once_by_its_answer(fitted):
    val_logits, val_features, val_labels = synthetic(300, 1)
    answer = fitted.apply(val_logits, val_features)['prediction']
    confusion = fitted.confusion
    assert confusion.shape == (3, 4) and confusion.dtype == torch.int64
    assert confusion.sum(1).tolist() == [100, 100, 100]  # every validation cell, once
    assert confusion[:, 3].sum() == (answer == -1).sum()  # the unidentified column
    for true in range(3):
        for given in range(3):
            assert confusion[true, given] == ((val_labels == true) & (answer == given)).sum()
    with pytest.raises(ValueError, match=r'must be \(3, 4\)'):
        TrustState(fitted.fingerprint, fitted.conformal_scores, confusion=torch.zeros(3, 3))


def test_vector_scaling_state_survives_save_and_load(tmp_path):
    logits, _, labels = synthetic(300, 3)
    fingerprint = model_fingerprint(head(0), CLASSES)
    state = TrustState.fit(fingerprint, logits, labels, calibration='vector')
    assert state.calibration == 'vector' and state.reject_by == ()
    loaded = TrustState.load(state.save(tmp_path / 'm.trust.pth'))
    assert torch.equal(loaded.vector_scale, state.vector_scale)
    assert torch.equal(loaded.calibrate(logits), state.calibrate(logits))


def test_check_refuses_another_models_fingerprint_naming_both(fitted, tmp_path):
    fitted.check(model_fingerprint(head(0), CLASSES, 'moved/elsewhere.py'))  # same model
    other = model_fingerprint(head(1), CLASSES, 'cellvit_pbc.py')
    loaded = TrustState.load(fitted.save(tmp_path / 'a.trust.pth'))
    with pytest.raises(ValueError) as err:
        loaded.check(other)
    message = str(err.value)
    assert str(tmp_path / 'a.trust.pth') in message and 'final-layer weights differ' in message
    assert fitted.fingerprint.weights_sha256 in message and other.weights_sha256 in message
    renamed = ModelFingerprint(('basophil', 'eosinophil', 'neutrophil'), 'x.py',
                               fitted.fingerprint.weights_sha256)
    with pytest.raises(ValueError, match='the classes differ') as err:
        fitted.check(renamed)
    assert str(list(CLASSES)) in str(err.value) and "'basophil'" in str(err.value)


def test_the_fingerprint_follows_the_final_layer_weights():
    a, b = head(0), head(0)
    assert model_fingerprint(a, CLASSES) == model_fingerprint(b, CLASSES)
    with torch.no_grad():
        b.fc.bias[0] += 1e-3
    assert (model_fingerprint(a, CLASSES).weights_sha256
            != model_fingerprint(b, CLASSES).weights_sha256)
    with pytest.raises(ValueError, match='2 classes for a final layer of 3 outputs'):
        model_fingerprint(a, CLASSES[:2])
    with pytest.raises(TypeError, match='final layer of Linear is not known'):
        model_fingerprint(torch.nn.Linear(2, 2), CLASSES)


def test_missing_and_malformed_files_fail_naming_the_file(fitted, tmp_path):
    missing = tmp_path / 'nope.trust.pth'
    with pytest.raises(FileNotFoundError, match=str(missing)):
        TrustState.load(missing)
    garbage = tmp_path / 'garbage.trust.pth'
    garbage.write_bytes(b'not a torch file')
    with pytest.raises(ValueError, match=f'{garbage} is not a readable trust state file'):
        TrustState.load(garbage)
    checkpoint_like = tmp_path / 'ckpt.trust.pth'
    torch.save({'state_dict': {}}, checkpoint_like)
    with pytest.raises(ValueError, match=f'{checkpoint_like} is not an mmcell trust state'):
        TrustState.load(checkpoint_like)
    truncated = tmp_path / 'truncated.trust.pth'
    data = fitted.to_dict()
    del data['conformal_scores']
    torch.save(data, truncated)
    with pytest.raises(ValueError, match=f"{truncated} is a malformed trust state file: no "
                       "'conformal_scores'"):
        TrustState.load(truncated)
    too_few = tmp_path / 'too_few.trust.pth'
    data = fitted.to_dict()
    data['conformal_scores'][1] = data['conformal_scores'][1][:5]
    torch.save(data, too_few)
    with pytest.raises(ValueError, match=f"{too_few} is a malformed.*'monocyte' has 5 calibration"):
        TrustState.load(too_few)


def test_apply_flags_unidentified_cells_and_any_coverage_can_be_chosen(fitted):
    logits, features, labels = synthetic(3000, 4)
    out = fitted.apply(logits, features)
    sets, rejected, prediction = out['prediction_set'], out['unidentified'], out['prediction']
    assert torch.allclose(out['probs'], F.softmax(logits / fitted.temperature, 1))
    assert torch.equal(prediction == -1, rejected)
    single = sets.sum(1) == 1
    assert (rejected | single).all() and (rejected >= ~single).all()
    assert torch.equal(prediction[~rejected], sets[~rejected].long().argmax(1))
    covered = sets[torch.arange(len(labels)), labels].double().mean()
    assert covered == pytest.approx(0.9, abs=0.04)
    wider = fitted.apply(logits, features, coverage=0.99)['prediction_set']
    assert (wider >= sets).all() and wider.sum() > sets.sum()
    # A confident softmax on an unfamiliar feature: the Mahalanobis threshold rejects it.
    strange = fitted.apply(torch.tensor([[9., 0., 0.]]), torch.full((1, 8), 12.))
    assert strange['prediction_set'].tolist() == [[True, False, False]]
    assert strange['unidentified'].tolist() == [True] and strange['prediction'].tolist() == [-1]
    with pytest.raises(ValueError, match='needs the pre-logit features'):
        fitted.apply(logits)
    with pytest.raises(ValueError, match=r'logits must be \(N, 3\)'):
        fitted.apply(torch.zeros(2, 4))


def test_trust_state_path():
    assert trust_state_path('w/best.pth').as_posix() == 'w/best.trust.pth'
    assert trust_state_path('w/model.ckpt').as_posix() == 'w/model.ckpt.trust.pth'
