import csv
import hashlib

import numpy as np
import pytest
from mmdet.registry import DATASETS as DET_DATASETS
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

from mmcell.synthetic import (CELL_STYLES, SMEAR_CLASSES, WHITE_CELLS, render_cell_crop,
                             render_smear, write_cell_crops, write_smears)

from .conftest import FIVE_CELL_CLASSES


def digest(paths):
    return [hashlib.sha256(open(p, 'rb').read()).hexdigest() for p in paths]


def test_same_seed_same_crops_other_seed_other_crops(tmp_path):
    a = write_cell_crops(tmp_path / 'a', 2, size=48, seed=3)
    b = write_cell_crops(tmp_path / 'b', 2, size=48, seed=3)
    c = write_cell_crops(tmp_path / 'c', 2, size=48, seed=4)
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)
    assert len(a) == 2 * len(CELL_STYLES) == 16


def test_crops_load_through_pbc_dataset(synthetic_data):
    dataset = DATASETS.build(dict(type='PBCDataset', data_root=str(synthetic_data / 'pbc'),
                                  pipeline=[dict(type='LoadImageFromFile')]))
    assert dataset.CLASSES == tuple(CELL_STYLES)  # PBC's 8 folders, in PBC's order
    assert [dataset.get_gt_labels().tolist().count(i) for i in range(8)] == [5] * 8
    assert dataset[0]['img'].shape == (48, 48, 3)


def test_crops_in_class_folders_load_through_custom_dataset(cell_crops):
    dataset = DATASETS.build(dict(type='CustomDataset', data_root=str(cell_crops),
                                  pipeline=[dict(type='LoadImageFromFile')]))
    assert dataset.CLASSES == FIVE_CELL_CLASSES and len(dataset) == 20
    assert (cell_crops / 'basophil' / 'BA_00000.jpg').is_file()


def test_classes_differ_in_appearance():
    rng = np.random.default_rng(0)

    def centre_mean(cls):  # mean BGR colour of the crop's centre
        return np.mean([render_cell_crop(cls, rng)[38:58, 38:58].mean(axis=(0, 1))
                        for _ in range(8)], axis=0)
    eos, baso = centre_mean('eosinophil'), centre_mean('basophil')
    platelet = centre_mean('platelet')
    assert eos[2] > baso[2] + 20  # eosinophil granules are red-orange, basophil ones dark purple
    assert platelet.mean() > baso.mean() + 20  # a platelet clump leaves pale background around it


def test_unknown_class_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown cell classes \\['erythroblast_x'\\]"):
        write_cell_crops(tmp_path, 1, classes=['erythroblast_x'])


def test_smear_boxes_inside_image_with_pallor_and_all_kinds():
    rng = np.random.default_rng(0)
    img, boxes, labels, cell_classes = render_smear(rng)
    assert img.shape == (480, 640, 3) and img.dtype == np.uint8
    assert boxes.shape == (len(labels), 4) and len(cell_classes) == len(labels)
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 640).all() and (boxes[:, 3] <= 480).all()
    assert (boxes[:, 2:] > boxes[:, :2]).all()
    assert set(labels) <= set(SMEAR_CLASSES) and labels.count('RBC') >= 20
    assert {c for c, label in zip(cell_classes, labels) if label == 'WBC'} <= set(WHITE_CELLS)
    # Central pallor: a red cell's centre is paler than its ring.
    x1, y1, x2, y2 = boxes[labels.index('RBC')].astype(int)
    cx, cy, r = (x1 + x2) // 2, (y1 + y2) // 2, (x2 - x1) // 2
    if x1 > 0 and y1 > 0 and x2 < 640 and y2 < 480:
        assert img[cy - 2:cy + 3, cx - 2:cx + 3].mean() > img[cy, cx + int(0.7 * r)].mean()


def test_some_red_cells_overlap():
    rng = np.random.default_rng(1)
    _, boxes, labels, _ = render_smear(rng, num_red=(40, 40))
    red = boxes[[label == 'RBC' for label in labels]]
    ix = np.minimum(red[:, None, 2:], red[None, :, 2:]) - np.maximum(red[:, None, :2],
                                                                     red[None, :, :2])
    inter = ix.clip(0).prod(-1)
    np.fill_diagonal(inter, 0)
    assert (inter > 0).any()


def voc_dataset(root, split):
    init_default_scope('mmdet')
    return DET_DATASETS.build(dict(
        type='VOCDataset', data_root=str(root), ann_file=f'BCCD/ImageSets/Main/{split}.txt',
        data_prefix=dict(sub_data_root='BCCD/'), metainfo=dict(classes=SMEAR_CLASSES),
        test_mode=True,
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True)]))


def test_smears_are_deterministic_and_load_through_voc_dataset(synthetic_data, tmp_path):
    again = write_smears(tmp_path, dict(train=4, val=2, test=2), seed=0, size=(240, 320),
                         red_radius=(11, 14))
    voc = synthetic_data / 'bccd' / 'BCCD'
    assert digest([r['path'] for r in again]) == digest(sorted(voc.glob('JPEGImages/*.jpg')))

    test = voc_dataset(synthetic_data / 'bccd', 'test')
    assert len(test) == 2
    sample = test[0]
    assert sample['img'].shape == (240, 320, 3)
    with open(voc / 'ground_truth.csv') as f:
        truth = {row['image']: row for row in csv.DictReader(f)}
    assert len(truth) == 8 and {row['split'] for row in truth.values()} == {'train', 'val', 'test'}
    row = truth['Smear_00006']  # the first test image
    labels = sample['gt_bboxes_labels'].tolist()
    assert [labels.count(i) for i in range(3)] == [int(row[c]) for c in SMEAR_CLASSES]
    assert int(row['WBC']) == sum(int(row[c]) for c in CELL_STYLES)

    # The first image's boxes come back from VOC's 1-based inclusive pixels within half a
    # pixel, less the one mmdet takes off the far corner.
    _, boxes, labels, _ = render_smear(np.random.default_rng(0), size=(240, 320),
                                       red_radius=(11, 14))
    instances = voc_dataset(synthetic_data / 'bccd', 'train').get_data_info(0)['instances']
    assert [SMEAR_CLASSES[i['bbox_label']] for i in instances] == labels
    np.testing.assert_allclose([i['bbox'] for i in instances], boxes - [0, 0, 1, 1],
                               atol=0.5 + 1e-4)
