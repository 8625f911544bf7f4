"""Train and test configs over several training seeds; one table of mean +- std.

Classification (mmpretrain) or detection (mmdet) configs, all of one kind. The data split stays
as each config sets it (its dataset's own split seed); only the training seed changes
(``randomness.seed``: initialisation, data order, augmentation). Each run goes to
``<work_dir>/<config name>/seed_<s>/`` with its checkpoints, logs and report (mmcell's
``ClassificationReport`` or ``DetectionReport``); runs whose report exists are not run again, so
rerunning the command finishes an interrupted sweep and prints the table, and two commands on
other configs or seeds with the same ``--work-dir`` can train side by side. Classifiers: accuracy
and macro F1; ``--selection`` adds, for models with a ``SparseAttentionHead``, the selection
report's figures on the test split (the summary ``analyze_selection.py`` prints, with the
checkpoint it was measured on, kept as ``selection.json`` in the run's folder). Detectors: mAP,
recall, precision and F1 (at the report's score threshold), and a table per config of every
class's AP, recall, precision and F1. The table is printed and written to
``<work_dir>/sweep_summary.{json,csv}`` (detectors: per class in ``sweep_classes.csv`` too).

Example:
    MMCELL_DATA=../shared/data python tools/seed_sweep.py configs/cellvit/cellvit_pbc.py \\
        configs/baselines/resnet50_pbc.py --seeds 0 1 2 --selection
    OMP_NUM_THREADS=1 python tools/seed_sweep.py configs/cs_arfpn/cs_arfpn_r50_chula_cpu.py \\
        --seeds 0 1 2 --work-dir work_dirs/chula12
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

import mmcell  # noqa: F401 (registers components)
from mmcell.apis import build_model
from mmcell.compat import install, quiet_known_warnings
from mmcell.engine.runs import (detection_mean_std_rows, finished_report, mean_std_rows,
                                train_and_test)
from mmcell.evaluation.selection_report import record_selection, summarize_selection
from mmcell.models import SparseAttentionHead
from mmcell.utils import config_scope, enable_amp, load_config

# Selection figures in the table: (column, summary key, scale, format).
SELECTION_COLUMNS = (('distinct tokens', 'distinct_tokens', 1, '.2f'),
                     ('picks on cell %', 'picks_on_cell', 100, '.2f'),
                     ('SE std over images', ('se_spread_across_images', 'mean'), 1, '.5f'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', metavar='CONFIG',
                        help='classification configs, or detection configs')
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


# Detection figures, overall and per class, as detection_mean_std_rows names them.
DETECTION_COLUMNS = ('mAP', 'recall', 'precision', 'F1')
CLASS_FIGURES = ('ap', 'recall', 'precision', 'F1')


def detection_sweep_row(name, seeds, reports):
    """One detection config's line: mAP, recall, precision, F1, and per class the same four."""
    rows = {r['metric']: r for r in detection_mean_std_rows(reports)}
    classes = [r['name'] for r in reports[0]['rows'][:-1]]
    return dict(config=name, seeds=list(seeds), score_thr=reports[0]['score_thr'],
                **{key: rows[key] for key in DETECTION_COLUMNS},
                classes={c: {label: rows[f'{c} {label}'] for label in CLASS_FIGURES}
                         for c in classes})


def _format_mean_std(value, fmt):
    return '-' if value is None else f'{value["mean"]:{fmt}} ± {value["std"]:{fmt}}'


def table_columns(rows):
    """(row key, header, format) of the summary table's figures."""
    if 'mAP' in rows[0]:
        return [(key, key, '.2f') for key in DETECTION_COLUMNS]
    return [('accuracy', 'accuracy', '.2f'), ('macro_f1', 'macro F1', '.2f')] + [
        (c, c, f) for c, _, _, f in SELECTION_COLUMNS if any(c in r for r in rows)]


def format_table(rows):
    columns = table_columns(rows)
    head = ['config', 'seeds'] + [h for _, h, _ in columns]
    lines = [' | '.join(head), ' | '.join('---' for _ in head)]
    for r in rows:
        lines.append(' | '.join([r['config'], ' '.join(map(str, r['seeds']))] + [
            _format_mean_std(r.get(key), fmt) for key, _, fmt in columns]))
    return '\n'.join(lines)


def format_classes(row):
    """A detection config's per-class table: AP, recall, precision, F1, mean ± std."""
    lines = [f'{row["config"]} (recall, precision, F1 at score >= {row["score_thr"]}):',
             'class | AP | recall | precision | F1', '--- | --- | --- | --- | ---']
    for name, figures in row['classes'].items():
        lines.append(' | '.join([name] + [_format_mean_std(figures[k], '.2f')
                                          for k in CLASS_FIGURES]))
    return '\n'.join(lines)


def write_summaries(args, rows):
    """``sweep_summary.json`` and ``.csv`` (and ``sweep_classes.csv`` for detectors)."""
    with open(osp.join(args.work_dir, 'sweep_summary.json'), 'w') as f:
        json.dump(dict(configs=args.configs, seeds=args.seeds, amp=args.amp,
                       cfg_options=args.cfg_options, rows=rows), f, indent=2)
    columns = [key for key, _, _ in table_columns(rows)]
    with open(osp.join(args.work_dir, 'sweep_summary.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['config', 'seeds'] + [f'{c} {s}' for c in columns
                                               for s in ('mean', 'std')])
        for r in rows:
            writer.writerow([r['config'], ' '.join(map(str, r['seeds']))] + [
                '' if r.get(c) is None else round(r[c][s], 6) for c in columns
                for s in ('mean', 'std')])
    written = ['sweep_summary.csv', 'sweep_summary.json']
    if 'classes' in rows[0]:
        with open(osp.join(args.work_dir, 'sweep_classes.csv'), 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['config', 'class'] + [f'{k} {s}' for k in CLASS_FIGURES
                                                   for s in ('mean', 'std')])
            for r in rows:
                for name, values in r['classes'].items():
                    writer.writerow([r['config'], name] + [round(values[k][s], 6)
                                                           for k in CLASS_FIGURES
                                                           for s in ('mean', 'std')])
        written.append('sweep_classes.csv')
    return [osp.join(args.work_dir, name) for name in written]


def load_configs(args):
    """The configs, loaded, and their one scope; refuses a mix, or --selection on detectors."""
    cfgs = [load_config(config) for config in args.configs]
    scopes = {config: config_scope(cfg) for config, cfg in zip(args.configs, cfgs)}
    if len(set(scopes.values())) > 1:
        raise SystemExit('seed_sweep.py sweeps configs of one kind; these mix scopes: ' +
                         ', '.join(f'{c} ({s})' for c, s in scopes.items()))
    scope = next(iter(scopes.values()))
    if args.selection and scope != 'mmpretrain':
        raise SystemExit('--selection measures sparse attention heads of classifiers; '
                         f'{args.configs[0]} is a {scope} config')
    return cfgs, scope


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    cfgs, scope = load_configs(args)
    rows = []
    for config, loaded in zip(args.configs, cfgs):
        name = osp.splitext(osp.basename(config))[0]
        reports, selections = [], []
        for seed in args.seeds:
            run_dir = osp.join(args.work_dir, name, f'seed_{seed}')
            cfg = copy.deepcopy(loaded)
            if args.amp:
                enable_amp(cfg)
            if args.cfg_options:
                cfg.merge_from_dict(args.cfg_options)
            cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
            cfg.experiment_name = f'{name}_seed{seed}'
            report = finished_report(run_dir, scope)
            if report is None:
                print(f'=== {name}, seed {seed}: training in {run_dir}', flush=True)
                report = train_and_test(cfg, run_dir)
            else:
                print(f'=== {name}, seed {seed}: done before, report in {run_dir}')
            reports.append(report)
            if args.selection:
                selections.append(selection_summary(cfg, run_dir))
        rows.append(sweep_row(name, args.seeds, reports, selections) if scope == 'mmpretrain'
                    else detection_sweep_row(name, args.seeds, reports))

    print(f'\nmean ± std over training seeds {args.seeds}, percent:\n{format_table(rows)}')
    for row in rows:
        if 'classes' in row:
            print(f'\n{format_classes(row)}')
    written = write_summaries(args, rows)
    print(f'summary written to {", ".join(written)}')


if __name__ == '__main__':
    main()
