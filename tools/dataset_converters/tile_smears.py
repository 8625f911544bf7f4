"""Cut whole smear fields and their boxes into overlapping tiles (Song et al. 2021's pre-processing).

Input: a COCO json (--coco FILE, image paths relative to --img-dir) or Pascal VOC XMLs
(--voc-dir with Annotations/ and JPEGImages/). Output (--out): Pascal VOC (Annotations/,
JPEGImages/, ImageSets/Main/all.txt; what RBC14Dataset reads) or COCO (--format coco:
annotations.json + images/). Tiles default to the paper's 375x500 with 30% overlap. Boxes cut by a
tile border are clipped (kept when at least --min-visible of them shows), dropped, or relabelled
as --edge-class (the paper's "edge cell"). COCO output keeps a COCO input's categories, ids and
order (mmdet's CocoDataset maps its classes to labels in the file's category order); VOC input
gives its class names sorted. Optional Gaussian denoising (--denoise SIGMA) and
horizontally flipped copies of tiles holding a rare class (--flip-classes NAME ...).

Example:
    python tools/dataset_converters/tile_smears.py --voc-dir fields/ --out tiles/ \
        --border edge --edge-class "edge cell" --denoise 1.0 --flip-classes teardrop schistocyte
"""
import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

from mmcell.datasets.voc import voc_xml
from mmcell.structures.tiling import boxes_in_tile, tile_windows
from mmcell.utils import track


def read_coco(path, img_dir):
    """The fields of a COCO json, and its categories as they are."""
    coco = json.loads(Path(path).read_text())
    names = {c['id']: c['name'] for c in coco['categories']}
    fields = {i['id']: dict(path=Path(img_dir) / i['file_name'], boxes=[], labels=[])
              for i in coco['images']}
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        fields[ann['image_id']]['boxes'].append([x, y, x + w, y + h])
        fields[ann['image_id']]['labels'].append(names[ann['category_id']])
    return list(fields.values()), coco['categories']


def read_voc(voc_dir):
    fields = []
    for xml in sorted((Path(voc_dir) / 'Annotations').glob('*.xml')):
        try:
            root = ET.parse(xml).getroot()
        except ET.ParseError as err:
            raise SystemExit(f'{xml}: malformed XML ({err})')
        boxes, labels = [], []
        for obj in root.findall('object'):
            box = obj.find('bndbox')
            boxes.append([float(box.find(k).text) for k in ('xmin', 'ymin', 'xmax', 'ymax')])
            labels.append(obj.find('name').text)
        name = root.findtext('filename') or f'{xml.stem}.jpg'
        fields.append(dict(path=Path(voc_dir) / 'JPEGImages' / name, boxes=boxes, labels=labels))
    return fields


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--coco', help='COCO json of the fields')
    source.add_argument('--voc-dir', help='VOC folder of the fields')
    parser.add_argument('--img-dir', default='.', help='image folder of --coco (default .)')
    parser.add_argument('--out', required=True)
    parser.add_argument('--format', choices=['voc', 'coco'], default='voc')
    parser.add_argument('--tile-size', type=int, nargs=2, default=[375, 500], metavar=('H', 'W'))
    parser.add_argument('--overlap', type=float, default=0.3)
    parser.add_argument('--border', choices=['clip', 'drop', 'edge'], default='clip')
    parser.add_argument('--min-visible', type=float, default=0.5)
    parser.add_argument('--edge-class', default='edge cell')
    parser.add_argument('--denoise', type=float, default=0, help='Gaussian sigma (0: off)')
    parser.add_argument('--flip-classes', nargs='*', default=[],
                        help='add a horizontally flipped copy of tiles holding these classes')
    return parser.parse_args()


def main():
    args = parse_args()
    edge = {args.edge_class} if args.border == 'edge' else set()
    if args.coco:
        fields, categories = read_coco(args.coco, args.img_dir)
        categories += [dict(id=max(c['id'] for c in categories) + 1, name=n)
                       for n in edge - {c['name'] for c in categories}]
    else:
        fields = read_voc(args.voc_dir)
        categories = [dict(id=i, name=n) for i, n in
                      enumerate(sorted({label for f in fields for label in f['labels']} | edge))]
    classes = [c['name'] for c in categories]
    category_ids = [c['id'] for c in categories]
    out = Path(args.out)
    img_dir = out / ('JPEGImages' if args.format == 'voc' else 'images')
    img_dir.mkdir(parents=True, exist_ok=True)
    if args.format == 'voc':
        (out / 'Annotations').mkdir(exist_ok=True)
        (out / 'ImageSets' / 'Main').mkdir(parents=True, exist_ok=True)
    coco = dict(images=[], annotations=[], categories=categories)
    names = []
    for field in track(fields, description=f'tiling {len(fields)} fields'):
        img = cv2.imread(str(field['path']))
        if img is None:
            raise SystemExit(f'{field["path"]}: missing or not an image')
        if args.denoise:
            img = cv2.GaussianBlur(img, (0, 0), args.denoise)
        labels = np.array([classes.index(n) for n in field['labels']], dtype=int)
        boxes = np.array(field['boxes'], dtype=np.float32).reshape(-1, 4)
        h, w = img.shape[:2]
        for k, window in enumerate(tile_windows(h, w, args.tile_size, args.overlap)):
            tile_boxes, tile_labels, _ = boxes_in_tile(
                boxes, labels, window, args.border, args.min_visible,
                classes.index(args.edge_class) if args.border == 'edge' else None)
            tile = img[window[1]:window[3], window[0]:window[2]]
            copies = [('', tile, tile_boxes)]
            if {classes[i] for i in tile_labels} & set(args.flip_classes):
                tw = tile.shape[1]
                flipped = tile_boxes[:, [2, 1, 0, 3]] * [-1, 1, -1, 1] + [tw, 0, tw, 0]
                copies.append(('_flip', tile[:, ::-1], flipped))
            for suffix, pixels, tile_box in copies:
                name = f'{field["path"].stem}_{k:03d}{suffix}'
                cv2.imwrite(str(img_dir / f'{name}.jpg'), pixels)
                names.append(name)
                tile_names = [classes[i] for i in tile_labels]
                if args.format == 'voc':
                    (out / 'Annotations' / f'{name}.xml').write_text(
                        voc_xml(f'{name}.jpg', pixels.shape, tile_box, tile_names))
                    continue
                image_id = len(coco['images']) + 1
                coco['images'].append(dict(id=image_id, file_name=f'{name}.jpg',
                                           height=pixels.shape[0], width=pixels.shape[1]))
                for box, label in zip(tile_box.tolist(), tile_labels.tolist()):
                    x1, y1, x2, y2 = box
                    coco['annotations'].append(dict(
                        id=len(coco['annotations']) + 1, image_id=image_id,
                        category_id=category_ids[label],
                        bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1), iscrowd=0))
    if args.format == 'voc':
        (out / 'ImageSets' / 'Main' / 'all.txt').write_text('\n'.join(names) + '\n')
    else:
        (out / 'annotations.json').write_text(json.dumps(coco))
    print(f'\n{len(fields)} fields -> {len(names)} tiles of {args.tile_size[0]}x'
          f'{args.tile_size[1]} ({args.format}) in {out}; classes: {classes}')


if __name__ == '__main__':
    main()
