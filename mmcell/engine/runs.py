"""Runs of a config that a tool repeats (folds, seeds), and their summary.

:func:`train_and_test` trains and tests a classification or detection config with mmengine's
Runner and keeps its report (mmcell's ``ClassificationReport`` or ``DetectionReport``) in the
run's folder; :func:`finished_report` finds it again, so that a repeated command resumes where it
stopped; :func:`mean_std_rows` and :func:`detection_mean_std_rows` summarise several reports.
"""
import copy
import json
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.runner import Runner, find_latest_checkpoint

from mmcell.compat import quiet_known_warnings, safe_checkpoint_loading

__all__ = ['REPORTS', 'train_and_test', 'finished_report', 'mean_std_rows',
           'detection_mean_std_rows']

# Per config scope: the report metric added to the test and the file it writes.
REPORTS = {'mmpretrain': ('ClassificationReport', 'classification_report.json'),
           'mmdet': ('DetectionReport', 'detection_report.json')}


def _report(scope: str) -> tuple:
    if scope not in REPORTS:
        raise ValueError(f'no report for default_scope {scope!r}: runs are of '
                         f'{" or ".join(REPORTS)} configs')
    return REPORTS[scope]


def train_and_test(cfg: Config, work_dir: str) -> dict:
    """Train ``cfg`` in ``work_dir``, test it, and return its report.

    The test loads the last checkpoint (the weights the run leaves, the EMA's where an
    ``EMAHook`` is configured) and adds mmcell's report metric for the config's scope to its
    test evaluators: ``ClassificationReport`` (``classification_report.json``, its CSV and
    confusion matrix) for mmpretrain, ``DetectionReport`` (``detection_report.json``, its CSV, PR
    curves and confusion matrix) for mmdet, written to ``work_dir``; the test's own logs go to
    ``work_dir/test``.

    Args:
        cfg (Config): A classification or detection config (changed: its ``work_dir`` and
            evaluators).
        work_dir (str): The run's folder.

    Returns:
        dict: The report, as the metric writes it (``rows``, one per class and the summary ones).
    """
    metric, _ = _report(cfg.get('default_scope'))
    cfg.work_dir = work_dir
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [
        cfg.test_evaluator]
    cfg.test_evaluator = [*evaluators, dict(type=metric, out_dir=work_dir)]
    runner = Runner.from_cfg(cfg)
    quiet_known_warnings(runner.logger)
    runner.train()
    # Test what the run saved: its last checkpoint, in a runner of its own (logs in test/). After
    # train(), test() in the same runner would call mmengine's EMAHook.before_run again, which
    # rebuilds the average from the raw weights: the figures would be the raw model's while the
    # checkpoint holds the average.
    checkpoint = find_latest_checkpoint(work_dir)
    if checkpoint is None:
        raise FileNotFoundError(f'{work_dir}: training saved no checkpoint to test')
    test_cfg = copy.deepcopy(cfg)
    test_cfg.update(work_dir=osp.join(work_dir, 'test'), load_from=checkpoint, resume=False)
    tester = Runner.from_cfg(test_cfg)
    quiet_known_warnings(tester.logger)
    with safe_checkpoint_loading():  # mmengine 0.10 cannot load its own checkpoints on torch 2.6+
        tester.test()
    report = finished_report(work_dir, cfg.default_scope)
    if report is None:
        raise FileNotFoundError(f'{osp.join(work_dir, _report(cfg.default_scope)[1])}: the test '
                                'wrote no report')
    return report


def finished_report(work_dir: str, scope: str = 'mmpretrain') -> Optional[dict]:
    """The report of a finished run of a ``scope`` config in ``work_dir``, or None."""
    path = osp.join(work_dir, _report(scope)[1])
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _mean_std(name: str, values: Sequence[float]) -> dict:
    values = np.asarray(values, dtype=float)
    return dict(metric=name, mean=float(values.mean()), std=float(values.std(ddof=0)),
                runs=values.round(2).tolist())


def mean_std_rows(reports: Sequence[dict], classes: Sequence[str]) -> List[dict]:
    """Mean and population std over runs: accuracy, macro figures, per-class precision/recall.

    Args:
        reports (Sequence[dict]): Classification reports, one per run.
        classes (Sequence[str]): The classes whose per-class rows to include.

    Returns:
        list[dict]: ``metric``, ``mean``, ``std`` and ``runs`` (the values, rounded to 2
        decimals), in percent.

    Example:
        >>> def report(acc, f1):
        ...     return dict(rows=[dict(name='accuracy', **{'f1-score': acc}),
        ...                       dict(name='macro avg', precision=f1, recall=f1,
        ...                            **{'f1-score': f1})])
        >>> rows = mean_std_rows([report(90., 88.), report(94., 92.)], classes=[])
        >>> rows[0]
        {'metric': 'accuracy', 'mean': 92.0, 'std': 2.0, 'runs': [90.0, 94.0]}
        >>> rows[3]['metric'], rows[3]['mean']
        ('macro f1-score', 90.0)
    """
    by_name = [{r['name']: r for r in report['rows']} for report in reports]
    rows = [_mean_std('accuracy', [r['accuracy']['f1-score'] for r in by_name]),
            _mean_std('macro precision', [r['macro avg']['precision'] for r in by_name]),
            _mean_std('macro recall', [r['macro avg']['recall'] for r in by_name]),
            _mean_std('macro f1-score', [r['macro avg']['f1-score'] for r in by_name])]
    for name in classes:
        rows.append(_mean_std(f'{name} precision', [r[name]['precision'] for r in by_name]))
        rows.append(_mean_std(f'{name} recall', [r[name]['recall'] for r in by_name]))
    return rows


def detection_mean_std_rows(reports: Sequence[dict]) -> List[dict]:
    """Mean and population std over runs of ``DetectionReport``'s figures, overall and per class.

    Args:
        reports (Sequence[dict]): Detection reports (``detection_report.json``), one per run, of
            the same classes.

    Returns:
        list[dict]: ``metric``, ``mean``, ``std`` and ``runs`` (the values, rounded to 2
        decimals), in percent: the overall mAP, recall, precision and F1, then every class's
        AP, recall, precision and F1 (``'<class> ap'`` ...). Recall, precision and F1 are at the
        reports' score threshold.

    Example:
        >>> def report(ap, recall):
        ...     rows = [dict(name='rbc', recall=recall, precision=80., ap=ap),
        ...             dict(name='overall', recall=recall, precision=80., ap=ap)]
        ...     return dict(score_thr=0.5, rows=[dict(r, **{'f1-score': 0.}) for r in rows])
        >>> rows = detection_mean_std_rows([report(60., 70.), report(64., 74.)])
        >>> rows[0]
        {'metric': 'mAP', 'mean': 62.0, 'std': 2.0, 'runs': [60.0, 64.0]}
        >>> [r['metric'] for r in rows[4:6]]
        ['rbc ap', 'rbc recall']
    """
    names = [[r['name'] for r in report['rows']] for report in reports]
    if any(n != names[0] for n in names):
        raise ValueError(f'the runs\' reports differ in classes: {names}')
    by_name = [{r['name']: r for r in report['rows']} for report in reports]
    figures = (('ap', 'ap'), ('recall', 'recall'), ('precision', 'precision'), ('F1', 'f1-score'))
    rows = [_mean_std('mAP' if label == 'ap' else label, [r['overall'][key] for r in by_name])
            for label, key in figures]
    for name in names[0][:-1]:
        rows.extend(_mean_std(f'{name} {label}', [r[name][key] for r in by_name])
                    for label, key in figures)
    return rows
