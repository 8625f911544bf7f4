"""Per-class detection report of Song et al. (2021), Tables 3, 4 and 7, PR curves (Fig. 8), and
the confusion between classes of the detections that found a cell."""
import csv
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.evaluation.functional import bbox_overlaps
from mmdet.evaluation.functional.mean_ap import average_precision, tpfp_default
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from .classification_report import plot_confusion_matrix

COLUMNS = ('recall', 'precision', 'f1-score', 'ap', 'gts', 'dets')


def match_class(results: List[tuple], label: int,
                iou_thr: float) -> Tuple[np.ndarray, np.ndarray, int]:
    """Scores, true-positive flags and the number of (non-ignored) ground truths of one class.

    Boxes are matched per image by mmdet's ``tpfp_default`` (the VOC rule: highest score first,
    IoU >= ``iou_thr``, each ground truth once; matches to ignored boxes count as neither).
    """
    scores, tps, num_gts = [], [], 0
    for gt, dets in results:
        det = dets[label]
        gt_boxes = gt['bboxes'][gt['labels'] == label]
        ignore = gt['bboxes_ignore'][gt['labels_ignore'] == label]
        tp, fp = tpfp_default(det, gt_boxes, ignore, iou_thr)
        keep = (tp[0] + fp[0]) > 0  # drop detections matched to ignored boxes
        scores.append(det[keep, 4])
        tps.append(tp[0][keep])
        num_gts += len(gt_boxes)
    return np.concatenate(scores), np.concatenate(tps).astype(bool), num_gts


def class_report(scores: np.ndarray, tps: np.ndarray, num_gts: int,
                 score_thr: float) -> Tuple[dict, Tuple[np.ndarray, np.ndarray]]:
    """One class's row and its PR curve, from its detections' scores and TP flags."""
    order = np.argsort(-scores, kind='stable')
    tp_cum = np.cumsum(tps[order])
    recalls = tp_cum / max(num_gts, 1)
    precisions = tp_cum / np.arange(1, len(order) + 1)
    ap = float(average_precision(recalls, precisions, 'area')) if len(order) else 0.
    kept = scores >= score_thr
    tp = int(tps[kept].sum())
    recall = tp / num_gts if num_gts else 0.
    precision = tp / int(kept.sum()) if kept.any() else 0.
    f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.
    row = dict(recall=100 * recall, precision=100 * precision, **{'f1-score': 100 * f1},
               ap=100 * ap, gts=num_gts, dets=int(kept.sum()))
    return row, (recalls, precisions)


def detection_confusion(results: List[tuple], num_classes: int, score_thr: float,
                        iou_thr: float) -> np.ndarray:
    """Which class the detections gave the cells they found: a (C+1)x(C+1) count matrix.

    Per image, the detections scoring at least ``score_thr`` (any class) are matched to the
    ground truth regardless of class, highest score first, each to the not yet matched box it
    overlaps most, if that IoU is at least ``iou_thr``. Rows are the true class, columns the
    detected one; the last row counts detections of no cell (background), the last column the
    cells no detection found. A detection left unmatched that overlaps an ignored box counts
    nowhere.

    Args:
        results (list[tuple]): ``DetectionReport.results``: (annotations, per-class detections
            as (N, 5) arrays of box and score) per image.
        num_classes (int): C.
        score_thr (float): Least score of a detection counted.
        iou_thr (float): Least IoU of a match.

    Returns:
        np.ndarray: The (C+1, C+1) int matrix.

    Example:
        >>> gt = dict(bboxes=np.array([[0., 0., 10., 10.], [20., 20., 30., 30.]]),
        ...           labels=np.array([0, 1]), bboxes_ignore=np.zeros((0, 4)),
        ...           labels_ignore=np.zeros(0, int))
        >>> dets = [np.array([[0., 0., 10., 10., 0.9]]),  # class 0 found as class 0
        ...         np.array([[50., 50., 60., 60., 0.8]])]  # a class-1 box on no cell
        >>> detection_confusion([(gt, dets)], 2, score_thr=0.5, iou_thr=0.5)
        array([[1, 0, 0],
               [0, 0, 1],
               [0, 1, 0]])
    """
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=int)
    for gt, dets in results:
        labels = np.concatenate([np.full(len(d), k) for k, d in enumerate(dets)]).astype(int)
        boxes = np.concatenate([d.reshape(-1, 5) for d in dets])
        keep = boxes[:, 4] >= score_thr
        labels, boxes = labels[keep], boxes[keep]
        order = np.argsort(-boxes[:, 4], kind='stable')
        ious = bbox_overlaps(boxes[:, :4], gt['bboxes'].reshape(-1, 4))
        ignored = bbox_overlaps(boxes[:, :4], gt['bboxes_ignore'].reshape(-1, 4))
        matched = np.zeros(len(gt['labels']), dtype=bool)
        for i in order:
            overlap = np.where(matched, -1.0, ious[i])
            j = int(np.argmax(overlap)) if len(overlap) else -1
            if j >= 0 and overlap[j] >= iou_thr:
                matched[j] = True
                matrix[gt['labels'][j], labels[i]] += 1
            elif not (ignored.shape[1] and ignored[i].max() >= iou_thr):
                matrix[num_classes, labels[i]] += 1
        for label in gt['labels'][~matched]:
            matrix[label, num_classes] += 1
    return matrix


def plot_pr_curves(curves: Dict[str, tuple], path: str) -> None:
    """Save one precision-recall curve per class, AP in the legend, as a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(6, 5))
    for name, (recalls, precisions, ap) in curves.items():
        axes.plot(np.concatenate([[0], recalls]), np.concatenate([[1], precisions]),
                  label=f'{name} (AP {ap:.1f})')
    axes.set(xlabel='recall', ylabel='precision', xlim=(0, 1), ylim=(0, 1.02),
             title='Precision-recall per class (IoU 0.5)')
    axes.grid(alpha=0.3)
    axes.legend(loc='lower left')
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


@METRICS.register_module()
class DetectionReport(BaseMetric):
    """Per class and overall: recall, precision and F1 at a score threshold, AP; mAP; PR curves.

    Matching and AP come from mmdet's VOC evaluation (``tpfp_default``, ``average_precision``
    in 'area' mode, as ``VOCMetric(eval_mode='area')``), at IoU ``iou_thr``. Recall, precision
    and F1 count the detections scoring at least ``score_thr`` (the paper's tables); AP uses
    them all. The "overall" row sums TPs, detections and ground truths over classes; its AP is
    the mAP. The confusion between classes (:func:`detection_confusion`, at the same score and
    IoU) is logged and saved too. Writes ``detection_report.csv``/``.json``, ``pr_curves.png``,
    ``confusion_matrix.csv`` and ``confusion_matrix.png`` to ``out_dir``; ``tools/test.py``
    adds this metric to every detection test.

    Args:
        score_thr (float): Score threshold for recall/precision/F1. Defaults to 0.5.
        iou_thr (float): IoU for a match. Defaults to 0.5.
        out_dir (str, optional): Where to write the files; nothing is written when None.
            Defaults to None.
        collect_device (str): Device to collect the results on in distributed evaluation.
            Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None (``'report'``).

    Example:
        >>> import torch
        >>> import mmcell  # registers the metric in mmdet's METRICS
        >>> from mmcell.evaluation.detection_report import class_report, match_class
        >>> from mmdet.registry import METRICS
        >>> metric = METRICS.build(dict(type='DetectionReport', score_thr=0.5))
        >>> metric.dataset_meta = dict(classes=('RBC', 'WBC'))
        >>> boxes = torch.tensor([[10., 10., 50., 50.], [60., 60., 90., 90.]])
        >>> sample = dict(  # a DetDataSample as a dict: the RBC is found, the WBC missed
        ...     gt_instances=dict(bboxes=boxes, labels=torch.tensor([0, 1])),
        ...     ignored_instances=dict(bboxes=torch.zeros(0, 4), labels=torch.zeros(0).long()),
        ...     pred_instances=dict(bboxes=torch.tensor([[12., 10., 50., 48.], [0., 0., 20., 20.]]),
        ...                         scores=torch.tensor([0.9, 0.6]), labels=torch.tensor([0, 1])))
        >>> metric.process(None, [sample])
        >>> for label, name in enumerate(metric.dataset_meta['classes']):
        ...     row, _ = class_report(*match_class(metric.results, label, 0.5), 0.5)
        ...     print(name, {key: row[key] for key in ('recall', 'precision', 'ap', 'gts')})
        RBC {'recall': 100.0, 'precision': 100.0, 'ap': 100.0, 'gts': 1}
        WBC {'recall': 0.0, 'precision': 0.0, 'ap': 0.0, 'gts': 1}
        >>> # evaluate() logs the table (these rows and the overall one) first, then returns:
        >>> metric.evaluate(size=1)  # doctest: +SKIP
        {'report/mAP': 50.0, 'report/recall': 50.0, 'report/precision': 50.0,
         'report/f1-score': 50.0}
    """
    default_prefix = 'report'

    def __init__(self,
                 score_thr: float = 0.5,
                 iou_thr: float = 0.5,
                 out_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.score_thr = score_thr
        self.iou_thr = iou_thr
        self.out_dir = out_dir

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep each sample's ground truth and its detections, split by class."""
        for sample in data_samples:
            gt, ignored, pred = (sample['gt_instances'], sample['ignored_instances'],
                                 sample['pred_instances'])
            ann = dict(labels=gt['labels'].cpu().numpy(), bboxes=gt['bboxes'].cpu().numpy(),
                       labels_ignore=ignored['labels'].cpu().numpy(),
                       bboxes_ignore=ignored['bboxes'].cpu().numpy().reshape(-1, 4))
            boxes = np.hstack([pred['bboxes'].cpu().numpy(),
                               pred['scores'].cpu().numpy()[:, None]])
            labels = pred['labels'].cpu().numpy()
            self.results.append(
                (ann, [boxes[labels == k] for k in range(len(self.dataset_meta['classes']))]))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Log the table, write the files if ``out_dir`` is set, return the overall row."""
        classes = self.dataset_meta['classes']
        rows, curves, totals = [], {}, dict(tp=0, dets=0, gts=0)
        for label, name in enumerate(classes):
            scores, tps, num_gts = match_class(results, label, self.iou_thr)
            row, (recalls, precisions) = class_report(scores, tps, num_gts, self.score_thr)
            rows.append(dict(name=name, **row))
            curves[name] = (recalls, precisions, row['ap'])
            totals['tp'] += int(tps[scores >= self.score_thr].sum())
            totals['dets'] += row['dets']
            totals['gts'] += num_gts
        recall = totals['tp'] / max(totals['gts'], 1)
        precision = totals['tp'] / max(totals['dets'], 1)
        rows.append(dict(name='overall', recall=100 * recall, precision=100 * precision,
                         **{'f1-score': 200 * recall * precision / max(recall + precision, 1e-12)},
                         ap=float(np.mean([r['ap'] for r in rows])), gts=totals['gts'],
                         dets=totals['dets']))
        confusion = detection_confusion(results, len(classes), self.score_thr, self.iou_thr)
        print_log(f'\nscore >= {self.score_thr}, IoU {self.iou_thr} (AP: all scores; overall AP = '
                  f'mAP)\n{format_rows(rows)}\n\ncells found, true class (rows) by detected '
                  f'class; background: a detection of no cell (row), a cell not found (column)'
                  f'\n{format_confusion(confusion, classes)}', logger='current')
        if self.out_dir:
            self.save(rows, curves, confusion)
        overall = rows[-1]
        return {'mAP': overall['ap'], 'recall': overall['recall'],
                'precision': overall['precision'], 'f1-score': overall['f1-score']}

    def save(self, rows: List[dict], curves: Dict[str, tuple], confusion: np.ndarray) -> None:
        """Write the report (CSV, JSON), the PR curves and the confusion matrix to ``out_dir``."""
        os.makedirs(self.out_dir, exist_ok=True)
        with open(osp.join(self.out_dir, 'detection_report.csv'), 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(('class', ) + COLUMNS)
            for row in rows:
                writer.writerow([row['name']] + [row[c] for c in COLUMNS])
        with open(osp.join(self.out_dir, 'detection_report.json'), 'w') as f:
            json.dump(dict(score_thr=self.score_thr, iou_thr=self.iou_thr, rows=rows,
                           confusion=confusion.tolist()), f, indent=2)
        plot_pr_curves(curves, osp.join(self.out_dir, 'pr_curves.png'))
        names = list(self.dataset_meta['classes']) + ['background']
        with open(osp.join(self.out_dir, 'confusion_matrix.csv'), 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['true \\ detected'] + names)
            for name, counts in zip(names, confusion.tolist()):
                writer.writerow([name] + counts)
        plot_confusion_matrix(torch.from_numpy(confusion), names,
                              osp.join(self.out_dir, 'confusion_matrix.png'))
        print_log(f'detection report, PR curves and confusion matrix written to {self.out_dir}',
                  logger='current')


def format_rows(rows: List[dict]) -> str:
    """The rows as a fixed-width text table."""
    width = max(len(r['name']) for r in rows) + 2
    lines = [' ' * width + ''.join(f'{c:>11}' for c in COLUMNS)]
    for row in rows:
        cells = ''.join(f'{row[c]:>11.2f}' if c not in ('gts', 'dets') else f'{row[c]:>11}'
                        for c in COLUMNS)
        lines.append(f'{row["name"]:<{width}}{cells}')
    return '\n'.join(lines)


def format_confusion(matrix: np.ndarray, classes: Sequence[str]) -> str:
    """The detection confusion matrix as a fixed-width text table."""
    names = list(classes) + ['background']
    width = max(len(n) for n in names) + 2
    cell = max(width, 7)
    lines = [' ' * width + ''.join(f'{n:>{cell}}' for n in names)]
    for name, counts in zip(names, matrix.tolist()):
        lines.append(f'{name:<{width}}' + ''.join(f'{c:>{cell}}' for c in counts))
    return '\n'.join(lines)
