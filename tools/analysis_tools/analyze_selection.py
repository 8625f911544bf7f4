"""How CellViT's sparse attention head selects tokens over a test split (Wang et al. 2023, 3.3).

For every image of the split: the token each head picked, how many distinct tokens the heads
picked, each head's attention entropy, the SE step's layer weights, and how many picks lie on the
stained white cell (a mask from the cell's colour, no labels). Printed as a summary, and written
to ``--out-dir`` (default ``work_dirs/analyze_selection/<config name>``): ``selection.csv`` (one
row per image), ``selection.json`` (the summary), ``selection.png`` (distinct tokens, entropy per
head, layer weights) and ``picks.png`` (``--per-class`` cells of each class with the picks).

Example:
    MMCELL_DATA=../shared/data python tools/analysis_tools/analyze_selection.py \\
        configs/cellvit/cellvit_pbc.py work_dirs/pbc/cellvit_pbc/epoch_25.pth
"""
import argparse
import copy
import csv
import json
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmcell.apis import build_model
from mmcell.compat import install, quiet_known_warnings
from mmcell.evaluation.selection_report import (format_selection_summary, record_selection,
                                                summarize_selection)
from mmcell.models import SparseAttentionHead
from mmcell.utils import load_classifier_config
from mmcell.visualization import draw_selection_page, draw_selection_summary


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a classifier config with a SparseAttentionHead')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('--split', choices=('test', 'val'), default='test',
                        help='the config\'s split to go over (default: test)')
    parser.add_argument('--max-images', type=int, help='stop after this many images (default: all)')
    parser.add_argument('--per-class', type=int, default=4,
                        help='cells of each class on picks.png (default: 4; 0: no page)')
    parser.add_argument('--out-dir', help='where the files go (default: work_dirs/'
                        'analyze_selection/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, as in tools/test.py')
    args = parser.parse_args(argv)
    if args.max_images is not None and args.max_images < 1:
        parser.error(f'--max-images must be at least 1, got {args.max_images}')
    if args.per_class < 0:
        parser.error(f'--per-class must be 0 or more, got {args.per_class}')
    return args


def write_csv(records, classes, path):
    heads, layers = len(records[0]['tokens']), len(records[0]['layer_weights'])
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image', 'true', 'pred', 'distinct_tokens', 'tokens', 'cell_found',
                         'cell_tokens', 'picks_on_cell'] + [f'entropy_head{k + 1}' for k in
                                                          range(heads)] +
                        [f'weight_layer{k + 1}' for k in range(layers)])
        for r in records:
            writer.writerow([r['image'], classes[r['label']], classes[r['pred']],
                             r['distinct_tokens'], ' '.join(map(str, r['tokens'])), r['cell_found'],
                             '' if r['cell_tokens'] is None else round(r['cell_tokens'], 4),
                             '' if r['picks_on_cell'] is None else r['picks_on_cell']] +
                            [round(e, 4) for e in r['entropy']] +
                            [round(w, 6) for w in r['layer_weights']])


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    cfg = load_classifier_config(args.config, args.cfg_options, 'analyze_selection.py')
    model = build_model(cfg, args.checkpoint)
    if not isinstance(model.head, SparseAttentionHead):
        raise SystemExit(f'{args.config}: the model\'s head is a {type(model.head).__name__}, '
                         'not a SparseAttentionHead: it selects no tokens')
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    if not classes:
        raise SystemExit(f'{args.checkpoint} does not say its classes (no dataset_meta): use a '
                         'checkpoint saved by a training run')
    if not cfg.get(f'{args.split}_dataloader'):
        raise SystemExit(f'{args.config} has no {args.split}_dataloader')
    loader_cfg = copy.deepcopy(cfg[f'{args.split}_dataloader'])
    loader_cfg.update(sampler=dict(type='DefaultSampler', shuffle=False), persistent_workers=False)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        loader = Runner.build_dataloader(loader_cfg)
    records, images = record_selection(model, loader, args.max_images)
    summary = summarize_selection(records)
    summary.update(config=args.config, checkpoint=args.checkpoint, split=args.split,
                   head=dict(squeeze=model.head.squeeze, gate=model.head.gate,
                             pick=model.head.pick))
    print(format_selection_summary(summary))

    out_dir = args.out_dir or osp.join('work_dirs', 'analyze_selection',
                                       osp.splitext(osp.basename(args.config))[0])
    os.makedirs(out_dir, exist_ok=True)
    write_csv(records, classes, osp.join(out_dir, 'selection.csv'))
    with open(osp.join(out_dir, 'selection.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    draw_selection_summary(summary, osp.join(out_dir, 'selection.png'))
    written = ['selection.csv', 'selection.json', 'selection.png']
    if args.per_class:
        cells = {name: [] for name in classes}
        for img, record in zip(images, records):
            pairs = cells[classes[record['label']]]
            if len(pairs) < args.per_class:
                pairs.append((img, record))
        draw_selection_page(cells, osp.join(out_dir, 'picks.png'),
                            title=f'{osp.basename(args.checkpoint)}: picked tokens (yellow), '
                            'the cell found by colour (cyan)')
        written.append('picks.png')
    print(f"wrote {', '.join(osp.join(out_dir, name) for name in written)}")


if __name__ == '__main__':
    main()
