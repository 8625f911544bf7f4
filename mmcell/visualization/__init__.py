"""Pictures: where the sparse attention head looked, detector feature maps.

PR curves and confusion matrices come with the reports (:mod:`mmcell.evaluation`).
"""
from .feature_maps import detector_feature_maps, draw_feature_maps
from .sparse_attention import (draw_selection_page, draw_selection_summary, draw_sparse_attention,
                               sparse_attention)

__all__ = [
    'detector_feature_maps', 'draw_feature_maps', 'draw_selection_page', 'draw_selection_summary',
    'draw_sparse_attention', 'sparse_attention'
]
