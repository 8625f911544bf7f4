"""One table of how a classifier transfers: its own test split and any number of other labs' sets.

Each test set is a config (its ``test_dataloader``, e.g. ``configs/cellvit/cellvit_pbc_test-bccd-wbc.py``)
or a folder of class folders named as the model's classes (read with the config's test
pipeline). For each: images, accuracy, macro F1 over the classes the set holds, and each held
class's recall, as ``tools/test.py``'s report computes them (mmpretrain's ``SingleLabelMetric``).
Test-time options go into every set's pipeline: ``--normalize`` (``StainNormalize``) and
``--reframe`` (``ReframeCell``, with the count of crops where no stained cell was found);
``--adapt-bn`` re-estimates the model's BatchNorm statistics on each set's own images before
testing it (label-free adaptation, :func:`mmcell.review.reestimate_batchnorm`).

Example:
    MMCELL_DATA=../shared/data python tools/analysis_tools/cross_domain.py \\
        configs/cellvit/cellvit_pbc_quick_stain.py work_dirs/cross_lab/cellvit_pbc_quick_stain/epoch_8.pth \\
        configs/cellvit/cellvit_pbc_test-bccd-wbc.py --normalize reinhard
"""
import argparse
import copy
import csv
import json
import os
import os.path as osp
import tempfile

import torch
from mmengine.config import DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmcell.apis import build_model
from mmcell.compat import install, quiet_known_warnings
from mmcell.evaluation.classification_report import report_rows
from mmcell.review import reestimate_batchnorm
from mmcell.utils import load_classifier_config, load_config, track

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')
# --normalize: StainNormalize's settings.
NORMALIZE = {'none': None, 'reinhard': dict(method='reinhard', region='context'),
             'reinhard-all': dict(method='reinhard', region='all'),
             'macenko': dict(method='macenko')}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the classifier\'s config (its test split is the in-lab set)')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('sets', nargs='*', metavar='SET',
                        help='other test sets: configs (their test_dataloader) or folders of '
                        'class folders')
    parser.add_argument('--normalize', choices=list(NORMALIZE), default='none',
                        help='stain normalisation at test time (StainNormalize), every set: '
                        'reinhard (statistics outside the white cell), reinhard-all (over every '
                        'pixel) or macenko')
    parser.add_argument('--reframe', action='store_true',
                        help='re-frame each crop on its white cell (ReframeCell), every set')
    parser.add_argument('--crop-context', type=float,
                        help='the context of CropCell steps (sets cropped from fields, e.g. BCCD: '
                        'a wider crop gives --reframe room)')
    parser.add_argument('--target', help='the stain target (default: the config\'s stain_target)')
    parser.add_argument('--adapt-bn', action='store_true',
                        help='re-estimate BatchNorm statistics on each set\'s own images first '
                        '(label-free adaptation; needs no labels)')
    parser.add_argument('--no-in-lab', action='store_true', help='leave out the config\'s own test split')
    parser.add_argument('--out-dir', help='where the table goes (default: work_dirs/cross_domain/'
                        '<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, as in tools/test.py')
    return parser.parse_args(argv)


def test_time_steps(args, target):
    """The transforms the options insert before each pipeline's first resize."""
    steps = []
    if NORMALIZE[args.normalize]:
        steps.append(dict(type='StainNormalize', target=target, **NORMALIZE[args.normalize]))
    if args.reframe:
        steps.append(dict(type='ReframeCell', target=target))
    return steps


def with_steps(pipeline, steps, crop_context):
    """A copy of ``pipeline`` with ``steps`` before its first resize (or before packing)."""
    pipeline = copy.deepcopy(list(pipeline))
    for step in pipeline:
        if step['type'] == 'CropCell' and crop_context is not None:
            step['context'] = crop_context
    names = [step['type'] for step in pipeline]
    at = next((k for k, name in enumerate(names) if 'Resize' in name or 'Crop' in name
               and name != 'CropCell'), None)
    if at is None:
        at = names.index('PackInputs') if 'PackInputs' in names else len(pipeline)
    pipeline[at:at] = copy.deepcopy(steps)
    if any(step['type'] == 'ReframeCell' for step in steps):
        pack = pipeline[-1]
        if pack['type'] == 'PackInputs':
            pack['meta_keys'] = tuple(pack.get('meta_keys', ('sample_idx', 'img_path',
                                                             'ori_shape', 'img_shape'))) + (
                                                                 'reframed', )
        for k, step in enumerate(pipeline):  # a re-framed crop is not square: resize both sides
            if k > at and step['type'] == 'Resize' and isinstance(step.get('scale'), int):
                step['scale'] = (step['scale'], step['scale'])
    return pipeline


def folder_annotations(root, classes, out):
    """Write an mmpretrain annotation list (``relpath label``) of a folder of class folders."""
    lower = {c.lower(): k for k, c in enumerate(classes)}
    folders = sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
    unknown = [d for d in folders if d.lower() not in lower]
    if unknown or not folders:
        raise SystemExit(f'{root}: folders {unknown or "(none)"} are not classes of the model '
                         f'{list(classes)}')
    lines = []
    for folder in folders:
        for name in sorted(os.listdir(osp.join(root, folder))):
            if name.lower().endswith(IMAGE_EXTENSIONS):
                lines.append(f'{folder}/{name} {lower[folder.lower()]}')
    if not lines:
        raise SystemExit(f'{root}: no images in its class folders')
    with open(out, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def set_loader(cfg, set_spec, classes, steps, crop_context, tmp):
    """The name and test loader of one set: the config's own split, another config, or a folder."""
    if set_spec is None:
        name, loader = f'{osp.basename(cfg.filename)} (in-lab test)', cfg.test_dataloader
    elif osp.isdir(set_spec):
        ann = osp.join(tmp, f'{len(os.listdir(tmp))}.txt')
        folder_annotations(set_spec, classes, ann)
        loader = copy.deepcopy(cfg.test_dataloader)
        loader['dataset'] = dict(type='CustomDataset', data_root=set_spec, ann_file=ann,
                                 data_prefix='', classes=list(classes),
                                 pipeline=cfg.test_dataloader.dataset.pipeline)
        name = set_spec.rstrip('/')
    else:
        other = load_config(set_spec)
        name, loader = set_spec, other.test_dataloader
    loader = copy.deepcopy(loader)
    dataset = loader['dataset']
    if 'classes' in dataset:  # in the model's label space
        dataset['classes'] = list(classes)
    dataset['pipeline'] = with_steps(dataset['pipeline'], steps, crop_context)
    loader.update(sampler=dict(type='DefaultSampler', shuffle=False), persistent_workers=False)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return name, Runner.build_dataloader(loader)


def evaluate(model, loader, name):
    """Predicted and true labels, and how many crops ReframeCell found no cell in."""
    preds, labels, not_reframed = [], [], 0
    with torch.no_grad():
        for data in track(loader, total=len(loader), description=f'{name}: batches'):
            for sample in model.test_step(data):
                preds.append(int(sample.pred_label))
                labels.append(int(sample.gt_label))
                not_reframed += sample.metainfo.get('reframed') is False
    return torch.tensor(preds), torch.tensor(labels), not_reframed


def row(name, pred, target, classes, not_reframed):
    """One line of the table: what tools/test.py's report gives, over the classes held."""
    rows, _ = report_rows(pred, target, classes)
    held = [r for r in rows[:len(classes)] if r['support'] > 0]
    return dict(set=name, images=len(target), accuracy=round(rows[len(classes)]['f1-score'], 2),
                macro_f1=round(sum(r['f1-score'] for r in held) / len(held), 2),
                recall={r['name']: round(r['recall'], 2) for r in held},
                no_cell_found=not_reframed)


def format_table(rows):
    classes = list(dict.fromkeys(c for r in rows for c in r['recall']))
    head = ['set', 'images', 'accuracy', 'macro F1'] + [f'{c} recall' for c in classes]
    lines = [' | '.join(head), ' | '.join('---' for _ in head)]
    for r in rows:
        lines.append(' | '.join([r['set'], str(r['images']), f'{r["accuracy"]:.2f}',
                                 f'{r["macro_f1"]:.2f}'] + [
                                     f'{r["recall"][c]:.2f}' if c in r['recall'] else '-'
                                     for c in classes]))
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    cfg = load_classifier_config(args.config, args.cfg_options, 'cross_domain.py')
    for spec in args.sets:
        if not (osp.isdir(spec) or osp.isfile(spec)):
            raise SystemExit(f'{spec}: neither a config nor a folder')
    target = args.target or cfg.get('stain_target')
    if (args.normalize != 'none' or args.reframe) and not target:
        raise SystemExit(f'--normalize/--reframe need a stain target: {args.config} names none '
                         '(stain_target); give --target')
    model = build_model(cfg, args.checkpoint)
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    if not classes:
        raise SystemExit(f'{args.checkpoint} does not say its classes (no dataset_meta): use a '
                         'checkpoint saved by a training run')
    steps = test_time_steps(args, target)
    out_dir = args.out_dir or osp.join('work_dirs', 'cross_domain',
                                       osp.splitext(osp.basename(args.config))[0])
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in ([] if args.no_in_lab else [None]) + list(args.sets):
            name, loader = set_loader(cfg, spec, classes, steps, args.crop_context, tmp)
            if args.adapt_bn:
                reestimate_batchnorm(model, loader)
            pred, labels, not_reframed = evaluate(model, loader, name)
            rows.append(row(name, pred, labels, classes, not_reframed))
    options = dict(normalize=args.normalize, reframe=args.reframe, crop_context=args.crop_context,
                   target=target if steps else None, adapt_bn=args.adapt_bn)
    table = format_table(rows)
    print(f'{args.checkpoint}; test-time options {options}\n{table}')
    if args.reframe:
        print('crops with no stained cell found (left as they were): ' + ', '.join(
            f'{r["set"]} {r["no_cell_found"]}' for r in rows))
    with open(osp.join(out_dir, 'cross_domain.json'), 'w') as f:
        json.dump(dict(config=args.config, checkpoint=args.checkpoint, options=options,
                       rows=rows), f, indent=2)
    with open(osp.join(out_dir, 'cross_domain.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        classes_held = list(dict.fromkeys(c for r in rows for c in r['recall']))
        writer.writerow(['set', 'images', 'accuracy', 'macro_f1', 'no_cell_found'] +
                        [f'recall_{c}' for c in classes_held])
        for r in rows:
            writer.writerow([r['set'], r['images'], r['accuracy'], r['macro_f1'],
                             r['no_cell_found']] + [r['recall'].get(c, '') for c in classes_held])
    print(f'wrote {out_dir}/cross_domain.{{json,csv}}')


if __name__ == '__main__':
    main()
