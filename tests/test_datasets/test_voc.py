"""CellVOCDataset: VOC files read with checks (bad files named, odd boxes clipped or skipped)."""
import numpy as np
import pytest
from mmdet.registry import DATASETS
from mmengine.registry import DefaultScope
from PIL import Image

from mmcell.datasets import CellVOCDataset, DatasetError, voc_xml

from ..conftest import DATA

CLASSES = ('RBC', 'WBC', 'Platelets')


def write(root, images, size=(100, 120)):
    """VOC files for ``images``: name -> list of (label, (x1, y1, x2, y2)) in 0-based corners."""
    for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        (root / 'V' / sub).mkdir(parents=True, exist_ok=True)
    for name, objects in images.items():
        Image.fromarray(np.full((*size, 3), 200, np.uint8)).save(
            root / 'V' / 'JPEGImages' / f'{name}.jpg')
        boxes = [box for _, box in objects]
        (root / 'V' / 'Annotations' / f'{name}.xml').write_text(
            voc_xml(f'{name}.jpg', (*size, 3), boxes, [label for label, _ in objects]))
    (root / 'V' / 'ImageSets' / 'Main' / 'all.txt').write_text(''.join(f'{n}\n' for n in images))


@pytest.fixture
def logged(monkeypatch):
    """The messages CellVOCDataset logs."""
    messages = []
    monkeypatch.setattr('mmcell.datasets.voc.print_log',
                        lambda msg, logger=None, level=None: messages.append(msg))
    return messages


def build(root, **kwargs):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(dict(type='CellVOCDataset', data_root=str(root),
                                   ann_file='V/ImageSets/Main/all.txt',
                                   data_prefix=dict(sub_data_root='V/'),
                                   metainfo=dict(classes=CLASSES), pipeline=[], **kwargs))


def test_good_files_read_as_mmdet_reads_them(tmp_path):
    write(tmp_path, {'a': [('RBC', (10, 20, 40, 50)), ('WBC', (50, 10, 90, 60))]})
    info = build(tmp_path).get_data_info(0)
    assert [(i['bbox'], i['bbox_label']) for i in info['instances']] == [
        ([10, 20, 39, 49], 0), ([50, 10, 89, 59], 1)]  # mmdet takes 1 off every VOC coordinate
    assert (info['width'], info['height']) == (120, 100)


def test_boxes_outside_clipped_zero_area_skipped_with_a_count(tmp_path, logged):
    write(tmp_path, {'a': [('RBC', (-5, 10, 30, 40)), ('RBC', (30, 30, 30, 30)),
                           ('WBC', (100, 80, 140, 130))]})
    instances = build(tmp_path).get_data_info(0)['instances']
    assert [i['bbox'] for i in instances] == [[0, 10, 29, 39], [100, 80, 120, 100]]
    out = '\n'.join(logged)
    assert 'a.xml, object 2: skipped: box [30, 30, 29, 29] has no area' in out
    assert '2 boxes clipped to their image, 1 boxes of zero area skipped' in logged[-1]


@pytest.mark.parametrize('text, problem', [
    ('<annotation><object>', 'malformed XML'),
    ('<annotation><object><name>RBC</name><bndbox><xmin>a</xmin></bndbox></object>'
     '</annotation>', 'object 1: <bndbox> needs numeric'),
    ('<annotation><object><bndbox/></object></annotation>', 'object 1: no <name>'),
    ('<annotation><object><name>Sickle</name></object></annotation>',
     "object 1: class 'Sickle' is not one of ('RBC', 'WBC', 'Platelets')"),
])
def test_bad_xml_is_named_at_build_time(tmp_path, text, problem):
    write(tmp_path, {'a': [('RBC', (1, 1, 9, 9))], 'b': [('RBC', (1, 1, 9, 9))]})
    (tmp_path / 'V' / 'Annotations' / 'b.xml').write_text(text)
    with pytest.raises(DatasetError, match=r'b\.xml.*' + problem.replace('(', r'\(')
                       .replace(')', r'\)')):
        build(tmp_path)


def test_missing_image_or_annotation_is_named(tmp_path):
    write(tmp_path, {'a': [('RBC', (1, 1, 9, 9))], 'b': [('RBC', (1, 1, 9, 9))]})
    (tmp_path / 'V' / 'JPEGImages' / 'b.jpg').unlink()
    with pytest.raises(DatasetError, match=r'b\.xml: its image .*b\.jpg does not exist'):
        build(tmp_path)
    (tmp_path / 'V' / 'Annotations' / 'b.xml').unlink()
    with pytest.raises(DatasetError, match=r'b\.xml: annotation file not found'):
        build(tmp_path)


def test_unknown_classes_can_be_skipped(tmp_path, logged):
    write(tmp_path, {'a': [('RBC', (1, 1, 9, 9)), ('Sickle', (10, 10, 20, 20))]})
    instances = build(tmp_path, unknown_classes='skip').get_data_info(0)['instances']
    assert [i['bbox_label'] for i in instances] == [0]
    assert '1 objects of unknown classes skipped' in logged[-1]
    with pytest.raises(ValueError, match="unknown_classes must be one of"):
        CellVOCDataset(unknown_classes='ignore')


@pytest.mark.skipif(not (DATA / 'bccd' / 'BCCD').is_dir(), reason='no BCCD data')
def test_bccd_trainval_and_its_two_empty_boxes(logged):
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(dict(
            type='CellVOCDataset', data_root=str(DATA / 'bccd'), metainfo=dict(classes=CLASSES),
            ann_file='BCCD/ImageSets/Main/trainval.txt', data_prefix=dict(sub_data_root='BCCD/'),
            pipeline=[], test_mode=True))
    assert len(dataset) == 292
    assert logged[-1].endswith('2 boxes of zero area skipped (see the warnings above)')
    assert sum('BloodImage_00338.xml' in m or 'BloodImage_00343.xml' in m for m in logged) == 2
