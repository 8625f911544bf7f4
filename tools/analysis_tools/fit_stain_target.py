"""Fit a stain target on a classification config's training split and write it as JSON.

The target holds the training images' LAB statistics (what ``RandomLabStats`` draws around and
``StainNormalize(method='reinhard')`` maps onto), their Macenko stain vectors and scale
(``StainNormalize(method='macenko')``, ``RandomStainJitter(target=...)``) and the typical white-cell
size (``ReframeCell``). Configs name the file; PBC's is ``configs/_base_/datasets/pbc_stain_target.json``.

Example:
    MMCELL_DATA=../shared/data python tools/analysis_tools/fit_stain_target.py \\
        configs/cellvit/cellvit_pbc.py --out configs/_base_/datasets/pbc_stain_target.json
"""
import argparse
import copy

import cv2

from mmcell.compat import install, quiet_known_warnings
from mmcell.datasets.transforms import fit_stain_target
from mmcell.utils import config_scope, load_config, track


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a classification config')
    parser.add_argument('--out', default='stain_target.json', help='the JSON file to write')
    parser.add_argument('--split', default='train', choices=['train', 'val', 'test'],
                        help='which of the config\'s loaders to measure (default: train)')
    parser.add_argument('--size', type=int, default=128,
                        help='images are measured with their longer side resized to this '
                        '(default 128, the PBC configs\' input size)')
    return parser.parse_args(argv)


def split_images(cfg, split):
    """The image paths of one of a config's loaders (through dataset wrappers)."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS
    loader = cfg.get(f'{split}_dataloader')
    if loader is None:
        raise SystemExit(f'{cfg.filename} has no {split}_dataloader')
    dataset = copy.deepcopy(loader['dataset'])
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    dataset['pipeline'] = []
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        built = DATASETS.build(dataset)
    return [built.get_data_info(i)['img_path'] for i in range(len(built))]


def read(path, size):
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SystemExit(f'{path}: not an image cv2 can read')
    scale = size / max(img.shape[:2])
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    cfg = load_config(args.config)
    if config_scope(cfg) != 'mmpretrain':
        raise SystemExit(f'{args.config} is a {cfg.default_scope} config; stain targets are fitted '
                         'on a classification config\'s cells')
    paths = split_images(cfg, args.split)
    images = (read(p, args.size) for p in track(paths, description=f'{args.split} images'))
    target = fit_stain_target(images, source=f'{args.config} ({args.split} split, {args.size} px)')
    target.save(args.out)
    print(f'{args.out}: {target.images} images; LAB mean {target.lab_mean}, std '
          f'{target.lab_std}; eosin {target.eosin}, methylene blue {target.methylene_blue}; '
          f'white cell {100 * target.cell_fraction:.1f}% of the side')


if __name__ == '__main__':
    main()
