"""The PBC dataset of normal peripheral blood cells (Acevedo et al., Data in Brief 30, 2020)."""
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
        classes (Sequence[str], optional): Classes to keep, in label order. Defaults to all.
        **kwargs: As :class:`CellFolderDataset`.
    """
    FOLDERS = {name: name for name in ('basophil', 'eosinophil', 'erythroblast', 'ig',
                                       'lymphocyte', 'monocyte', 'neutrophil', 'platelet')}
    FINE_CLASSES = ('basophil', 'eosinophil', 'erythroblast', 'ig', 'metamyelocyte', 'myelocyte',
                    'promyelocyte', 'lymphocyte', 'monocyte', 'neutrophil', 'band neutrophil',
                    'segmented neutrophil', 'platelet')

    def __init__(self, data_root='', data_prefix='PBC_dataset_normal_DIB', fine_labels=False,
                 classes=None, **kwargs):
        self.fine_labels = fine_labels
        super().__init__(data_root=data_root, data_prefix=data_prefix, classes=classes, **kwargs)

    def all_classes(self):
        return self.FINE_CLASSES if self.fine_labels else tuple(self.FOLDERS)

    def class_of(self, folder, filename):
        if self.fine_labels:
            return PBC_FINE_PREFIXES.get(filename.split('_', 1)[0], folder)
        return folder
