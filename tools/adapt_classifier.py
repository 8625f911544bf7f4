"""Adapt a classifier to your lab from the corrections saved on a review page.

Reads the corrections file (checked against the run it came from: ``tools/infer.py --report``),
keeps the reviewed cells that have a class (reassigned or confirmed; ``unidentified`` and ``not a
white cell`` are no class to learn), holds a seeded share of each class back for checking
(the stratified split of ``mmcell.datasets.splits``), fine-tunes the checkpoint on the rest with
the short CPU schedule of ``configs/_base_/schedules/adaptation.py`` (``--train all``, the
default: every layer; ``last-stage``: the head and the backbone's last stage; ``head``: the head
only; set as the backbone's ``frozen_stages``) or refits the final linear layer on the frozen
model's features (``--train linear``: seconds; for linear heads such as the pretrained
EfficientNet-Lite classifiers'), and reports accuracy, macro F1 and per-class recall on the
held-back cells before and after. Writes the new checkpoint, the annotation lists (mmpretrain's
format) and ``adaptation.json`` into ``--work-dir``.

The new checkpoint has no trust state: a state fitted for the old weights would be refused
(fit one with ``tools/analysis_tools/fit_trust.py`` on validation cells of your lab).

Example:
    python tools/adapt_classifier.py configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py \\
        cls.pth work_dirs/infer ~/Downloads/corrections-1a2b3c4d.json --train linear
"""
import argparse
import json
import sys
import time
from pathlib import Path

from mmcell.apis import CellClassificationInferencer
from mmcell.compat import install, quiet_known_warnings
from mmcell.datasets import assign_stratified
from mmcell.review import (TRAIN_PARTS, CorrectionsError, evaluate_crops, finetune,
                           fit_linear_head, iterations_for, read_corrections,
                           write_annotation_list)
from mmcell.utils import load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help="the classifier's config")
    parser.add_argument('checkpoint', help='the checkpoint that classified the run')
    parser.add_argument('run_dir', help='the folder tools/infer.py --report wrote')
    parser.add_argument('corrections', help='the file saved from the review page')
    parser.add_argument('--work-dir', default='work_dirs/adapted', help='where the files go')
    parser.add_argument('--train', choices=TRAIN_PARTS, default='all',
                        help='what is fine-tuned (default: all; linear: the final layer on '
                        'frozen features, in seconds)')
    parser.add_argument('--iters', type=int,
                        help='training iterations (default: about 30 passes over the cells, '
                        'at least 60)')
    parser.add_argument('--lr', type=float, help='AdamW learning rate (default by --train)')
    parser.add_argument('--holdout', type=float, default=0.3,
                        help='share of each class held back for the before/after report '
                        '(default 0.3; 0: train on all, no report)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 <= args.holdout < 1:
        parser.error(f'--holdout must be in [0, 1), got {args.holdout}')
    return args


def format_report(before, after):
    names = sorted(set(before['recall']) | set(after['recall']))
    lines = [f'{"":<18}{"before":>9}{"after":>9}',
             f'{"accuracy":<18}{before["accuracy"]:>9.2f}{after["accuracy"]:>9.2f}',
             f'{"macro F1":<18}{before["macro_f1"]:>9.2f}{after["macro_f1"]:>9.2f}']
    lines += [f'{name + " recall":<18}{before["recall"][name]:>9.2f}{after["recall"][name]:>9.2f}'
              for name in names]
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    try:
        cells, classes = read_corrections(args.corrections, args.run_dir)
    except (CorrectionsError, FileNotFoundError, ValueError) as err:
        sys.exit(f'error: {err}')
    cfg = load_config(args.config)
    original = CellClassificationInferencer(cfg, args.checkpoint, trust=None)
    if list(original.classes) != list(classes):
        sys.exit(f'error: {args.checkpoint} has the classes {list(original.classes)}; the run '
                 f'in {args.run_dir} was classified into {classes}')
    labelled = [cell for cell in cells if cell.label in classes]
    print(f'{len(cells)} reviewed cells in {args.corrections}: {len(labelled)} with a class, '
          f'{sum(c.label != c.predicted for c in cells)} reassigned')
    if len(labelled) < 2:
        sys.exit('error: fewer than 2 reviewed cells have a class; review more cells on the '
                 'page (reassign or confirm them) and save again')
    # a seeded share of each class held back, as datasets split (mmcell.datasets.splits)
    parts = assign_stratified([classes.index(c.label) for c in labelled],
                              [1 - args.holdout, args.holdout], args.seed)
    train = [cell for cell, part in zip(labelled, parts) if part == 0]
    held = [cell for cell, part in zip(labelled, parts) if part == 1]
    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    write_annotation_list(train, classes, work_dir / 'train.txt')
    write_annotation_list(held, classes, work_dir / 'held_back.txt')
    crops, labels = [str(c.crop) for c in held], [c.label for c in held]
    before = evaluate_crops(original, crops, labels) if held else None
    start = time.perf_counter()
    if args.train == 'linear':
        print(f'fitting the final linear layer on {len(train)} cells; {len(held)} held back')
        iters = None
        checkpoint = fit_linear_head(original, [str(c.crop) for c in train],
                                     [c.label for c in train], work_dir / 'linear.pth')
    else:
        iters = args.iters or iterations_for(len(train))
        print(f'fine-tuning the {args.train} on {len(train)} cells for {iters} iterations; '
              f'{len(held)} held back')
        checkpoint = finetune(cfg, args.checkpoint, work_dir / 'train.txt', classes,
                              work_dir, train=args.train, iters=iters, lr=args.lr, seed=args.seed)
    seconds = time.perf_counter() - start
    report = dict(corrections=str(args.corrections), run_dir=str(args.run_dir),
                  checkpoint=str(checkpoint), original=str(args.checkpoint), train=args.train,
                  iters=iters, seed=args.seed, train_cells=len(train), held_back=len(held),
                  seconds=round(seconds, 1))
    print(f'adapted in {seconds:.0f} s: {checkpoint}')
    if held:
        after = evaluate_crops(CellClassificationInferencer(cfg, str(checkpoint), trust=None),
                               crops, labels)
        report.update(before=before, after=after)
        print(f'On the {len(held)} held-back corrected cells:\n' + format_report(before, after))
    (work_dir / 'adaptation.json').write_text(json.dumps(report, indent=1))
    print(f"wrote {work_dir / 'adaptation.json'}")


if __name__ == '__main__':
    main()
