"""Adapting the pretrained default classifier: the linear head refitted in seconds, BatchNorm
statistics re-estimated without labels, and the tool that does it from a review's corrections."""
import json

import cv2
import numpy as np
import pytest
import torch

from mmcell.apis import CellClassificationInferencer
from mmcell.compat.checkpoint_loading import load_local_checkpoint
from mmcell.review import evaluate_crops, fit_linear_head, reestimate_batchnorm

from ..conftest import PBC_CLASSES, load_tool


def crops_of(synthetic_data):
    paths = sorted((synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB').rglob('*.jpg'))
    return [str(p) for p in paths], [p.parent.name for p in paths]


def state(path):
    return load_local_checkpoint(str(path), map_location='cpu')['state_dict']


def test_fit_linear_head_changes_only_the_head_and_fits_the_cells(lite_classifier,
                                                                  synthetic_data, tmp_path):
    crops, labels = crops_of(synthetic_data)  # 8 classes x 5 crops
    classifier = CellClassificationInferencer(*lite_classifier, trust=None)
    before = evaluate_crops(classifier, crops, labels)
    out = fit_linear_head(classifier, crops, labels, tmp_path / 'linear.pth')
    old, new = state(lite_classifier[1]), state(out)
    assert set(old) == set(new)
    changed = sorted(k for k in old if not torch.equal(old[k], new[k]))
    assert changed == ['head.fc.bias', 'head.fc.weight']
    # the classifier passed in is left as it was
    assert torch.equal(classifier.model.head.fc.weight, old['head.fc.weight'])
    refitted = CellClassificationInferencer(lite_classifier[0], str(out), trust=None)
    after = evaluate_crops(refitted, crops, labels)
    assert before['accuracy'] < 40 and after['accuracy'] >= 90  # ImageNet features separate them
    meta = torch.load(out, map_location='cpu', weights_only=True)['meta']
    assert list(meta['dataset_meta']['classes']) == list(PBC_CLASSES)


def test_fit_linear_head_refuses_what_it_cannot_fit(lite_classifier, synthetic_data, tmp_path):
    from ..conftest import ROOT, save_random_checkpoint
    vit = ROOT / 'configs' / 'baselines' / 'vit-s16_pbc_quick.py'
    vit = (str(vit), save_random_checkpoint(vit, tmp_path / 'vit.pth', PBC_CLASSES))
    crops, labels = crops_of(synthetic_data)
    with pytest.raises(ValueError, match=r"labels \['blast'\] are not classes"):
        fit_linear_head(CellClassificationInferencer(*lite_classifier, trust=None), crops[:2],
                        ['blast', labels[1]], tmp_path / 'x.pth')
    with pytest.raises(ValueError, match='VisionTransformerClsHead has no final linear layer'):
        fit_linear_head(CellClassificationInferencer(*vit, trust=None), crops[:2], labels[:2],
                        tmp_path / 'x.pth')
    assert not (tmp_path / 'x.pth').exists()


def test_fit_linear_head_fits_cellvit_sparse_head_too(cell_classifier, synthetic_data,
                                                      tmp_path):
    crops, labels = crops_of(synthetic_data)
    out = fit_linear_head(CellClassificationInferencer(*cell_classifier, trust=None), crops,
                          labels, tmp_path / 'linear.pth')
    old, new = state(cell_classifier[1]), state(out)
    assert sorted(k for k in old if not torch.equal(old[k], new[k])) == ['head.fc.bias',
                                                                        'head.fc.weight']


def test_reestimate_batchnorm_takes_the_statistics_of_the_cells(lite_classifier, synthetic_data):
    crops, _ = crops_of(synthetic_data)
    classifier = CellClassificationInferencer(*lite_classifier, trust=None)
    model = classifier.model
    weights = {k: v.clone() for k, v in model.state_dict().items() if 'running' not in k
               and 'num_batches' not in k}
    stem_bn = model.backbone.layers[0].bn
    batches = classifier.preprocess(crops, batch_size=8)
    assert reestimate_batchnorm(model, batches) == 49  # every BatchNorm of Lite0
    # the stem's statistics are now those of its conv outputs on these cells
    with torch.no_grad():
        data = next(iter(classifier.preprocess(crops, batch_size=len(crops))))
        x = model.data_preprocessor(data, False)['inputs']
        conv = model.backbone.layers[0].conv(x)
    assert torch.allclose(stem_bn.running_mean, conv.mean((0, 2, 3)), atol=1e-4)
    assert stem_bn.momentum == 0.1 and not model.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())


@pytest.mark.parametrize('kind', ['gray', 'rgba', 'uint16'])
def test_other_image_kinds_go_through_the_classifier(kind, lite_classifier, synthetic_data,
                                                     tmp_path):
    crop = cv2.imread(crops_of(synthetic_data)[0][0])
    img = {'gray': cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY),
           'rgba': cv2.cvtColor(crop, cv2.COLOR_BGR2BGRA),
           'uint16': crop.astype(np.uint16) * 257}[kind]
    path = tmp_path / f'{kind}.png'
    cv2.imwrite(str(path), img)
    (result, ) = CellClassificationInferencer(*lite_classifier, trust=None)([str(path)])
    assert result['pred_class'] in PBC_CLASSES and 0 < result['pred_score'] <= 1


def test_adapt_classifier_linear_mode(lite_classifier, synthetic_data, tmp_path, capsys):
    from mmcell.review import SmearRun
    adapt = load_tool('tools/adapt_classifier.py')
    crops, labels = crops_of(synthetic_data)
    run = SmearRun(tmp_path / 'run', PBC_CLASSES)
    cells = [dict(box=[10, 10, 40, 40], label='WBC', score=0.9, cell_class='neutrophil',
                  cell_score=0.5) for _ in crops]
    run.add_field('field.jpg', np.full((100, 100, 3), 230, np.uint8), cells,
                  crops=[cv2.imread(p) for p in crops])
    record = run.write()
    corrections = tmp_path / 'corrections.json'
    corrections.write_text(json.dumps(dict(
        format='mmcell-corrections', version=1, run_id=record['id'], classes=list(PBC_CLASSES),
        cells=[dict(id=c['id'], label=label) for c, label in zip(record['cells'], labels)])))
    adapt.main([*lite_classifier, str(tmp_path / 'run'), str(corrections), '--work-dir',
                str(tmp_path / 'out'), '--train', 'linear', '--holdout', '0.4'])
    report = json.loads((tmp_path / 'out' / 'adaptation.json').read_text())
    assert report['train'] == 'linear' and report['iters'] is None
    assert report['checkpoint'].endswith('linear.pth') and report['held_back'] == 16
    assert report['after']['accuracy'] > report['before']['accuracy']
    old, new = state(lite_classifier[1]), state(report['checkpoint'])
    assert sorted(k for k in old if not torch.equal(old[k], new[k])) == ['head.fc.bias',
                                                                        'head.fc.weight']
    assert 'fitting the final linear layer on 24 cells' in capsys.readouterr().out


@pytest.mark.trains
def test_a_fine_tune_starts_from_the_checkpoint_not_imagenet(lite_classifier, synthetic_data,
                                                             tmp_path):
    from mmcell.review import CorrectedCell, finetune, write_annotation_list
    from mmcell.utils import load_config
    ckpt = torch.load(lite_classifier[1], map_location='cpu', weights_only=True)
    ckpt['state_dict']['backbone.layers.0.conv.weight'] += 1.0  # unlike the ImageNet stem
    torch.save(ckpt, tmp_path / 'lab.pth')
    crops, labels = crops_of(synthetic_data)
    cells = [CorrectedCell(str(i), crop, '', label) for i, (crop, label) in
             enumerate(zip(crops[:8], labels[:8]))]
    write_annotation_list(cells, PBC_CLASSES, tmp_path / 'train.txt')
    out = finetune(load_config(lite_classifier[0]), str(tmp_path / 'lab.pth'),
                   tmp_path / 'train.txt', PBC_CLASSES, tmp_path / 'run', train='all', iters=1,
                   lr=1e-9, batch_size=4, log_level='WARNING')
    stem = state(out)['backbone.layers.0.conv.weight']
    assert torch.allclose(stem, ckpt['state_dict']['backbone.layers.0.conv.weight'], atol=1e-5)
