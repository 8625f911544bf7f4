"""Metrics and reports (per-class tables, confusion matrices, PR curves) on top of mmpretrain's and mmdet's metrics."""
