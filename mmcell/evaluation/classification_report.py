"""Per-class classification report in the layout of Wang et al. (2023), Table 6."""
import csv
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.evaluation import ConfusionMatrix, SingleLabelMetric
from mmpretrain.registry import METRICS

COLUMNS = ('precision', 'recall', 'f1-score', 'support')


def report_rows(pred: torch.Tensor, target: torch.Tensor,
                classes: Sequence[str]) -> Tuple[List[dict], torch.Tensor]:
    """The report's rows: one per class, then accuracy, macro and weighted averages.

    Precision, recall and F1 come from mmpretrain's ``SingleLabelMetric.calculate``, the matrix
    from ``ConfusionMatrix.calculate``; values are percentages, support is a count.

    Args:
        pred (torch.Tensor): Predicted labels (N, ).
        target (torch.Tensor): True labels (N, ).
        classes (Sequence[str]): Class names, by label.

    Returns:
        tuple[list[dict], torch.Tensor]: The rows and the confusion matrix (true x predicted).
    """
    num_classes = len(classes)
    precision, recall, f1, support = SingleLabelMetric.calculate(
        pred, target, average=None, num_classes=num_classes)
    matrix = ConfusionMatrix.calculate(pred, target, num_classes=num_classes)
    rows = [dict(name=name, precision=p, recall=r, **{'f1-score': f}, support=int(s))
            for name, p, r, f, s in zip(classes, precision.tolist(), recall.tolist(),
                                        f1.tolist(), support.tolist())]
    total = int(support.sum())
    weights = support.float() / max(total, 1)
    rows.append(dict(name='accuracy', precision=None, recall=None,
                     **{'f1-score': 100 * matrix.trace().item() / max(total, 1)}, support=total))
    for name, w in (('macro avg', torch.full_like(weights, 1 / num_classes)),
                    ('weighted avg', weights)):
        rows.append(dict(name=name, **{k: float((v * w).sum()) for k, v in
                                       zip(COLUMNS[:3], (precision, recall, f1))}, support=total))
    return rows, matrix


def format_rows(rows: List[dict]) -> str:
    """The rows as a fixed-width text table."""
    width = max(len(r['name']) for r in rows) + 2
    lines = [' ' * width + ''.join(f'{c:>11}' for c in COLUMNS)]
    for row in rows:
        if row['name'] == 'accuracy':
            lines.append('')
        cells = ''.join('{:>11}'.format('' if row[c] is None else
                                        (f'{row[c]:.2f}' if c != 'support' else row[c]))
                        for c in COLUMNS)
        lines.append(f'{row["name"]:<{width}}{cells}')
    return '\n'.join(lines)


def plot_confusion_matrix(matrix: torch.Tensor, classes: Sequence[str], path: str) -> None:
    """Save the confusion matrix (counts in the cells) as a PNG via mmpretrain's plot."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure = ConfusionMatrix.plot(matrix, include_values=True, classes=list(classes), show=False,
                                  cmap='Blues')
    figure.set_size_inches(max(6, 0.7 * len(classes) + 3), max(5, 0.7 * len(classes) + 2))
    figure.savefig(path, dpi=120, bbox_inches='tight')  # the axis labels stay inside
    plt.close(figure)


@METRICS.register_module()
class ClassificationReport(BaseMetric):
    """Table 6 of Wang et al. (2023): per-class precision, recall, F1 and support, accuracy,
    macro and weighted averages; printed, and written with the confusion matrix.

    Writes ``classification_report.csv``, ``classification_report.json`` and
    ``confusion_matrix.png`` to ``out_dir``. ``tools/test.py`` adds this metric to every
    classification test, with ``out_dir`` the run's log folder.

    Args:
        out_dir (str, optional): Where to write the files; nothing is written when None.
            Defaults to None.
        classes (Sequence[str], optional): Class names. Defaults to None (the dataset's
            ``metainfo['classes']``).
        collect_device (str): Device to collect the results on in distributed evaluation.
            Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None (``'report'``).

    Returns (as metrics): ``accuracy``, ``macro_{precision,recall,f1-score}`` and
    ``weighted_{precision,recall,f1-score}``, in percent.

    Example:
        >>> import torch
        >>> import mmcell  # registers the metric in mmpretrain's METRICS
        >>> from mmcell.evaluation import report_rows
        >>> from mmcell.evaluation.classification_report import format_rows
        >>> from mmpretrain.registry import METRICS
        >>> metric = METRICS.build(dict(type='ClassificationReport'))  # out_dir=... writes files
        >>> metric.dataset_meta = dict(classes=('basophil', 'eosinophil', 'lymphocyte'))
        >>> pred, target = torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2])
        >>> metric.process(None, [dict(pred_label=p.view(1), gt_label=t.view(1))
        ...                       for p, t in zip(pred, target)])
        >>> # evaluate() logs the table below first, then returns:
        >>> metric.evaluate(size=4)  # doctest: +SKIP
        {'report/accuracy': 75.0, 'report/macro_precision': 83.33..., 'report/macro_recall':
        83.33..., 'report/macro_f1-score': 77.77..., 'report/weighted_precision': 87.5, ...}
        >>> rows, matrix = report_rows(pred, target, metric.dataset_meta['classes'])
        >>> print(format_rows(rows))
                        precision     recall   f1-score    support
        basophil           100.00     100.00     100.00          1
        eosinophil         100.00      50.00      66.67          2
        lymphocyte          50.00     100.00      66.67          1
        <BLANKLINE>
        accuracy                                  75.00          4
        macro avg           83.33      83.33      77.78          4
        weighted avg        87.50      75.00      75.00          4
        >>> matrix  # true x predicted
        tensor([[1, 0, 0],
                [0, 1, 1],
                [0, 0, 1]])
    """
    default_prefix = 'report'

    def __init__(self,
                 out_dir: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.out_dir = out_dir
        self.classes = classes

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep each sample's predicted and true label."""
        for sample in data_samples:
            self.results.append((sample['pred_label'].cpu(), sample['gt_label'].cpu()))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Log the table, write the files if ``out_dir`` is set, return the summary."""
        pred = torch.cat([p for p, _ in results])
        target = torch.cat([t for _, t in results])
        classes = self.classes or self.dataset_meta['classes']
        rows, matrix = report_rows(pred, target, classes)
        print_log('\n' + format_rows(rows), logger='current')
        if self.out_dir:
            self.save(rows, matrix, classes)
        summary = {'accuracy': rows[-3]['f1-score']}
        for row in rows[-2:]:
            kind = row['name'].split()[0]
            summary.update({f'{kind}_{c}': row[c] for c in COLUMNS[:3]})
        return summary

    def save(self, rows: List[dict], matrix: torch.Tensor, classes: Sequence[str]) -> None:
        """Write the report (CSV, JSON) and the confusion matrix (PNG) to ``out_dir``."""
        os.makedirs(self.out_dir, exist_ok=True)
        with open(osp.join(self.out_dir, 'classification_report.csv'), 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(('class', ) + COLUMNS)
            for row in rows:
                writer.writerow([row['name']] + ['' if row[c] is None else row[c] for c in COLUMNS])
        with open(osp.join(self.out_dir, 'classification_report.json'), 'w') as f:
            json.dump(dict(rows=rows, confusion_matrix=matrix.tolist(), classes=list(classes)), f,
                      indent=2)
        plot_confusion_matrix(matrix, classes, osp.join(self.out_dir, 'confusion_matrix.png'))
        print_log(f'classification report and confusion matrix written to {self.out_dir}',
                  logger='current')
