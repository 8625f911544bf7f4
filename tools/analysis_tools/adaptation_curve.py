"""Adaptation curve: how many corrected cells per class a classifier needs in a new lab.

For each k and each seeded draw: k cells per class of the second lab's labelled white cells
(BCCD's, ``BCCDWBCDataset``, cropped as the smear pipeline crops them) stand for the cells a
person corrected on the review page; the classifier is adapted to them exactly as
``tools/adapt_classifier.py`` does (same annotation lists, same schedule; ``--train linear``
refits the final layer on frozen features in seconds) and tested on every
cell not drawn. A class never gives more than ``--max-share`` of its cells (BCCD has 20
monocytes and 2 basophils), so each class keeps cells to test on. Prints and writes one table:
per k, accuracy and macro F1 (over the classes the test cells hold) as mean +- std over the
draws, against no adaptation on the same test cells, and the wall time of each fine-tune.

Example:
    python tools/analysis_tools/adaptation_curve.py configs/cellvit/cellvit_pbc_quick.py \\
        work_dirs/cellvit_pbc_quick/epoch_8.pth --k 5 10 20 --draws 3
"""
import argparse
import csv
import json
import os
import statistics
import time
from pathlib import Path

import cv2
import mmcv
import numpy as np

from mmcell.apis import CellClassificationInferencer
from mmcell.compat import install, quiet_known_warnings
from mmcell.datasets import BCCDWBCDataset
from mmcell.review import (TRAIN_PARTS, CorrectedCell, evaluate_crops, finetune,
                           fit_linear_head, held_class_summary, iterations_for,
                           write_annotation_list)
from mmcell.structures import crop_cell
from mmcell.utils import load_config, track


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help="the classifier's config")
    parser.add_argument('checkpoint', help='the checkpoint to adapt')
    parser.add_argument('--data-root', default=os.path.join(
        os.environ.get('MMCELL_DATA', 'data'), 'bccd'),
        help='the folder holding BCCD/ and labels.csv (default: $MMCELL_DATA/bccd)')
    parser.add_argument('--k', type=int, nargs='+', default=[5, 10, 20],
                        help='corrected cells per class (default: 5 10 20)')
    parser.add_argument('--draws', type=int, default=3, help='seeded draws per k (default 3)')
    parser.add_argument('--max-share', type=float, default=0.5,
                        help='most of a class that is drawn (default 0.5)')
    parser.add_argument('--train', choices=TRAIN_PARTS, default='all',
                        help='what is fine-tuned (default: all, as tools/adapt_classifier.py)')
    parser.add_argument('--iters', type=int, help='as tools/adapt_classifier.py')
    parser.add_argument('--work-dir', default='work_dirs/adaptation_curve')
    return parser.parse_args(argv)


def write_crops(data_root, classes, out):
    """Crop every labelled BCCD white cell once; return (crop paths, labels)."""
    dataset = BCCDWBCDataset(data_root=data_root, classes=classes, lazy_init=False)
    out.mkdir(parents=True, exist_ok=True)
    paths, labels = [], []
    items = (dataset.get_data_info(i) for i in range(len(dataset)))
    for item in track(items, total=len(dataset),
                      description=f'cropping {len(dataset)} white cells'):
        path = out / (Path(item['img_path']).stem + '.png')
        if not path.is_file():
            cv2.imwrite(str(path), crop_cell(mmcv.imread(item['img_path']), item['cell_box']))
        paths.append(path)
        labels.append(classes[item['gt_label']])
    return paths, labels


def draw(labels, k, max_share, seed):
    """Indices of k cells per class (at most ``max_share`` of the class), seeded."""
    rng = np.random.default_rng(seed)
    picked = []
    for name in sorted(set(labels)):
        idx = [i for i, label in enumerate(labels) if label == name]
        take = min(k, int(max_share * len(idx)))
        picked += rng.choice(idx, size=take, replace=False).tolist()
    return sorted(picked)


def mean_std(values):
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    cfg = load_config(args.config)
    original = CellClassificationInferencer(cfg, args.checkpoint, trust=None)
    classes = list(original.classes)
    work_dir = Path(args.work_dir)
    paths, labels = write_crops(args.data_root, classes, work_dir / 'crops')
    baseline = evaluate_crops(original, [str(p) for p in paths], labels)
    print(f'no adaptation, all {len(paths)} cells: accuracy {baseline["accuracy"]:.2f}, '
          f'macro F1 {baseline["macro_f1"]:.2f}')
    runs = []
    for k in args.k:
        for seed in range(args.draws):
            picked = draw(labels, k, args.max_share, seed)
            drawn = set(picked)
            rest = [i for i in range(len(paths)) if i not in drawn]
            run_dir = work_dir / f'k{k}_draw{seed}'
            run_dir.mkdir(parents=True, exist_ok=True)
            cells = [CorrectedCell(paths[i].stem, paths[i], '', labels[i]) for i in picked]
            write_annotation_list(cells, classes, run_dir / 'train.txt')
            test_crops, test_labels = [str(paths[i]) for i in rest], [labels[i] for i in rest]
            # the unadapted model's figures on these cells, from its predictions of all cells
            before = held_class_summary([baseline['predicted'][i] for i in rest], test_labels,
                                        classes)
            start = time.perf_counter()
            if args.train == 'linear':
                checkpoint = fit_linear_head(original, [str(paths[i]) for i in picked],
                                             [labels[i] for i in picked], run_dir / 'linear.pth')
            else:
                checkpoint = finetune(cfg, args.checkpoint, run_dir / 'train.txt', classes,
                                      run_dir, train=args.train,
                                      iters=args.iters or iterations_for(len(picked)), seed=seed,
                                      log_level='WARNING')
            seconds = time.perf_counter() - start
            adapted = CellClassificationInferencer(cfg, str(checkpoint), trust=None)
            after = evaluate_crops(adapted, test_crops, test_labels)
            runs.append(dict(k=k, draw=seed, train_cells=len(picked), test_cells=len(rest),
                             before_accuracy=before['accuracy'], before_macro_f1=before['macro_f1'],
                             accuracy=after['accuracy'], macro_f1=after['macro_f1'],
                             recall=after['recall'], seconds=round(seconds, 1)))
            print(f'k={k} draw {seed}: {len(picked)} cells, {seconds:.0f} s; accuracy '
                  f'{before["accuracy"]:.2f} -> {after["accuracy"]:.2f}, macro F1 '
                  f'{before["macro_f1"]:.2f} -> {after["macro_f1"]:.2f} on {len(rest)} cells')
    lines = ['k   cells  test   accuracy (before -> after)   macro F1 (before -> after)   '
             'fine-tune s']
    for k in args.k:
        rows = [r for r in runs if r['k'] == k]
        acc0, acc, f10, f1 = (mean_std([r[key] for r in rows]) for key in (
            'before_accuracy', 'accuracy', 'before_macro_f1', 'macro_f1'))
        secs = mean_std([r['seconds'] for r in rows])
        lines.append(f'{k:<4}{rows[0]["train_cells"]:>5}{rows[0]["test_cells"]:>6}   '
                     f'{acc0[0]:6.2f} -> {acc[0]:6.2f} +- {acc[1]:5.2f}       '
                     f'{f10[0]:6.2f} -> {f1[0]:6.2f} +- {f1[1]:5.2f}      '
                     f'{secs[0]:6.0f} +- {secs[1]:.0f}')
    table = '\n'.join(lines)
    print(f'Adaptation on {args.data_root} ({args.train}, {args.draws} draws per k):\n{table}')
    with open(work_dir / 'adaptation_curve.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=[key for key in runs[0] if key != 'recall'],
                                extrasaction='ignore')
        writer.writeheader()
        writer.writerows(runs)
    (work_dir / 'adaptation_curve.json').write_text(json.dumps(dict(
        config=args.config, checkpoint=args.checkpoint, data_root=args.data_root,
        train=args.train, baseline=dict(baseline, predicted=None), runs=runs), indent=1))
    print(f"wrote {work_dir / 'adaptation_curve.csv'} and {work_dir / 'adaptation_curve.json'}")


if __name__ == '__main__':
    main()
