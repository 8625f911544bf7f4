"""RBC14Dataset: LabelImg VOC files with the paper's 14 red-cell classes."""
import numpy as np
import pytest
from mmdet.registry import DATASETS
from PIL import Image

import mmcell  # noqa: F401
from mmcell.datasets import RBC14_CLASSES, DatasetError

XML = """<annotation><folder>JPEGImages</folder><filename>{name}.jpg</filename>
<size><width>500</width><height>375</height><depth>3</depth></size>{objects}</annotation>"""
OBJECT = """<object><name>{label}</name><pose>Unspecified</pose><truncated>0</truncated>
<difficult>0</difficult><bndbox><xmin>{box[0]}</xmin><ymin>{box[1]}</ymin><xmax>{box[2]}</xmax>
<ymax>{box[3]}</ymax></bndbox></object>"""


def write_voc(root, images):
    for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        (root / 'RBC' / sub).mkdir(parents=True, exist_ok=True)
    for name, objects in images.items():
        Image.fromarray(np.full((375, 500, 3), 200, np.uint8)).save(
            root / 'RBC' / 'JPEGImages' / f'{name}.jpg')
        (root / 'RBC' / 'Annotations' / f'{name}.xml').write_text(XML.format(
            name=name, objects=''.join(OBJECT.format(label=label, box=box)
                                       for label, box in objects)))
    (root / 'RBC' / 'ImageSets' / 'Main' / 'train.txt').write_text('\n'.join(images) + '\n')


def build(root):
    return DATASETS.build(dict(type='RBC14Dataset', data_root=str(root),
                               ann_file='RBC/ImageSets/Main/train.txt',
                               data_prefix=dict(sub_data_root='RBC/'), pipeline=[]))


def test_labelimg_names_map_to_the_14_classes(tmp_path):
    write_voc(tmp_path, {
        'p001': [('Target cells', (10, 20, 31, 41)), ('normal RBCs', (50, 50, 71, 71))],
        'p002': [('edge_cell', (0, 100, 12, 121)), ('basophilicstippling', (200, 200, 222, 222))],
    })
    dataset = build(tmp_path)
    assert dataset.metainfo['classes'] == RBC14_CLASSES and len(RBC14_CLASSES) == 14
    first, second = dataset.get_data_info(0), dataset.get_data_info(1)
    names = [[RBC14_CLASSES[i['bbox_label']] for i in d['instances']] for d in (first, second)]
    assert names == [['target cell', 'normal'], ['edge cell', 'basophilic stippling']]
    assert first['instances'][0]['bbox'] == [9, 19, 30, 40]  # VOC's 1-based pixels
    assert (first['width'], first['height']) == (500, 375)


def test_unknown_label_names_the_file(tmp_path):
    write_voc(tmp_path, {'p001': [('normal', (1, 1, 20, 20)), ('sickle cell', (30, 30, 50, 50))]})
    with pytest.raises(DatasetError, match=r"p001.xml: label 'sickle cell' is not one of"):
        build(tmp_path)
