"""COCO detection data whose labels follow the config's classes by name, with checks.

mmdet's ``CocoDataset`` gives the label ``i`` to the ``i``-th category *of the file* among those
whose name is in ``metainfo['classes']`` (pycocotools' ``getCatIds`` keeps the file's order). So a
file whose categories are listed in another order than the config's classes trains every box
under another class's name, and a class missing from the file shifts the labels of all the classes
after it; nothing says so. :class:`CellCocoDataset` reads the same files and

* gives each box the label of its category's *name* in ``metainfo['classes']``, whatever the
  order in the file (and logs that the orders differ);
* fails at build time, naming the file, on a class of the config that the file does not have and
  on a class name the file lists twice;
* fails at build time, naming the classes, when a training split (``test_mode=False``) has no
  box of a class: such a class would be learnt from nothing and reported with AP 0.
"""
from typing import List

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from .cell_folders import DatasetError


class NamedOrderCOCO(COCO):
    """mmdet's COCO API whose ``get_cat_ids(cat_names=...)`` answers in the order of the names.

    Args:
        annotation_file (str, optional): The COCO json file. Defaults to None.
    """

    def __init__(self, annotation_file: str = None) -> None:
        self.annotation_file = annotation_file
        super().__init__(annotation_file=annotation_file)

    def get_cat_ids(self, cat_names=[], sup_names=[], cat_ids=[]) -> List[int]:
        """Category ids of ``cat_names`` in their order; a name missing or listed twice fails."""
        if not cat_names or sup_names or cat_ids:
            return super().get_cat_ids(cat_names, sup_names, cat_ids)
        ids = {}
        for cat in self.dataset.get('categories', []):
            if cat['name'] in ids:
                raise DatasetError(f'{self.annotation_file}: category {cat["name"]!r} is listed '
                                   f'twice (ids {ids[cat["name"]]} and {cat["id"]})')
            ids[cat['name']] = cat['id']
        missing = [name for name in cat_names if name not in ids]
        if missing:
            raise DatasetError(f'{self.annotation_file} has no category {missing}; its categories '
                               f'are {list(ids)}')
        order = [name for name in ids if name in cat_names]
        if order != list(cat_names):
            print_log(f'{self.annotation_file} lists the categories in another order than the '
                      'classes; labels follow the classes by name', logger='current')
        return [ids[name] for name in cat_names]


@DATASETS.register_module()
class CellCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset`` with labels by class name and the checks above.

    Args:
        **kwargs: As mmdet's ``CocoDataset`` (``data_root``, ``ann_file``,
            ``data_prefix=dict(img=...)``, ``metainfo=dict(classes=...)``, ``pipeline``,
            ``test_mode``, ``filter_cfg``, ...).

    Example:
        >>> import mmcell  # registers the dataset in mmdet's DATASETS
        >>> from mmdet.registry import DATASETS
        >>> # Chula-RBC-12's training split, from tools/dataset_converters/chula_to_coco.py.
        >>> cfg = dict(type='CellCocoDataset', data_root='',
        ...            ann_file='work_dirs/data/chula_rbc12/annotations_train.json',
        ...            data_prefix=dict(img='data/chula_rbc12/'),
        ...            metainfo=dict(classes=('normal cell', 'macrocyte')), pipeline=[])
        >>> dataset = DATASETS.build(cfg)  # doctest: +SKIP
    """

    COCOAPI = NamedOrderCOCO

    def load_data_list(self) -> List[dict]:
        """mmdet's COCO reading with labels by name; a training split must hold every class."""
        data_list = super().load_data_list()
        if not self.test_mode:
            seen = {inst['bbox_label'] for info in data_list for inst in info['instances']
                    if not inst['ignore_flag']}
            classes = self.metainfo['classes']
            empty = [name for label, name in enumerate(classes) if label not in seen]
            if empty:
                raise DatasetError(f'{self.ann_file} has no box of {empty}: a training split '
                                   'needs at least one box of every class (remake the split with '
                                   'another seed, or leave the class out of metainfo.classes)')
        return data_list
