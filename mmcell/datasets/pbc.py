"""The PBC dataset of normal peripheral blood cells (Acevedo et al., Data in Brief 30, 2020)."""
from typing import Optional, Sequence, Tuple

from mmpretrain.registry import DATASETS

from .cell_folders import CellFolderDataset

# Sub-labels carried by filename prefixes; other prefixes keep their folder's class
# (``IG_`` and ``NEUTROPHIL_`` files are not sub-typed in the dataset).
PBC_FINE_PREFIXES = {
    'MMY': 'metamyelocyte',
    'MY': 'myelocyte',
    'PMY': 'promyelocyte',
    'BNE': 'band neutrophil',
    'SNE': 'segmented neutrophil',
}


@DATASETS.register_module()
class PBCDataset(CellFolderDataset):
    """PBC single-cell images: ``<data_root>/PBC_dataset_normal_DIB/<class>/<PREFIX>_<id>.jpg``.

    17,092 JPEGs of 360x363 px from a CellaVision DM96 in 8 class folders.

    Args:
        data_root (str): Folder that holds ``PBC_dataset_normal_DIB``. Defaults to ''.
        data_prefix (str): Defaults to ``'PBC_dataset_normal_DIB'``.
        fine_labels (bool): Label by filename prefix where it is finer than the folder: immature
            granulocytes (``ig``) split into metamyelocyte (MMY), myelocyte (MY) and promyelocyte
            (PMY), neutrophils into band (BNE) and segmented (SNE); 13 classes, with ``ig`` and
            ``neutrophil`` left for files without a sub-label. Defaults to False (8 classes).
        classes (Sequence[str], optional): Classes to keep, in label order. Defaults to None
            (all 8, or all 13 with ``fine_labels``).
        **kwargs: As :class:`CellFolderDataset` (``ann_file``, ``split``, ``check_files``,
            ``pipeline``, ...).

    Example:
        >>> import mmcell  # registers the dataset in mmpretrain's DATASETS
        >>> from mmcell.datasets import PBC_FINE_PREFIXES, PBCDataset
        >>> from mmpretrain.registry import DATASETS
        >>> tuple(PBCDataset.FOLDERS)[:4], len(PBCDataset.FINE_CLASSES)
        (('basophil', 'eosinophil', 'erythroblast', 'ig'), 13)
        >>> PBC_FINE_PREFIXES['MMY'], PBC_FINE_PREFIXES['SNE']
        ('metamyelocyte', 'segmented neutrophil')
        >>> # The training part of a seeded stratified 70/10/20 split; needs the images under
        >>> # data/pbc/PBC_dataset_normal_DIB.
        >>> cfg = dict(type='PBCDataset', data_root='data/pbc',
        ...            split=dict(part='train', ratios=(0.7, 0.1, 0.2), seed=0),
        ...            pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
        >>> dataset = DATASETS.build(cfg)  # doctest: +SKIP
        >>> dataset.metainfo['classes'][:2], dataset[0]['inputs'].shape  # doctest: +SKIP
        (('basophil', 'eosinophil'), torch.Size([3, 363, 360]))
    """
    FOLDERS = {name: name for name in ('basophil', 'eosinophil', 'erythroblast', 'ig',
                                       'lymphocyte', 'monocyte', 'neutrophil', 'platelet')}
    FINE_CLASSES = ('basophil', 'eosinophil', 'erythroblast', 'ig', 'metamyelocyte', 'myelocyte',
                    'promyelocyte', 'lymphocyte', 'monocyte', 'neutrophil', 'band neutrophil',
                    'segmented neutrophil', 'platelet')

    def __init__(self,
                 data_root: str = '',
                 data_prefix: str = 'PBC_dataset_normal_DIB',
                 fine_labels: bool = False,
                 classes: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        self.fine_labels = fine_labels
        super().__init__(data_root=data_root, data_prefix=data_prefix, classes=classes, **kwargs)

    def all_classes(self) -> Tuple[str, ...]:
        return self.FINE_CLASSES if self.fine_labels else tuple(self.FOLDERS)

    def class_of(self, folder: str, filename: str) -> str:
        if self.fine_labels:
            return PBC_FINE_PREFIXES.get(filename.split('_', 1)[0], folder)
        return folder
