"""Pictures: where a classifier looked (sparse attention, class activation maps), detector
feature maps, and how far a classifier can be trusted (reliability diagrams, risk-coverage
curves: :mod:`.trust_plots`, on :mod:`mmcell.uncertainty`'s computations).

PR curves and confusion matrices come with the reports (:mod:`mmcell.evaluation`).
"""
from .class_activation import class_activation, draw_class_activation
from .feature_maps import detector_feature_maps, draw_feature_maps
from .sparse_attention import (draw_selection_page, draw_selection_summary, draw_sparse_attention,
                               sparse_attention)
from .trust_plots import draw_trust_report, reliability_diagram, risk_coverage_figure

__all__ = [
    'class_activation', 'detector_feature_maps', 'draw_class_activation', 'draw_feature_maps',
    'draw_selection_page', 'draw_selection_summary', 'draw_sparse_attention', 'draw_trust_report',
    'reliability_diagram', 'risk_coverage_figure', 'sparse_attention'
]
