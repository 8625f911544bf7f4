"""Train and test classification configs over several training seeds; one table of mean +- std.

The data split stays as each config sets it (its dataset's own split seed); only the training
seed changes (``randomness.seed``: initialisation, data order, augmentation). Each run goes to
``<work_dir>/<config name>/seed_<s>/`` with its checkpoints, logs and classification report;
runs whose report exists are not run again, so rerunning the command finishes an interrupted
sweep and prints the table. ``--selection`` adds, for models with a ``SparseAttentionHead``, the
selection report's figures on the test split (the summary ``analyze_selection.py`` prints, with
the checkpoint it was measured on, kept as ``selection.json`` in the run's folder). The table is
printed and written to ``<work_dir>/sweep_summary.{json,csv}``.

Example:
    MMCELL_DATA=../shared/data python tools/seed_sweep.py configs/cellvit/cellvit_pbc.py \\
        configs/baselines/resnet50_pbc.py --seeds 0 1 2 --selection
"""
import argparse
import copy
import csv
import json
import os.path as osp

import numpy as np
from mmengine.config import DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, find_latest_checkpoint

import mmcell  # noqa: F401 (registers components, safe checkpoint loading)
from mmcell.apis import build_model
from mmcell.compat import quiet_known_warnings
from mmcell.engine.runs import finished_report, mean_std_rows, train_and_test
from mmcell.evaluation.selection_report import record_selection, summarize_selection
from mmcell.models import SparseAttentionHead
from mmcell.utils import config_scope, enable_amp, load_config

# Selection figures in the table: (column, summary key, scale, format).
SELECTION_COLUMNS = (('distinct tokens', 'distinct_tokens', 1, '.2f'),
                     ('picks on cell %', 'picks_on_cell', 100, '.2f'),
                     ('SE std over images', ('se_spread_across_images', 'mean'), 1, '.5f'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', metavar='CONFIG', help='classification configs')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='training seeds (default: 0 1 2)')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'seed_sweep'),
                        help='where the runs go (default: work_dirs/seed_sweep)')
    parser.add_argument('--selection', action='store_true',
                        help='add the selection report\'s figures for sparse attention heads')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision, as tools/train.py --amp (bfloat16 on CPU)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of every config, as in tools/train.py')
    args = parser.parse_args(argv)
    names = [osp.splitext(osp.basename(c))[0] for c in args.configs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        parser.error(f'configs share a name ({", ".join(twice)}): their runs would share a folder')
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds repeats a seed: {args.seeds}')
    return args


def selection_summary(cfg, run_dir):
    """The run's selection summary (kept in ``selection.json``), or None for other heads."""
    path = osp.join(run_dir, 'selection.json')
    if osp.isfile(path):
        with open(path) as f:
            return json.load(f)
    checkpoint = find_latest_checkpoint(run_dir)
    if checkpoint is None:
        raise SystemExit(f'{run_dir}: a finished run without a checkpoint (no last_checkpoint '
                         'file): the selection needs the trained weights')
    model = build_model(cfg, checkpoint)
    if not isinstance(model.head, SparseAttentionHead):
        return None
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg.update(sampler=dict(type='DefaultSampler', shuffle=False), persistent_workers=False)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        loader = Runner.build_dataloader(loader_cfg)
    summary = summarize_selection(record_selection(model, loader)[0])
    summary.update(checkpoint=checkpoint, split='test')
    with open(path, 'w') as f:
        json.dump(summary, f, indent=2)
    return summary


def _value(summary, key):
    return summary[key[0]][key[1]] if isinstance(key, tuple) else summary[key]


def sweep_row(name, seeds, reports, selections):
    """One config's line: accuracy and macro F1 (and selection figures) over its seeds."""
    rows = {r['metric']: r for r in mean_std_rows(reports, classes=[])}
    row = dict(config=name, seeds=list(seeds), accuracy=rows['accuracy'],
               macro_f1=rows['macro f1-score'])
    if selections and all(s is not None for s in selections):
        for column, key, scale, _ in SELECTION_COLUMNS:
            # None: a run in whose test images no cell was found (picks on cell)
            values = [None if _value(s, key) is None else scale * _value(s, key)
                      for s in selections]
            known = np.array([v for v in values if v is not None])
            row[column] = None if not len(known) else dict(
                mean=float(known.mean()), std=float(known.std(ddof=0)), runs=values)
    return row


def format_table(rows):
    formats = dict(accuracy='.2f', macro_f1='.2f',
                   **{c: f for c, _, _, f in SELECTION_COLUMNS if any(c in r for r in rows)})
    head = ['config', 'seeds', 'accuracy', 'macro F1'] + list(formats)[2:]
    lines = [' | '.join(head), ' | '.join('---' for _ in head)]
    for r in rows:
        cells = [r['config'], ' '.join(map(str, r['seeds']))]
        for key, fmt in formats.items():
            value = r.get(key)
            cells.append('-' if value is None else
                         f'{value["mean"]:{fmt}} ± {value["std"]:{fmt}}')
        lines.append(' | '.join(cells))
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    rows = []
    for config in args.configs:
        name = osp.splitext(osp.basename(config))[0]
        reports, selections = [], []
        for seed in args.seeds:
            run_dir = osp.join(args.work_dir, name, f'seed_{seed}')
            cfg = load_config(config)
            if config_scope(cfg) != 'mmpretrain':
                raise SystemExit(f'{config} is a {cfg.default_scope} config; seed_sweep.py '
                                 'sweeps classifiers')
            if args.amp:
                enable_amp(cfg)
            if args.cfg_options:
                cfg.merge_from_dict(args.cfg_options)
            cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
            cfg.experiment_name = f'{name}_seed{seed}'
            report = finished_report(run_dir)
            if report is None:
                print(f'=== {name}, seed {seed}: training in {run_dir}', flush=True)
                report = train_and_test(cfg, run_dir)
            else:
                print(f'=== {name}, seed {seed}: done before, report in {run_dir}')
            reports.append(report)
            if args.selection:
                selections.append(selection_summary(cfg, run_dir))
        rows.append(sweep_row(name, args.seeds, reports, selections))

    print(f'\nmean ± std over training seeds {args.seeds}, percent:\n{format_table(rows)}')
    with open(osp.join(args.work_dir, 'sweep_summary.json'), 'w') as f:
        json.dump(dict(configs=args.configs, seeds=args.seeds, amp=args.amp,
                       cfg_options=args.cfg_options, rows=rows), f, indent=2)
    columns = [c for c in ('accuracy', 'macro_f1') + tuple(c for c, *_ in SELECTION_COLUMNS)
               if any(c in r for r in rows)]
    with open(osp.join(args.work_dir, 'sweep_summary.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['config', 'seeds'] + [f'{c} {s}' for c in columns
                                               for s in ('mean', 'std')])
        for r in rows:
            writer.writerow([r['config'], ' '.join(map(str, r['seeds']))] + [
                '' if r.get(c) is None else round(r[c][s], 6) for c in columns
                for s in ('mean', 'std')])
    print(f'summary written to {osp.join(args.work_dir, "sweep_summary.csv")} and '
          'sweep_summary.json')


if __name__ == '__main__':
    main()
