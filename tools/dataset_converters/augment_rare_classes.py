"""Augment the rare classes of a config's training images offline, up to target counts.

Wang et al. (2023, Table 4) bring the rare Munich AML classes up to a few thousand images each by
offline augmentation. This tool does that for the training part of any single-cell config
(the dataset's own ``split``, so no validation or test image leaks into training): each new
image is a seeded random flip/rotation by a multiple of 90 degrees plus a rotation by any angle
(reflected border) of an original of that class. It writes, in the dataset's own layout,

    OUT/<data_prefix>/<class folder>/<original>           links to the training originals
    OUT/<data_prefix>/<class folder>/<stem>_aug<k>.png    the new images

so training on it only needs ``data_root=OUT`` and ``split=None`` in the train dataset (the tool
prints the --cfg-options); validation and test keep reading the original data.

Example:
    python tools/dataset_converters/augment_rare_classes.py configs/cellvit_munich.py \
        --out work_dirs/data/munich_aml_aug --target 2000
"""
import argparse
import os
import os.path as osp

import cv2
import numpy as np
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

import mmcell  # noqa: F401 (registers the datasets)
from mmcell.compat import install, quiet_known_warnings
from mmcell.utils import load_config, track


def augment(img, rng):
    """A random dihedral transform, then a rotation by a random angle with a reflected border."""
    img = np.rot90(img, int(rng.integers(4)))
    if rng.random() < 0.5:
        img = img[:, ::-1]
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(0, 360)), 1.0)
    return cv2.warpAffine(np.ascontiguousarray(img), matrix, (w, h),
                          borderMode=cv2.BORDER_REFLECT_101)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a config whose train_dataloader.dataset is the dataset')
    parser.add_argument('--out', required=True, help='data root to write')
    parser.add_argument('--target', type=int, required=True,
                        help='bring every class with fewer training images up to this count')
    parser.add_argument('--class-target', nargs='+', default=[], metavar='CLASS=N',
                        help='per-class targets that override --target')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    cfg = load_config(args.config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, pipeline=[]))
    classes = dataset.metainfo['classes']
    targets = {name: args.target for name in classes}
    for item in args.class_target:
        name, _, count = item.rpartition('=')
        if name not in targets or not count.isdigit():
            raise SystemExit(f'--class-target {item!r}: expected CLASS=N with CLASS in {classes}')
        targets[name] = int(count)

    items = dataset.load_data_list()
    by_class = {name: [d for d in items if d['gt_label'] == k] for k, name in enumerate(classes)}
    out_prefix = osp.join(args.out, osp.basename(osp.normpath(dataset.img_prefix)))
    rng = np.random.default_rng(args.seed)
    todo = sum(max(0, targets[n] - len(v)) for n, v in by_class.items())
    print(f'{len(items)} training images; writing {todo} augmented images to {out_prefix}')
    for name, members in by_class.items():
        for d in members:
            link = osp.join(out_prefix, d['relpath'])
            os.makedirs(osp.dirname(link), exist_ok=True)
            if not osp.lexists(link):
                os.symlink(osp.abspath(d['img_path']), link)
    jobs = [(name, members, k) for name, members in by_class.items()
            for k in range(max(0, targets[name] - len(members)))]
    for name, members, k in track(jobs, description=f'augmenting {todo} images'):
        source = members[k % len(members)]
        img = cv2.imread(source['img_path'], cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit(f'{source["img_path"]}: cannot be decoded as an image')
        stem = osp.splitext(source['relpath'])[0]
        cv2.imwrite(osp.join(out_prefix, f'{stem}_aug{k}.png'), augment(img, rng))
    print('class: training images before -> after')
    for name, members in by_class.items():
        print(f'  {name}: {len(members)} -> {max(len(members), targets[name])}')
    print('train on it with:\n  --cfg-options '
          f'train_dataloader.dataset.data_root={args.out} train_dataloader.dataset.split=None')


if __name__ == '__main__':
    main()
