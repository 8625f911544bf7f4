"""A detection report per image source: how a detector does on each lab's (or set's) images.

TXL-PBC mixes four sources (Raabin-WBC and PBC single-cell crops, BCCD and Kaggle BCD smear
fields); :class:`~mmcell.datasets.TXLPBCDataset` gives each image its ``source``. One mAP over
all of them hides a detector that finds BCCD's white cells and misses Raabin's:
:class:`SourceDetectionReport` splits the test set by source and gives, per source and over all,
AP at IoU 0.5 per class, the white cells' recall, and counts of images and boxes.
"""
import csv
import json
import os
import os.path as osp
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..datasets.txl_pbc import TXL_PBC_SOURCES
from .detection_report import class_report, match_class

__all__ = ['SourceDetectionReport', 'source_rows']

ALL = 'all'


def _as_numpy(value) -> np.ndarray:
    """A tensor (or mmdet boxes) as a numpy array."""
    if hasattr(value, 'tensor'):  # mmdet's HorizontalBoxes
        value = value.tensor
    if hasattr(value, 'cpu'):
        value = value.cpu().numpy()
    return np.asarray(value)


def source_rows(results: List[tuple], classes: Sequence[str], score_thr: float = 0.5,
                iou_thr: float = 0.5, wbc_class: Optional[str] = 'WBC') -> List[dict]:
    """The report's rows: one per source, in TXL-PBC's order (others after, by name), then
    ``'all'``.

    Detections are matched to the ground truth by mmcell's ``DetectionReport`` code
    (:func:`~mmcell.evaluation.detection_report.match_class`: the VOC rule, highest score first,
    each box once) and AP is its area under the PR curve over all scores
    (:func:`~mmcell.evaluation.detection_report.class_report`, as ``VOCMetric(eval_mode='area')``).

    Args:
        results (list[tuple]): ``(source, annotations, per-class detections)`` per image, as
            :class:`SourceDetectionReport` keeps them (annotations and detections as
            ``DetectionReport``'s).
        classes (Sequence[str]): Class names, by label.
        score_thr (float): Least score of a detection counted in ``<wbc>_recall``.
            Defaults to 0.5.
        iou_thr (float): Least IoU of a match. Defaults to 0.5.
        wbc_class (str, optional): The class whose recall is reported. None reports none.
            Defaults to ``'WBC'``.

    Returns:
        list[dict]: Per row ``source``, ``images``, ``boxes`` (not ignored ones, all classes),
        ``<class>_boxes``, ``AP50_<class>`` (percent; None where the source has no box of the
        class), ``mAP50`` (mean over the classes with boxes; None if none), ``<wbc>_recall``
        (percent of the white cells found by a detection scoring at least ``score_thr``),
        ``<wbc>_recall_any_score`` (found by any detection; the PR curve's last recall) and
        ``<wbc>_detections`` (white-cell detections scoring at least ``score_thr``).

    Example:
        >>> gt = dict(bboxes=np.array([[0., 0., 10., 10.]]), labels=np.array([0]),
        ...           bboxes_ignore=np.zeros((0, 4)), labels_ignore=np.zeros(0, int))
        >>> found = [np.array([[0., 0., 10., 10., 0.9]]), np.zeros((0, 5))]
        >>> weak = [np.array([[0., 0., 10., 10., 0.3]]), np.zeros((0, 5))]
        >>> rows = source_rows([('bccd', gt, found), ('raabin', gt, weak)], ('WBC', 'RBC'))
        >>> for r in rows:  # raabin's white cell is found at score 0.3 only
        ...     print(r['source'], r['images'], r['AP50_WBC'], r['AP50_RBC'], r['WBC_recall'],
        ...           r['WBC_recall_any_score'])
        raabin 1 100.0 None 0.0 100.0
        bccd 1 100.0 None 100.0 100.0
        all 2 100.0 None 50.0 100.0
    """
    classes = tuple(classes)
    if wbc_class is not None and wbc_class not in classes:
        raise ValueError(f'wbc_class {wbc_class!r} is not one of the classes {classes}')
    groups = defaultdict(list)
    for source, ann, dets in results:
        groups[source].append((ann, dets))
    order = [s for s in TXL_PBC_SOURCES if s in groups] + sorted(
        s for s in groups if s not in TXL_PBC_SOURCES)
    everything = [(ann, dets) for _, ann, dets in results]
    return [_row(name, group, classes, score_thr, iou_thr, wbc_class)
            for name, group in [(s, groups[s]) for s in order] + [(ALL, everything)]]


def _row(name, group, classes, score_thr, iou_thr, wbc_class):
    row = dict(source=name, images=len(group), boxes=0)
    aps = {}
    for label, cls in enumerate(classes):
        scores, tps, num_gts = match_class(group, label, iou_thr)
        row[f'{cls}_boxes'] = num_gts
        row['boxes'] += num_gts
        if num_gts:
            aps[cls] = class_report(scores, tps, num_gts, score_thr)[0]['ap']
        if cls == wbc_class:
            at_thr = class_report(scores, tps, num_gts, score_thr)[0]
            any_score = class_report(scores, tps, num_gts, -np.inf)[0]
            wbc = dict(recall=at_thr['recall'] if num_gts else None,
                       recall_any_score=any_score['recall'] if num_gts else None,
                       detections=at_thr['dets'])
    for cls in classes:
        row[f'AP50_{cls}'] = aps.get(cls)
    row['mAP50'] = float(np.mean(list(aps.values()))) if aps else None
    if wbc_class is not None:
        row[f'{wbc_class}_recall'] = wbc['recall']
        row[f'{wbc_class}_recall_any_score'] = wbc['recall_any_score']
        row[f'{wbc_class}_detections'] = wbc['detections']
    return row


@METRICS.register_module()
class SourceDetectionReport(BaseMetric):
    """Per image source and over all: AP50 per class, mAP50, white-cell recall, images, boxes.

    Reads each data sample's ``source`` (its metainfo: give ``PackDetInputs`` ``meta_keys`` that
    hold ``'source'``, as ``configs/_base_/datasets/txl_pbc.py``'s test pipeline does). A sample
    without one stops the evaluation, unless ``default_source`` names a source for it. The rows
    are :func:`source_rows`'; the table is logged, ``source_report.json`` and
    ``source_report.csv`` are written to ``out_dir``.

    Args:
        score_thr (float): Least score of a detection counted in the white-cell recall (the
            recall at any score is reported beside it). Defaults to 0.5.
        iou_thr (float): IoU for a match. Defaults to 0.5.
        wbc_class (str, optional): The class whose recall is reported. Defaults to ``'WBC'``.
        source_key (str): The metainfo key naming a sample's source. Defaults to ``'source'``.
        default_source (str, optional): The source of samples without one. Defaults to None
            (such a sample raises a ``KeyError``).
        out_dir (str, optional): Where to write the files; nothing is written when None.
            Defaults to None.
        collect_device (str): Device to collect the results on in distributed evaluation.
            Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None (``'source'``).

    Example:
        >>> import torch
        >>> import mmcell.evaluation.source_report  # registers the metric in mmdet's METRICS
        >>> from mmdet.registry import METRICS
        >>> metric = METRICS.build(dict(type='SourceDetectionReport', score_thr=0.5))
        >>> metric.dataset_meta = dict(classes=('WBC', 'RBC', 'Platelets'))
        >>> box = torch.tensor([[10., 10., 50., 50.]])
        >>> def sample(source, score):  # a DetDataSample as a dict: one WBC, one detection
        ...     return dict(source=source,
        ...                 gt_instances=dict(bboxes=box, labels=torch.tensor([0])),
        ...                 pred_instances=dict(bboxes=box, scores=torch.tensor([score]),
        ...                                     labels=torch.tensor([0])))
        >>> metric.process(None, [sample('bccd', 0.9), sample('raabin', 0.2)])
        >>> results = metric.evaluate(size=2)  # logs the table too
        >>> for key, value in results.items():
        ...     print(key, round(value, 1))
        source/raabin_mAP50 100.0
        source/raabin_WBC_recall 0.0
        source/raabin_WBC_recall_any_score 100.0
        source/bccd_mAP50 100.0
        source/bccd_WBC_recall 100.0
        source/bccd_WBC_recall_any_score 100.0
        source/all_mAP50 100.0
        source/all_WBC_recall 50.0
        source/all_WBC_recall_any_score 100.0
    """
    default_prefix = 'source'

    def __init__(self,
                 score_thr: float = 0.5,
                 iou_thr: float = 0.5,
                 wbc_class: Optional[str] = 'WBC',
                 source_key: str = 'source',
                 default_source: Optional[str] = None,
                 out_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.score_thr = score_thr
        self.iou_thr = iou_thr
        self.wbc_class = wbc_class
        self.source_key = source_key
        self.default_source = default_source
        self.out_dir = out_dir

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep each sample's source, ground truth and detections (split by class)."""
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            source = sample.get(self.source_key, self.default_source)
            if source is None:
                raise KeyError(
                    f'{type(self).__name__}: the data sample of {sample.get("img_path", "?")} '
                    f'has no {self.source_key!r} (add it to PackDetInputs\' meta_keys, or give '
                    'default_source)')
            gt, pred = sample['gt_instances'], sample['pred_instances']
            ignored = sample.get('ignored_instances') or {}
            ann = dict(labels=_as_numpy(gt['labels']).astype(int),
                       bboxes=_as_numpy(gt['bboxes']).reshape(-1, 4),
                       labels_ignore=_as_numpy(ignored.get('labels', np.zeros(0))).astype(int),
                       bboxes_ignore=_as_numpy(ignored.get('bboxes',
                                                           np.zeros((0, 4)))).reshape(-1, 4))
            boxes = np.hstack([_as_numpy(pred['bboxes']).reshape(-1, 4),
                               _as_numpy(pred['scores']).reshape(-1, 1)])
            labels = _as_numpy(pred['labels'])
            self.results.append(
                (str(source), ann, [boxes[labels == k] for k in range(num_classes)]))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Log the table, write the files if ``out_dir`` is set; return mAP50 and the white-cell
        recalls per source (``<source>_mAP50``, ``<source>_<wbc>_recall``, ...)."""
        rows = source_rows(results, self.dataset_meta['classes'], self.score_thr, self.iou_thr,
                           self.wbc_class)
        columns = self.columns()
        print_log(f'\nper source: AP at IoU {self.iou_thr} (all scores), {self.wbc_class} recall '
                  f'at score >= {self.score_thr} and at any score\n'
                  f'{format_source_rows(rows, columns)}', logger='current')
        if self.out_dir:
            self.save(rows, columns)
        keys = ['mAP50'] + ([f'{self.wbc_class}_recall', f'{self.wbc_class}_recall_any_score']
                            if self.wbc_class else [])
        return {f'{row["source"]}_{key}': row[key] for row in rows for key in keys
                if row[key] is not None}

    def columns(self) -> List[str]:
        """The rows' keys, in the table's order."""
        classes = self.dataset_meta['classes']
        wbc = ([f'{self.wbc_class}_recall', f'{self.wbc_class}_recall_any_score',
                f'{self.wbc_class}_detections'] if self.wbc_class else [])
        return (['source', 'images', 'boxes'] + [f'{c}_boxes' for c in classes]
                + [f'AP50_{c}' for c in classes] + ['mAP50'] + wbc)

    def save(self, rows: List[dict], columns: List[str]) -> None:
        """Write ``source_report.json`` and ``source_report.csv`` to ``out_dir``."""
        os.makedirs(self.out_dir, exist_ok=True)
        with open(osp.join(self.out_dir, 'source_report.json'), 'w') as f:
            json.dump(dict(score_thr=self.score_thr, iou_thr=self.iou_thr,
                           wbc_class=self.wbc_class, classes=list(self.dataset_meta['classes']),
                           rows=rows), f, indent=2)
        with open(osp.join(self.out_dir, 'source_report.csv'), 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for row in rows:
                writer.writerow(['' if row[c] is None else row[c] for c in columns])
        print_log(f'per-source report written to {self.out_dir}', logger='current')


def format_source_rows(rows: List[dict], columns: Sequence[str]) -> str:
    """The rows as a fixed-width text table (``-`` where a value is None)."""
    def cell(value):
        if value is None:
            return '-'
        return f'{value:.2f}' if isinstance(value, float) else str(value)

    widths = [max(len(c), *(len(cell(r[c])) for r in rows)) + 2 for c in columns]
    lines = [''.join(f'{c:>{w}}' if i else f'{c:<{w}}'
                     for i, (c, w) in enumerate(zip(columns, widths)))]
    for row in rows:
        lines.append(''.join(f'{cell(row[c]):>{w}}' if i else f'{cell(row[c]):<{w}}'
                             for i, (c, w) in enumerate(zip(columns, widths))))
    return '\n'.join(lines)
