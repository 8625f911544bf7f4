"""BCCD's white cells as a second-lab test set: counts on the real files, bad input named."""
from collections import Counter

import numpy as np
import pytest
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS, TRANSFORMS

from mmcell.apis import build_model
from mmcell.datasets import DatasetError
from mmcell.utils import load_config

from ..conftest import DATA, ROOT

BCCD = DATA / 'bccd'
needs_bccd = pytest.mark.skipif(not (BCCD / 'labels.csv').is_file(),
                                reason=f'BCCD with labels.csv not found under {DATA}')
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='CropCell'), dict(type='PackInputs')]


def build(**kwargs):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return DATASETS.build(dict(type='BCCDWBCDataset', pipeline=PIPELINE, **kwargs))


@needs_bccd
def test_the_real_files_give_341_cells_with_their_subtypes():
    cells = build(data_root=str(BCCD))
    counts = Counter(cells.metainfo['classes'][k] for k in cells.get_gt_labels())
    assert counts == dict(neutrophil=202, eosinophil=84, lymphocyte=33, monocyte=20, basophil=2)
    assert dict(cells.skipped) == {'no subtype': 44, 'several subtypes': 15,
                                   'no image or annotation': 4, 'several or no WBC boxes': 7}
    sample = cells[0]
    box = cells.get_data_info(0)['cell_box']
    side = round(1.9 * max(box[2] - box[0], box[3] - box[1]))
    assert sample['inputs'].shape[1:] == (side, side)  # framed as the smear pipeline frames it


@needs_bccd
def test_classes_pick_the_label_space_and_others_are_counted():
    cells = build(data_root=str(BCCD), classes=('lymphocyte', 'neutrophil'))
    assert len(cells) == 235 and set(cells.get_gt_labels().tolist()) == {0, 1}
    assert cells.skipped['eosinophil (not in classes)'] == 84


def write_bccd(root, rows, boxes=1):
    (root / 'BCCD' / 'JPEGImages').mkdir(parents=True)
    (root / 'BCCD' / 'Annotations').mkdir()
    import cv2
    cv2.imwrite(str(root / 'BCCD' / 'JPEGImages' / 'BloodImage_00000.jpg'),
                np.full((60, 80, 3), 200, np.uint8))
    objects = ''.join('<object><name>WBC</name><bndbox><xmin>10</xmin><ymin>10</ymin>'
                      '<xmax>30</xmax><ymax>40</ymax></bndbox></object>' for _ in range(boxes))
    (root / 'BCCD' / 'Annotations' / 'BloodImage_00000.xml').write_text(
        f'<annotation>{objects}</annotation>')
    (root / 'labels.csv').write_text(',Image,Category\n' + ''.join(f'{r}\n' for r in rows))


def test_an_unknown_subtype_stops_the_build_naming_the_line(tmp_path):
    write_bccd(tmp_path, [',0,NEUTROPHIL', ',1,BLAST'])
    with pytest.raises(DatasetError, match=r"labels.csv, line 3: subtype 'BLAST' is not one of"):
        build(data_root=str(tmp_path))


def test_a_malformed_line_and_a_missing_list_are_named(tmp_path):
    write_bccd(tmp_path, [',zero,NEUTROPHIL'])
    with pytest.raises(DatasetError, match='line 2: expected'):
        build(data_root=str(tmp_path))
    with pytest.raises(DatasetError, match='labels.csv does not exist'):
        build(data_root=str(tmp_path / 'nowhere'))


def test_an_image_with_two_white_cells_is_skipped_not_guessed(tmp_path):
    write_bccd(tmp_path, [',0,NEUTROPHIL'], boxes=2)
    with pytest.raises(DatasetError, match='no image has one WBC box'):
        build(data_root=str(tmp_path))


@pytest.mark.parametrize('img', [np.zeros((50, 50), np.uint8), np.zeros((50, 50, 4), np.uint8),
                                 np.zeros((50, 50, 3), np.uint16)])
def test_crop_cell_keeps_channels_and_dtype(img):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        crop = TRANSFORMS.build(dict(type='CropCell', context=2.0))
    out = crop(dict(img=img, cell_box=np.array([40., 40., 50., 48.])))['img']
    assert out.shape[:2] == (20, 20) and out.shape[2:] == img.shape[2:]
    assert out.dtype == img.dtype
    assert crop(dict(img=img))['img'] is img  # no box: left as it is


@needs_bccd
def test_the_test_config_evaluates_a_pbc_model_unchanged():
    cfg = load_config(ROOT / 'configs' / 'cellvit' / 'cellvit_pbc_test-bccd-wbc.py')
    assert cfg.model == load_config(ROOT / 'configs' / 'cellvit' / 'cellvit_pbc.py').model
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        cells = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(cells) == 341 and cells[0]['inputs'].shape[1:] == (128, 128)
    assert build_model(cfg, init_weights=False).head.num_classes == 8
