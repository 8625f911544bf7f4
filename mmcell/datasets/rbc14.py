"""The 14 red-cell classes of Song et al. (2021), for LabelImg-annotated Pascal VOC data."""
import re
from typing import Optional

from mmdet.registry import DATASETS

from .cell_folders import DatasetError
from .voc import CellVOCDataset

RBC14_CLASSES = ('schistocyte', 'spherocyte', 'stomatocyte', 'target cell', 'hypochromic',
                 'elliptocyte', 'normal', 'overlapping', 'hyperchromic', 'microcyte',
                 'macrocyte', 'teardrop', 'basophilic stippling', 'edge cell')


def canonical_rbc_name(name: str) -> Optional[str]:
    """Map a LabelImg label to one of :data:`RBC14_CLASSES`, or None.

    Case, ``_``/``-``/space separators, a plural ``s`` and the paper's spellings
    ("target cells", "normal RBCs", "teardrop cells", "basophilicstippling", "edge_cell") are
    accepted.

    Example:
        >>> canonical_rbc_name('Target_Cells'), canonical_rbc_name('normal RBCs')
        ('target cell', 'normal')
        >>> canonical_rbc_name('basophilicstippling'), canonical_rbc_name('platelet')
        ('basophilic stippling', None)
    """
    words = re.sub(r'[_\-\s]+', ' ', name.strip().lower())
    words = re.sub(r'\b(rbcs?|cells?|red blood cells?)\b', '', words).strip()
    words = re.sub(r's$', '', words)
    squashed = words.replace(' ', '')
    for cls in RBC14_CLASSES:
        if squashed == re.sub(r'(cell| )', '', cls):
            return cls
    return None


@DATASETS.register_module()
class RBC14Dataset(CellVOCDataset):
    """Red-cell morphology boxes in Pascal VOC layout (LabelImg), 14 classes.

    The layout is VOC's: ``<data_root>/<sub_data_root>/{Annotations,JPEGImages,ImageSets/Main}``
    (``tools/dataset_converters/tile_smears.py`` writes it from whole fields). Labels are
    matched to :data:`RBC14_CLASSES` leniently (:func:`canonical_rbc_name`); a label that
    matches none fails the build with the XML file and the label, instead of the box being
    dropped silently as mmdet's VOCDataset would. The other checks are
    :class:`~mmcell.datasets.CellVOCDataset`'s.

    Args:
        unknown_classes (str): As :class:`~mmcell.datasets.CellVOCDataset`; a label that
            :func:`canonical_rbc_name` cannot match fails the build either way.
            Defaults to ``'error'``.
        **kwargs: As mmdet's ``VOCDataset`` (``data_root``, ``ann_file``, ``data_prefix=
            dict(sub_data_root=...)``, ``pipeline``, ...); ``metainfo`` defaults to
            :attr:`METAINFO` (the 14 classes and a palette).

    Example:
        >>> import mmcell  # registers the dataset in mmdet's DATASETS
        >>> from mmcell.datasets import RBC14Dataset
        >>> from mmdet.registry import DATASETS
        >>> len(RBC14Dataset.METAINFO['classes']), RBC14Dataset.METAINFO['classes'][:3]
        (14, ('schistocyte', 'spherocyte', 'stomatocyte'))
        >>> # Needs tiles in VOC layout under data/rbc14/tiles (tile_smears.py writes them).
        >>> cfg = dict(type='RBC14Dataset', data_root='data/rbc14',
        ...            ann_file='tiles/ImageSets/Main/all.txt',
        ...            data_prefix=dict(sub_data_root='tiles/'),
        ...            pipeline=[dict(type='LoadImageFromFile'),
        ...                      dict(type='LoadAnnotations', with_bbox=True)])
        >>> dataset = DATASETS.build(cfg)  # doctest: +SKIP
        >>> dataset.metainfo['classes'] == RBC14Dataset.METAINFO['classes']  # doctest: +SKIP
        True
    """
    METAINFO = dict(
        classes=RBC14_CLASSES,
        palette=[(220, 20, 60), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                 (140, 86, 75), (127, 127, 127), (188, 189, 34), (23, 190, 207), (31, 119, 180),
                 (174, 199, 232), (255, 187, 120), (152, 223, 138), (197, 176, 213)])

    def _parse_instance_info(self, raw_ann_info, minus_one=True):
        for obj in raw_ann_info.findall('object'):
            label = obj.find('name')
            name = canonical_rbc_name(label.text or '') if label is not None else None
            if name is None:
                text = None if label is None else label.text
                raise DatasetError(f'{self._current[0]}: label {text!r} is not one of the 14 '
                                   f'red-cell classes {RBC14_CLASSES}')
            label.text = name
        return super()._parse_instance_info(raw_ann_info, minus_one)
