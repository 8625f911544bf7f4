"""Reports on top of mmpretrain's and mmdet's metrics: per-class tables, confusion matrices,
PR curves."""
from .classification_report import ClassificationReport, report_rows
from .detection_report import DetectionReport

__all__ = ['ClassificationReport', 'DetectionReport', 'report_rows']
