"""BCCD's white cells, one labelled crop per image: a second lab's test set for white-cell models.

BCCD (another lab, another camera and stain than PBC's CellaVision DM96) boxes RBC, WBC and
Platelets in 640x480 smears; ``labels.csv`` (published with the images) gives each image's
white-cell subtype. An image with exactly one WBC box and exactly one subtype is one labelled
white cell (341 in the BCCD release); every other image is skipped and counted, never guessed.
The cell is cropped as the smear pipeline crops white cells (``mmcell.structures.crop_cell``: a
square 1.9 times the box's longer side, reflected at the border) by the
:class:`~mmcell.datasets.transforms.CropCell` transform.
"""
import csv
import os.path as osp
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Dict, List, Sequence

import numpy as np
from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .cell_folders import DatasetError, check_image_file

__all__ = ['BCCD_SUBTYPES', 'BCCDWBCDataset']

# labels.csv's subtype names, as PBC's class names.
BCCD_SUBTYPES = {'NEUTROPHIL': 'neutrophil', 'EOSINOPHIL': 'eosinophil',
                 'LYMPHOCYTE': 'lymphocyte', 'MONOCYTE': 'monocyte', 'BASOPHIL': 'basophil'}
PBC_CLASSES = ('basophil', 'eosinophil', 'erythroblast', 'ig', 'lymphocyte', 'monocyte',
               'neutrophil', 'platelet')


def _wbc_boxes(xml_path: str) -> List[List[float]]:
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as err:
        raise DatasetError(f'{xml_path}: not valid XML ({err})') from None
    boxes = []
    for obj in root.iter('object'):
        if (obj.findtext('name') or '').strip() != 'WBC':
            continue
        try:
            boxes.append([float(obj.find('bndbox').findtext(k))
                          for k in ('xmin', 'ymin', 'xmax', 'ymax')])
        except (AttributeError, TypeError, ValueError):
            raise DatasetError(f'{xml_path}: a WBC object without a numeric <bndbox>') from None
    return boxes


@DATASETS.register_module()
class BCCDWBCDataset(BaseDataset):
    """The white cell of every BCCD image with one WBC box and one subtype, labelled.

    Args:
        data_root (str): The folder holding ``BCCD/`` (the VOC release) and ``labels.csv``,
            e.g. ``$MMCELL_DATA/bccd``.
        classes (Sequence[str]): The label space, in label order; a cell whose subtype is not
            one of them is skipped and counted. Defaults to PBC's 8 classes (BCCD holds 5 of
            them), so that a PBC-trained model is tested unchanged.
        labels_file (str): The subtype list, relative to ``data_root``. Defaults to
            ``'labels.csv'``.
        pipeline (Sequence[dict]): Start with ``LoadImageFromFile`` and :class:`CropCell`.
        **kwargs: As mmpretrain's ``BaseDataset``.

    Raises:
        DatasetError: ``labels.csv`` or an XML is missing or malformed, a subtype name is not
            one of BCCD's five (file and line named), or an image is unreadable (named).

    Example:
        >>> import mmcell
        >>> from mmcell.datasets import BCCDWBCDataset, BCCD_SUBTYPES
        >>> sorted(BCCD_SUBTYPES.values())
        ['basophil', 'eosinophil', 'lymphocyte', 'monocyte', 'neutrophil']
        >>> from mmpretrain.registry import DATASETS
        >>> cells = DATASETS.build(dict(  # doctest: +SKIP
        ...     type='BCCDWBCDataset', data_root='data/bccd',
        ...     pipeline=[dict(type='LoadImageFromFile'), dict(type='CropCell')]))
        >>> len(cells), cells.skipped['several or no WBC boxes']  # doctest: +SKIP
        (341, ...)
    """

    def __init__(self, data_root: str, classes: Sequence[str] = PBC_CLASSES,
                 labels_file: str = 'labels.csv', pipeline: Sequence[dict] = (),
                 **kwargs) -> None:
        self.labels_file = labels_file
        self.skipped: Dict[str, int] = Counter()
        super().__init__(ann_file='', data_root=data_root, metainfo=dict(classes=tuple(classes)),
                         pipeline=list(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        path = osp.join(self.data_root, self.labels_file)
        if not osp.isfile(path):
            raise DatasetError(f'{path} does not exist (BCCDWBCDataset needs the white-cell '
                               'subtype list beside BCCD/)')
        classes = list(self.metainfo['classes'])
        data_list = []
        with open(path, newline='') as f:
            rows = list(csv.reader(f))
        if not rows or [c.strip() for c in rows[0][1:3]] != ['Image', 'Category']:
            raise DatasetError(f'{path}: line 1 should be the header ",Image,Category"')
        for line, row in enumerate(rows[1:], 2):
            if len(row) < 3 or not row[1].strip().isdigit():
                raise DatasetError(f'{path}, line {line}: expected ",<image number>,<subtype>", '
                                   f'got {",".join(row)!r}')
            names = [n.strip() for n in row[2].split(',') if n.strip()]
            unknown = [n for n in names if n.upper() not in BCCD_SUBTYPES]
            if unknown:
                raise DatasetError(f'{path}, line {line}: subtype {unknown[0]!r} is not one of '
                                   f'{sorted(BCCD_SUBTYPES)}')
            if len(names) != 1:
                self.skipped['no subtype' if not names else 'several subtypes'] += 1
                continue
            stem = f'BloodImage_{int(row[1]):05d}'
            img = osp.join(self.data_root, 'BCCD', 'JPEGImages', f'{stem}.jpg')
            xml = osp.join(self.data_root, 'BCCD', 'Annotations', f'{stem}.xml')
            if not (osp.isfile(img) and osp.isfile(xml)):
                self.skipped['no image or annotation'] += 1
                continue
            boxes = _wbc_boxes(xml)
            if len(boxes) != 1:
                self.skipped['several or no WBC boxes'] += 1
                continue
            name = BCCD_SUBTYPES[names[0].upper()]
            if name not in classes:
                self.skipped[f'{name} (not in classes)'] += 1
                continue
            problem = check_image_file(img)
            if problem:
                raise DatasetError(f'{img} {problem}')
            data_list.append(dict(img_path=img, gt_label=classes.index(name),
                                  cell_box=np.array(boxes[0], dtype=np.float32)))
        if self.skipped:
            print_log(f'{path}: {len(data_list)} white cells; skipped '
                      + ', '.join(f'{n} {why}' for why, n in sorted(self.skipped.items())),
                      logger='current')
        if not data_list:
            raise DatasetError(f'{path}: no image has one WBC box and one subtype in {classes}')
        return data_list
