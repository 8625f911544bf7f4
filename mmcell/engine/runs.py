"""Runs of a classification config that a tool repeats (folds, seeds), and their summary.

:func:`train_and_test` trains and tests a config with mmengine's Runner and keeps the
classification report in the run's folder; :func:`finished_report` finds it again, so that a
repeated command resumes where it stopped; :func:`mean_std_rows` summarises several reports.
"""
import copy
import json
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.runner import Runner, find_latest_checkpoint

from mmcell.compat import quiet_known_warnings

__all__ = ['REPORT', 'train_and_test', 'finished_report', 'mean_std_rows']

REPORT = 'classification_report.json'


def train_and_test(cfg: Config, work_dir: str) -> dict:
    """Train ``cfg`` in ``work_dir``, test it, and return its classification report.

    The test loads the last checkpoint (the weights the run leaves, the EMA's where an
    ``EMAHook`` is configured) and adds mmcell's ``ClassificationReport`` to the config's test
    evaluators, which writes ``classification_report.json`` (and its CSV and confusion matrix) to
    ``work_dir``; the test's own logs go to ``work_dir/test``.

    Args:
        cfg (Config): A classification config (changed: its ``work_dir`` and evaluators).
        work_dir (str): The run's folder.

    Returns:
        dict: The report (``classes`` and ``rows``, as ``ClassificationReport`` writes it).
    """
    cfg.work_dir = work_dir
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [
        cfg.test_evaluator]
    cfg.test_evaluator = [*evaluators, dict(type='ClassificationReport', out_dir=work_dir)]
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
    tester.test()
    report = finished_report(work_dir)
    if report is None:
        raise FileNotFoundError(f'{osp.join(work_dir, REPORT)}: the test wrote no report')
    return report


def finished_report(work_dir: str) -> Optional[dict]:
    """The classification report of a finished run in ``work_dir``, or None."""
    path = osp.join(work_dir, REPORT)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


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
    def row(name, values):
        values = np.asarray(values, dtype=float)
        return dict(metric=name, mean=float(values.mean()), std=float(values.std(ddof=0)),
                    runs=values.round(2).tolist())

    by_name = [{r['name']: r for r in report['rows']} for report in reports]
    rows = [row('accuracy', [r['accuracy']['f1-score'] for r in by_name]),
            row('macro precision', [r['macro avg']['precision'] for r in by_name]),
            row('macro recall', [r['macro avg']['recall'] for r in by_name]),
            row('macro f1-score', [r['macro avg']['f1-score'] for r in by_name])]
    for name in classes:
        rows.append(row(f'{name} precision', [r[name]['precision'] for r in by_name]))
        rows.append(row(f'{name} recall', [r[name]['recall'] for r in by_name]))
    return rows
