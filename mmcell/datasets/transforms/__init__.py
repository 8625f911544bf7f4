"""Image transforms, in mmpretrain's and mmdet's registries: stain augmentation and
normalisation for cells from other labs, cropping and re-framing a cell."""
from .colour import (ROMANOWSKY_RGB_FROM_STAINS, from_rgb_float, lab_statistics, reinhard,
                     stain_basis, to_rgb_float)
from .crop_cell import CropCell
from .reframe import ReframeCell, cell_mask, find_cell
from .stain import RandomJPEG, RandomLabStats, RandomStainJitter, StainNormalize
from .stain_target import (StainTarget, context_mask, fit_stain_target, load_stain_target,
                           macenko_stains)

__all__ = [
    'ROMANOWSKY_RGB_FROM_STAINS', 'from_rgb_float', 'lab_statistics', 'reinhard', 'stain_basis',
    'to_rgb_float', 'context_mask', 'CropCell', 'ReframeCell', 'cell_mask', 'find_cell', 'RandomJPEG',
    'RandomLabStats', 'RandomStainJitter', 'StainNormalize', 'StainTarget', 'fit_stain_target',
    'load_stain_target', 'macenko_stains'
]
