"""k-fold cross-validation of a classification config: train and test every fold, then summarise.

Each fold trains with mmengine's Runner on the other k-1 folds and tests on its own (the
dataset's seeded stratified ``split``; folds are the ones tools/dataset_converters/make_splits.py
writes). Per fold: <work_dir>/fold_<i>/ with its checkpoints, logs and classification report.
Summary: mean and std over folds of accuracy, macro precision and recall, and per-class
precision and recall, printed and written to <work_dir>/cv_summary.{csv,json}.
Folds whose report exists are not run again (rerun the command to finish an interrupted run).

Example:
    python tools/cross_validate.py configs/cellvit_munich.py --folds 5
"""
import argparse
import csv
import json
import os.path as osp

from mmengine.config import DictAction

import mmcell  # noqa: F401 (registers components)
from mmcell.compat import install, quiet_known_warnings
from mmcell.engine.runs import finished_report, mean_std_rows, train_and_test
from mmcell.utils import config_scope, load_config, set_work_dir


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--folds', type=int, default=5, help='k (default 5, as in the paper)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the split (default 0)')
    parser.add_argument('--work-dir', help='default: work_dirs/<config name>_cv')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs as in mmengine')
    return parser.parse_args()


def set_fold(cfg, folds, fold, seed):
    """Point the train loader at the other folds and the val/test loaders at ``fold``."""
    for name, part in (('train_dataloader', 'train'), ('val_dataloader', 'val'),
                       ('test_dataloader', 'val')):
        if cfg.get(name) is None:
            continue
        dataset = cfg[name].dataset
        while 'dataset' in dataset:  # wrappers (ClassBalancedDataset, RepeatDataset)
            dataset = dataset.dataset
        if 'split' not in dataset:
            raise ValueError(f'{name}.dataset ({dataset.type}) has no split argument; '
                             'cross-validation needs a dataset that splits itself '
                             '(MunichAMLDataset, PBCDataset or another CellFolderDataset)')
        dataset.split = dict(num_folds=folds, fold=fold, seed=seed, part=part)
        dataset.ann_file = ''


def main():
    args = parse_args()
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    cfg = load_config(args.config)
    config_scope(cfg)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    name = osp.splitext(osp.basename(args.config))[0]
    set_work_dir(cfg, args.work_dir or osp.join('work_dirs', f'{name}_cv'))
    root = cfg.work_dir

    reports = []
    for fold in range(args.folds):
        fold_dir = osp.join(root, f'fold_{fold}')
        report = finished_report(fold_dir)
        if report is None:
            print(f'=== fold {fold + 1}/{args.folds}: training in {fold_dir}', flush=True)
            fold_cfg = cfg.copy()
            set_fold(fold_cfg, args.folds, fold, args.seed)
            fold_cfg.experiment_name = f'{name}_fold{fold}'
            report = train_and_test(fold_cfg, fold_dir)
        else:
            print(f'=== fold {fold + 1}/{args.folds}: done before, report in {fold_dir}')
        reports.append(report)

    rows = [dict(r, folds=r.pop('runs')) for r in mean_std_rows(reports, reports[0]['classes'])]
    width = max(len(r['metric']) for r in rows) + 2
    print(f'\n{args.folds}-fold cross-validation of {args.config} (seed {args.seed}), percent:')
    print(f'{"":<{width}}{"mean":>8}{"std":>8}   folds')
    for r in rows:
        print(f'{r["metric"]:<{width}}{r["mean"]:>8.2f}{r["std"]:>8.2f}   '
              + ' '.join(f'{v:.2f}' for v in r['folds']))
    with open(osp.join(root, 'cv_summary.json'), 'w') as f:
        json.dump(dict(config=args.config, folds=args.folds, seed=args.seed, rows=rows), f,
                  indent=2)
    with open(osp.join(root, 'cv_summary.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['metric', 'mean', 'std'] + [f'fold_{i}' for i in range(args.folds)])
        for r in rows:
            writer.writerow([r['metric'], f'{r["mean"]:.4f}', f'{r["std"]:.4f}', *r['folds']])
    print(f'summary written to {osp.join(root, "cv_summary.csv")} and cv_summary.json')


if __name__ == '__main__':
    main()
