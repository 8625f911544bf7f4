"""Annotations made from other datasets' labels (used by ``tools/dataset_converters``)."""
from .chula_rbc12 import (CHULA_CLASSES, cell_mask, estimate_cell_boxes, read_chula_points,
                          split_coco)

__all__ = [
    'CHULA_CLASSES', 'cell_mask', 'estimate_cell_boxes', 'read_chula_points', 'split_coco'
]
