"""Convert Chula-RBC-12 point labels to a COCO box file, measuring each cell in its image.

Reads <root>/Dataset/<n>.jpg and <root>/Label/<n>.txt ("x y type" per red cell) and writes a
COCO json with one box per labelled cell, estimated from the image
(mmcell.converters.chula_rbc12.estimate_cell_boxes: segmentation + seeded watershed), and the 13
Chula types as categories. Images without a label file are listed and skipped. Ends with a check
of the boxes: the share holding their labelled centre, box sizes, and the share that is mostly
cell pixels.

With ``--split TRAIN VAL TEST`` it also writes a seeded split of the images beside OUT
(``<out>_train.json``, ``_val.json``, ``_test.json``: what ``configs/_base_/datasets/
chula_rbc12.py`` reads) and prints each part's boxes per class; a split that leaves a class
without a training box is refused, naming the class.

Example:
    python tools/dataset_converters/chula_to_coco.py ../shared/data/chula_rbc12 \
        work_dirs/data/chula_rbc12/annotations.json --split 0.7 0.15 0.15 --seed 0
"""
import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from mmcell.datasets import check_image_file
from mmcell.utils import track
from mmcell.converters.chula_rbc12 import (CHULA_CLASSES, cell_mask, estimate_cell_boxes,
                                         read_chula_points, split_coco)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='the Chula-RBC-12 folder (with Dataset/ and Label/)')
    parser.add_argument('out', help='COCO json to write')
    parser.add_argument('--split', type=float, nargs=3, metavar=('TRAIN', 'VAL', 'TEST'),
                        help='also write a seeded split of the images with these shares')
    parser.add_argument('--seed', type=int, default=0, help='seed of the split (default 0)')
    args = parser.parse_args()
    if args.split and (min(args.split) <= 0 or abs(sum(args.split) - 1) > 1e-6):
        parser.error(f'--split shares must be positive and sum to 1, got {args.split}')
    return args


def write_split(coco, out, shares, seed):
    """Write the split's parts beside ``out``; refuse one without a training box of a class."""
    parts, counts = split_coco(coco, dict(zip(('train', 'val', 'test'), shares)), seed)
    names = {c['id']: c['name'] for c in coco['categories']}
    missing = [names[c] for c, n in counts['train'].items() if n == 0]
    if missing:
        raise SystemExit(f'the split (seed {seed}) leaves no training box of {missing}: '
                         'their AP could only be 0; try another --seed or larger TRAIN')
    width = max(len(n) for n in names.values()) + 2
    print(f'split (seed {seed}), boxes per class:\n{"":<{width}}' +
          ''.join(f'{p:>8}' for p in parts))
    for c, name in names.items():
        print(f'{name:<{width}}' + ''.join(f'{counts[p][c]:>8}' for p in parts))
    print(f'{"images":<{width}}' + ''.join(f'{len(parts[p]["images"]):>8}' for p in parts))
    for part, part_coco in parts.items():
        path = out.with_name(f'{out.stem}_{part}.json')
        path.write_text(json.dumps(part_coco))
        print(f'{part}: {path}')


def main():
    args = parse_args()
    root = Path(args.root)
    labels = {p.stem: p for p in (root / 'Label').glob('*.txt')}
    images = sorted((root / 'Dataset').glob('*.jpg'), key=lambda p: (len(p.stem), p.stem))
    if not labels or not images:
        raise SystemExit(f'{root}: expected Dataset/*.jpg and Label/*.txt')
    coco = dict(images=[], annotations=[],
                categories=[dict(id=i, name=n) for i, n in enumerate(CHULA_CLASSES)])
    skipped = [p.name for p in images if p.stem not in labels]
    labelled = [p for p in images if p.stem in labels]
    holds_centre, cell_share, sides = [], [], []  # a check that the boxes fit cells
    for image_id, path in enumerate(track(labelled, description=f'boxes for {len(labelled)} '
                                          'images'), 1):
        problem = check_image_file(path)
        img = None if problem else cv2.imread(str(path))
        if img is None:
            raise SystemExit(f'{path}: {problem or "cannot be decoded as an image"}')
        points = read_chula_points(labels[path.stem])
        h, w = img.shape[:2]
        coco['images'].append(dict(id=image_id, file_name=f'Dataset/{path.name}', width=w,
                                   height=h))
        mask = cell_mask(img) > 0
        for (x1, y1, x2, y2), (x, y, cls) in zip(estimate_cell_boxes(img, points[:, :2]), points):
            holds_centre.append(x1 <= x <= x2 and y1 <= y <= y2)
            cell_share.append(mask[int(y1):int(y2), int(x1):int(x2)].mean())
            sides.append(max(x2 - x1, y2 - y1))
            coco['annotations'].append(dict(
                id=len(coco['annotations']) + 1, image_id=image_id, category_id=int(cls),
                bbox=[float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                area=float((x2 - x1) * (y2 - y1)), iscrowd=0, point=[int(x), int(y)]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(coco))
    print(f'\n{len(coco["images"])} images, {len(coco["annotations"])} boxes -> {out}')
    if sides:
        low, median, high = np.percentile(sides, [5, 50, 95])
        print(f'box check: {100 * np.mean(holds_centre):.2f}% hold their labelled centre; '
              f'box side median {median:.0f} px (5-95%: {low:.0f}-{high:.0f}); '
              f'{100 * np.mean(np.array(cell_share) > 0.6):.1f}% are more than 60% cell pixels')
    if skipped:
        print(f'skipped {len(skipped)} image(s) without a label file: {skipped[:10]}')
    if args.split:
        write_split(coco, out, args.split, args.seed)


if __name__ == '__main__':
    main()
