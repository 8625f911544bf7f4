"""The Munich AML Morphology dataset (Matek et al., 2019; TCIA AML-Cytomorphology_LMU)."""
from typing import Optional, Sequence

from mmpretrain.registry import DATASETS

from .cell_folders import CellFolderDataset

# The 15 class codes of the TCIA release and what they stand for.
MUNICH_AML_CLASSES = {
    'BAS': 'basophil',
    'EBO': 'erythroblast',
    'EOS': 'eosinophil',
    'KSC': 'smudge cell',
    'LYA': 'lymphocyte (atypical)',
    'LYT': 'lymphocyte (typical)',
    'MMZ': 'metamyelocyte',
    'MOB': 'monoblast',
    'MON': 'monocyte',
    'MYB': 'myelocyte',
    'MYO': 'myeloblast',
    'NGB': 'neutrophil (band)',
    'NGS': 'neutrophil (segmented)',
    'PMB': 'promyelocyte (bilobed)',
    'PMO': 'promyelocyte',
}
# The 10 classes of Wang et al. (2023), in the order of their Table 6.
PAPER_CLASSES = ('NGS', 'NGB', 'LYT', 'MON', 'EOS', 'BAS', 'MYO', 'PMO', 'MYB', 'EBO')


@DATASETS.register_module()
class MunichAMLDataset(CellFolderDataset):
    """Munich AML single-cell images: ``<data_root>/AML-Cytomorphology/<CODE>/<CODE>_NNNN.tiff``.

    18,365 RGBA TIFF images of 400x400 px in 15 class folders named by code; they load as RGB.
    ``metainfo['classes']`` holds the codes, ``metainfo['full_names']`` what they stand for.

    Args:
        data_root (str): Folder that holds ``AML-Cytomorphology``. Defaults to ''.
        data_prefix (str): Defaults to ``'AML-Cytomorphology'``.
        classes (Sequence[str], optional): Codes to keep, in label order; e.g.
            ``mmcell.datasets.PAPER_CLASSES`` for the paper's 10. Defaults to None (all 15).
        **kwargs: As :class:`CellFolderDataset` (``ann_file``, ``split``, ``check_files``,
            ``pipeline``, ...).

    Example:
        >>> import mmcell  # registers the dataset in mmpretrain's DATASETS
        >>> from mmcell.datasets import MUNICH_AML_CLASSES, PAPER_CLASSES, MunichAMLDataset
        >>> from mmpretrain.registry import DATASETS
        >>> len(MunichAMLDataset.FOLDERS), PAPER_CLASSES[:3]
        (15, ('NGS', 'NGB', 'LYT'))
        >>> [MUNICH_AML_CLASSES[code] for code in PAPER_CLASSES[:3]]
        ['neutrophil (segmented)', 'neutrophil (band)', 'lymphocyte (typical)']
        >>> # The paper's 10 classes, training part of fold 0 of a seeded stratified 5-fold
        >>> # split; needs the TCIA images under data/munich_aml/AML-Cytomorphology.
        >>> cfg = dict(type='MunichAMLDataset', data_root='data/munich_aml',
        ...            classes=PAPER_CLASSES, split=dict(part='train', num_folds=5, fold=0),
        ...            pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
        >>> dataset = DATASETS.build(cfg)  # doctest: +SKIP
        >>> dataset.metainfo['full_names'][:2]  # doctest: +SKIP
        ('neutrophil (segmented)', 'neutrophil (band)')
    """
    FOLDERS = {code: code for code in MUNICH_AML_CLASSES}

    def __init__(self,
                 data_root: str = '',
                 data_prefix: str = 'AML-Cytomorphology',
                 classes: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        super().__init__(data_root=data_root, data_prefix=data_prefix, classes=classes, **kwargs)
        self._metainfo['full_names'] = tuple(
            MUNICH_AML_CLASSES[c] for c in self.metainfo['classes'])
