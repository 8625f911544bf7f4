"""Metrics and reports (per-class tables, confusion matrices, PR curves) on top of mmpretrain's and mmdet's metrics."""
from .classification_report import ClassificationReport, report_rows

__all__ = ['ClassificationReport', 'report_rows']
