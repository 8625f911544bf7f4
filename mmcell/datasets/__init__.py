from .bccd_wbc import BCCD_SUBTYPES, BCCDWBCDataset
from .cell_folders import CellFolderDataset, DatasetError, check_image_file
from .coco import CellCocoDataset, NamedOrderCOCO
from .munich_aml import MUNICH_AML_CLASSES, PAPER_CLASSES, MunichAMLDataset
from .pbc import PBC_FINE_PREFIXES, PBCDataset
from .rbc14 import RBC14_CLASSES, RBC14Dataset, canonical_rbc_name
from .transforms import (CropCell, RandomJPEG, RandomLabStats, RandomStainJitter, ReframeCell,
                         StainNormalize)
from .splits import assign_stratified, read_groups, split_indices
from .txl_pbc import TXL_PBC_CLASSES, TXL_PBC_SOURCES, TXLPBCDataset
from .voc import CellVOCDataset, voc_xml

__all__ = [
    'BCCD_SUBTYPES', 'BCCDWBCDataset', 'CropCell',
    'CellCocoDataset', 'NamedOrderCOCO', 'CellFolderDataset', 'DatasetError', 'check_image_file',
    'MUNICH_AML_CLASSES', 'PAPER_CLASSES',
    'MunichAMLDataset', 'PBC_FINE_PREFIXES', 'PBCDataset', 'RBC14_CLASSES', 'RBC14Dataset',
    'canonical_rbc_name',
    'assign_stratified', 'read_groups',
    'split_indices', 'CellVOCDataset', 'voc_xml', 'RandomJPEG', 'RandomLabStats',
    'RandomStainJitter', 'ReframeCell', 'StainNormalize', 'TXL_PBC_CLASSES', 'TXL_PBC_SOURCES',
    'TXLPBCDataset'
]
