"""Reports on top of mmpretrain's and mmdet's metrics: per-class tables, confusion matrices,
PR curves, a detector's figures per image source (:class:`SourceDetectionReport`), and a
classifier's trust report (:class:`TrustMetric` with :class:`TrustOutputsHook`)."""
from .classification_report import ClassificationReport, report_rows
from .detection_report import DetectionReport
from .source_report import SourceDetectionReport
from .trust_metric import TrustMetric, TrustOutputsHook

__all__ = [
    'ClassificationReport', 'DetectionReport', 'SourceDetectionReport', 'TrustMetric',
    'TrustOutputsHook', 'report_rows'
]
