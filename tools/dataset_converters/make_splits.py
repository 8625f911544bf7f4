"""Write seeded, stratified splits of a config's single-cell dataset as mmpretrain annotation files.

k-fold:           OUT/fold_<i>/{train,val}.txt       (--folds 5, the paper's cross-validation)
train/val/test:   OUT/{train,val,test}.txt           (--ratios 0.7 0.1 0.2)
plus OUT/classes.txt and OUT/summary.json (images per class per file). Each line is
"<folder>/<file> <label>", for the dataset's ``ann_file`` (relative to its ``data_prefix``).
The split is the one the dataset's ``split=dict(...)`` argument makes with the same seed.

Example:
    python tools/dataset_converters/make_splits.py configs/cellvit/cellvit_pbc.py --folds 5 \
        --out work_dirs/splits/pbc
"""
import argparse
import json
from pathlib import Path

from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

from mmcell.compat import install, quiet_known_warnings
from mmcell.datasets import read_groups, split_indices
from mmcell.utils import load_config


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a config whose train_dataloader.dataset is the dataset')
    parser.add_argument('--out', required=True, help='folder to write the files to')
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument('--folds', type=int, help='k of a stratified k-fold split')
    kind.add_argument('--ratios', type=float, nargs=3, metavar=('TRAIN', 'VAL', 'TEST'),
                      help='fractions of a stratified train/val/test split')
    parser.add_argument('--seed', type=int, default=0, help='seed of the split (default 0)')
    parser.add_argument('--groups', help='CSV of "<folder>/<file>,<group>": keep groups whole')
    return parser.parse_args()


def main():
    args = parse_args()
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    cfg = load_config(args.config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    dataset_cfg = dict(cfg.train_dataloader.dataset, ann_file='', split=None, pipeline=[])
    dataset = DATASETS.build(dataset_cfg)
    items = dataset.load_data_list()
    labels = [d['gt_label'] for d in items]
    groups = None
    if args.groups:
        table = read_groups(args.groups)
        groups = [table[d['relpath']] for d in items]

    if args.folds:
        parts = {f'fold_{i}/{part}.txt': dict(part=part, num_folds=args.folds, fold=i)
                 for i in range(args.folds) for part in ('train', 'val')}
    else:
        parts = {f'{part}.txt': dict(part=part, ratios=args.ratios)
                 for part in ('train', 'val', 'test')}
    out = Path(args.out)
    classes = dataset.metainfo['classes']
    summary = dict(config=args.config, seed=args.seed, classes=classes, files={})
    for name, split in parts.items():
        keep = split_indices(labels, seed=args.seed, groups=groups, **split)
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(''.join(f'{items[i]["relpath"]} {labels[i]}\n' for i in keep))
        summary['files'][name] = {c: sum(labels[i] == k for i in keep) for k, c in enumerate(classes)}
    (out / 'classes.txt').write_text('\n'.join(classes) + '\n')
    (out / 'summary.json').write_text(json.dumps(summary, indent=2))
    print(f'{len(items)} images of {len(classes)} classes -> {len(parts)} files in {out}')


if __name__ == '__main__':
    main()
