"""Pascal VOC detection data (BCCD, LabelImg output): read with checks, and written.

mmdet's ``VOCDataset`` trusts its files: a malformed XML stops the build with a bare parse error,
an object whose class is not in the dataset is dropped silently, a missing image fails mid-epoch
and a box outside its image or of zero area goes into training as it is. :class:`CellVOCDataset`
reads the same layout and, per case:

* fails at build time naming the file (and the object) and what is wrong: malformed XML, a missing
  XML or image file, an image that is empty, not an image or cut short
  (:func:`~mmcell.datasets.check_image_file`), an object without a name or with a box that is not
  four numbers, an unknown class name (``unknown_classes='error'``, the default; ``'skip'``
  drops such objects with a warning);
* goes on with a warning and a count at the end: boxes reaching outside the image are clipped to
  it, boxes of zero area (after clipping) are skipped. BCCD has two such boxes.
"""
import os.path as osp
import xml.etree.ElementTree as ET
from collections import Counter
from typing import List, Sequence, Tuple

from mmdet.datasets import VOCDataset
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from .cell_folders import DatasetError, check_image_file


@DATASETS.register_module()
class CellVOCDataset(VOCDataset):
    """mmdet's ``VOCDataset`` with the checks above.

    Args:
        unknown_classes (str): ``'error'`` fails on an object whose class is not in
            ``metainfo['classes']``; ``'skip'`` leaves it out with a warning and a count.
            Defaults to ``'error'``.
        **kwargs: As mmdet's ``VOCDataset`` (``data_root``, ``ann_file``, ``data_prefix=
            dict(sub_data_root=...)``, ``metainfo``, ``pipeline``, ...).

    Example:
        >>> import mmcell  # registers the dataset in mmdet's DATASETS
        >>> from mmcell.datasets import CellVOCDataset
        >>> from mmdet.registry import DATASETS
        >>> CellVOCDataset.UNKNOWN_CLASSES
        ('error', 'skip')
        >>> # BCCD's training split; needs the BCCD release under data/bccd/BCCD.
        >>> cfg = dict(type='CellVOCDataset', data_root='data/bccd',
        ...            ann_file='BCCD/ImageSets/Main/train.txt',
        ...            data_prefix=dict(sub_data_root='BCCD/'),
        ...            metainfo=dict(classes=('RBC', 'WBC', 'Platelets')),
        ...            pipeline=[dict(type='LoadImageFromFile'),
        ...                      dict(type='LoadAnnotations', with_bbox=True)])
        >>> dataset = DATASETS.build(cfg)  # doctest: +SKIP
        >>> len(dataset), dataset.metainfo['classes']  # doctest: +SKIP
        (205, ('RBC', 'WBC', 'Platelets'))
    """

    UNKNOWN_CLASSES = ('error', 'skip')

    def __init__(self, *args, unknown_classes: str = 'error', **kwargs) -> None:
        if unknown_classes not in self.UNKNOWN_CLASSES:
            raise ValueError(f'unknown_classes must be one of {self.UNKNOWN_CLASSES}, got '
                             f'{unknown_classes!r}')
        self.unknown_classes = unknown_classes
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """mmdet's VOC reading with the checks above; logs a count of what was fixed."""
        self._fixes = Counter()
        data_list = super().load_data_list()
        if self._fixes:
            print_log(f'{type(self).__name__} ({self.ann_file}): '
                      + ', '.join(f'{n} {what}' for what, n in sorted(self._fixes.items()))
                      + ' (see the warnings above)', logger='current', level=30)
        return data_list

    def _warn(self, what, message):
        self._fixes[what] += 1
        print_log(message, logger='current', level=30)

    def parse_data_info(self, img_info: dict) -> dict:
        """One image's data info, its files and objects checked (see the module doc)."""
        xml_path = img_info['xml_path']
        if not osp.isfile(xml_path):
            raise DatasetError(f'{xml_path}: annotation file not found (listed in '
                               f'{self.ann_file})')
        try:
            root = ET.parse(xml_path).getroot()
        except ET.ParseError as err:
            raise DatasetError(f'{xml_path}: malformed XML ({err})') from None
        img_path = osp.join(self.sub_data_root, img_info['file_name'])
        if not osp.isfile(img_path):
            raise DatasetError(f'{xml_path}: its image {img_path} does not exist')
        problem = check_image_file(img_path)
        if problem:
            raise DatasetError(f'{xml_path}: its image {img_path} {problem}')
        try:
            width = int(root.findtext('size/width'))
            height = int(root.findtext('size/height'))
        except (TypeError, ValueError):
            import mmcv
            img = mmcv.imread(img_path)
            if img is None:
                raise DatasetError(f'{xml_path}: its image {img_path} cannot be read') from None
            height, width = img.shape[:2]
        self._current = (xml_path, width, height)
        return dict(img_path=img_path, img_id=img_info['img_id'], xml_path=xml_path,
                    height=height, width=width,
                    instances=self._parse_instance_info(root, minus_one=True))

    def _parse_instance_info(self, raw_ann_info, minus_one=True):
        xml_path, width, height = self._current
        instances = []
        for k, obj in enumerate(raw_ann_info.findall('object'), 1):
            where = f'{xml_path}, object {k}'
            name = (obj.findtext('name') or '').strip()
            if not name:
                raise DatasetError(f'{where}: no <name>')
            if name not in self.cat2label:
                if self.unknown_classes == 'error':
                    raise DatasetError(f'{where}: class {name!r} is not one of '
                                       f'{tuple(self.cat2label)}')
                self._warn('objects of unknown classes skipped',
                           f'{where}: skipped: class {name!r} is not one of '
                           f'{tuple(self.cat2label)}')
                continue
            try:
                box = [float(obj.findtext(f'bndbox/{key}'))
                       for key in ('xmin', 'ymin', 'xmax', 'ymax')]
            except (TypeError, ValueError):
                raise DatasetError(f'{where}: <bndbox> needs numeric xmin, ymin, xmax, '
                                   'ymax') from None
            box = [int(v) - minus_one for v in box]  # VOC is 1-based, as mmdet reads it
            clipped = [min(max(box[0], 0), width), min(max(box[1], 0), height),
                       min(max(box[2], 0), width), min(max(box[3], 0), height)]
            if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                self._warn('boxes of zero area skipped',
                           f'{where}: skipped: box {box} has no area inside the '
                           f'{width}x{height} image')
                continue
            if clipped != box:
                self._warn('boxes clipped to their image',
                           f'{where}: box {box} reaches outside the {width}x{height} image; '
                           f'clipped to {clipped}')
            difficult = int(obj.findtext('difficult') or 0)
            small = self.bbox_min_size is not None and min(
                clipped[2] - clipped[0], clipped[3] - clipped[1]) < self.bbox_min_size
            instances.append(dict(bbox=clipped, bbox_label=self.cat2label[name],
                                  ignore_flag=int(bool(difficult or small))))
        return instances


def voc_xml(filename: str, shape: Tuple[int, int, int], boxes: Sequence[Sequence[float]],
            labels: Sequence[str]) -> str:
    """One image's VOC annotation as XML text.

    Args:
        filename (str): The image's file name (``<filename>``).
        shape (tuple[int, int, int]): Image (height, width, channels).
        boxes (Sequence[Sequence[float]]): ``(x1, y1, x2, y2)`` in 0-based pixel corners.
        labels (Sequence[str]): Class name per box.

    Returns:
        str: The ``<annotation>`` document. VOC pixels are 1-based and inclusive, as LabelImg
        writes them: a box covering 0-based pixels ``x1 .. x2 - 1`` is written as
        ``xmin = x1 + 1``, ``xmax = x2``. (mmdet's ``VOCDataset`` subtracts 1 from all four on
        reading, so it sees ``(x1, y1, x2 - 1, y2 - 1)``.)

    Example:
        >>> import xml.etree.ElementTree as ET
        >>> root = ET.fromstring(voc_xml('a.jpg', (480, 640, 3), [(10, 20, 30, 40)], ['RBC']))
        >>> root.findtext('size/width'), root.findtext('object/name')
        ('640', 'RBC')
        >>> [root.findtext(f'object/bndbox/{key}') for key in ('xmin', 'ymin', 'xmax', 'ymax')]
        ['11', '21', '30', '40']
    """
    root = ET.Element('annotation')
    ET.SubElement(root, 'filename').text = filename
    size = ET.SubElement(root, 'size')
    for key, value in zip(('height', 'width', 'depth'), shape):
        ET.SubElement(size, key).text = str(value)
    for box, label in zip(boxes, labels):
        obj = ET.SubElement(root, 'object')
        ET.SubElement(obj, 'name').text = label
        ET.SubElement(obj, 'difficult').text = '0'
        bnd = ET.SubElement(obj, 'bndbox')
        for key, value in zip(('xmin', 'ymin', 'xmax', 'ymax'),
                              (box[0] + 1, box[1] + 1, box[2], box[3])):
            ET.SubElement(bnd, key).text = str(int(round(value)))
    return ET.tostring(root, encoding='unicode')
