"""The README's first command: mmcell end to end, on data that needs no download.

1. Data. Classification reads the PBC layout, detection BCCD's VOC layout. Where ``$MMCELL_DATA``
   holds ``pbc/PBC_dataset_normal_DIB`` or ``bccd/BCCD`` that real data is used; otherwise seeded
   synthetic data is written once to ``work_dirs/data/synthetic`` (``mmcell.synthetic``'
   ``write_cell_crops`` and ``write_smears``). The output says which ran.
2. Fine-tunes the default white-cell classifier, EfficientNet-Lite0 from its ImageNet weights
   (``configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py``, the stain recipe), and the
   default smear detector, Faster R-CNN on EfficientNet-Lite0 from its ImageNet weights
   (``configs/lite_fpn/faster_rcnn_lite0_fpn_bccd.py``), with ``tools/train.py``; tests them with
   ``tools/test.py``: classification report and confusion matrix, detection report and PR curves.
3. Pictures: where the classifier looked (class activation maps), one cell per class; C2-C4/P2-P4
   feature maps of a test smear (``tools/visualization/``).
4. The smear pipeline (``tools/infer.py``: detect, crop white cells, classify, count) on the test
   smears, its counts printed next to the ground truth, with the field pictures and the review
   page (``smear_counts/review.html``: open it in a browser).

Everything goes to ``work_dirs/demo``; the steps run the same tools a user would.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLS_CONFIG = 'configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py'
DET_CONFIG = 'configs/lite_fpn/faster_rcnn_lite0_fpn_bccd.py'
PBC_FOLDER = 'pbc/PBC_dataset_normal_DIB'
BCCD_FOLDER = 'bccd/BCCD'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo', help='where runs are written')
    parser.add_argument('--synthetic-root', default='work_dirs/data/synthetic',
                        help='where synthetic data is written (and reused)')
    parser.add_argument('--cells-per-class', type=int, default=40,
                        help='synthetic single-cell images per class (8 classes)')
    parser.add_argument('--smears', type=int, nargs=3, default=[48, 8, 8],
                        metavar=('TRAIN', 'VAL', 'TEST'), help='synthetic smear fields per split')
    parser.add_argument('--cls-epochs', type=int, default=6, help='classifier training epochs')
    parser.add_argument('--det-epochs', type=int, default=6, help='detector training epochs')
    return parser.parse_args(argv)


def run(tool, *args, data_root):
    """Run one of the repository's tools with ``$MMCELL_DATA`` pointing at ``data_root``."""
    cmd = [sys.executable, tool, *map(str, args)]
    print(f'\n+ MMCELL_DATA={data_root} {" ".join(cmd[1:])}', flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True, env=dict(os.environ, MMCELL_DATA=str(data_root)))


def synthetic_data(args):
    """Write the synthetic datasets unless the same ones are there; return their root."""
    from mmcell.synthetic import write_cell_crops, write_smears
    root = ROOT / args.synthetic_root
    recipe = dict(cells_per_class=args.cells_per_class, smears=args.smears, seed=0, version=2)
    stamp = root / 'recipe.json'
    if stamp.is_file() and json.loads(stamp.read_text()) == recipe:
        return root
    print(f'Writing synthetic data to {root} (seeded, no download) ...')
    write_cell_crops(root / PBC_FOLDER, args.cells_per_class, size=128, seed=0)
    write_smears(root / 'bccd', dict(zip(('train', 'val', 'test'), args.smears)), seed=0)
    stamp.write_text(json.dumps(recipe))
    return root


def pick_data(args):
    """Per task, the real data under $MMCELL_DATA if it is there, else synthetic data."""
    real = Path(os.environ['MMCELL_DATA']).resolve() if os.environ.get('MMCELL_DATA') else None
    roots = {}
    for task, folder in (('classification', PBC_FOLDER), ('detection', BCCD_FOLDER)):
        if real is not None and (real / folder).is_dir():
            roots[task] = (real, f'real data, {real / folder}')
        else:
            synthetic = synthetic_data(args)
            roots[task] = (synthetic, f'synthetic data, {synthetic / folder}'
                           + (f' ($MMCELL_DATA={real} has no {folder})' if real else ''))
    for task, (_, what) in roots.items():
        print(f'Data for {task}: {what}')
    return roots


def train_and_test(config, work_dir, data_root, options):
    run('tools/train.py', config, '--work-dir', work_dir, '--cfg-options', *options,
        data_root=data_root)
    checkpoint = (ROOT / work_dir / 'last_checkpoint').read_text().strip()
    run('tools/test.py', config, checkpoint, '--work-dir', work_dir, data_root=data_root)
    return checkpoint


def ground_truth(voc, names):
    """Cells per class per test image: the generator's file, else counted from the VOC XML."""
    table = voc / 'ground_truth.csv'
    if table.is_file():
        with open(table) as f:
            return {row.pop('image'): row for row in csv.DictReader(f) if row['image'] in names}
    truth = {}
    for name in names:
        labels = [o.findtext('name') for o in ET.parse(voc / 'Annotations' / f'{name}.xml')
                  .getroot().iter('object')]
        truth[name] = {label: labels.count(label) for label in ('RBC', 'WBC', 'Platelets')}
    return truth


def print_counts(counts_csv, truth):
    """The smear pipeline's counts next to the ground truth, one line per image."""
    with open(counts_csv) as f:
        rows = list(csv.DictReader(f))
    print('\nDifferential counts on the test smears: found / true')
    for row in rows:
        name = Path(row.pop('image')).stem
        true = truth.get(name, {})
        cells = []
        for key, value in row.items():
            cls = key.split(':')[-1]  # 'WBC:monocyte' -> the generator's 'monocyte' column
            if int(value) or int(true.get(cls, 0)):
                cells.append(f"{cls} {value}/{true.get(cls, '?')}")
        print(f'  {name}: ' + ', '.join(cells))


def main(argv=None):
    args = parse_args(argv)
    roots = pick_data(args)
    work_dir = Path(args.work_dir)
    cls_root, det_root = roots['classification'][0], roots['detection'][0]

    cls_dir = work_dir / 'efficientnet-lite0_pbc_stain'
    cls_ckpt = train_and_test(CLS_CONFIG, cls_dir, cls_root, [
        f'train_cfg.max_epochs={args.cls_epochs}', f'train_cfg.val_interval={args.cls_epochs}',
        f'default_hooks.checkpoint.interval={args.cls_epochs}'])
    det_dir = work_dir / 'faster_rcnn_lite0_fpn_bccd'
    det_ckpt = train_and_test(DET_CONFIG, det_dir, det_root, [
        f'train_cfg.max_epochs={args.det_epochs}'])

    pictures = work_dir / 'pictures'
    cells = [sorted(folder.iterdir())[0]
             for folder in sorted((cls_root / PBC_FOLDER).iterdir()) if folder.is_dir()]
    run('tools/visualization/vis_class_activation.py', CLS_CONFIG, cls_ckpt, *cells,
        '--out-dir', pictures, data_root=cls_root)
    voc = det_root / BCCD_FOLDER
    names = (voc / 'ImageSets' / 'Main' / 'test.txt').read_text().split()
    smears = [voc / 'JPEGImages' / f'{name}.jpg' for name in names]
    run('tools/visualization/vis_feature_maps.py', DET_CONFIG, det_ckpt, smears[0],
        '--out-dir', pictures, data_root=det_root)

    counts_dir = work_dir / 'smear_counts'
    run('tools/infer.py', *smears, '--detector', DET_CONFIG, det_ckpt,
        '--classifier', CLS_CONFIG, cls_ckpt, '--report', '--out-dir', counts_dir,
        data_root=det_root)
    print_counts(ROOT / counts_dir / 'counts.csv', ground_truth(voc, set(names)))

    print(f'\nDone. Data: classification on {roots["classification"][1]}; detection on '
          f'{roots["detection"][1]}.\nReports (classification_report.csv, confusion_matrix.png, '
          f'detection_report.csv, pr_curves.png) are in the timestamped folders under {cls_dir} '
          f'and {det_dir}; pictures in {pictures}; smear counts in {counts_dir}, to review in '
          f'{counts_dir / "review.html"} (open it in a browser).')


if __name__ == '__main__':
    main()
