"""Classify cell images, detect and count cells, or give a smear's differential count.

What runs depends on the models given:

* ``--classifier CONFIG CHECKPOINT`` only: top-k classes per image -> ``classification.csv``;
* ``--detector CONFIG CHECKPOINT`` only: boxes per image -> ``detections.csv``/``.json``, and
  cells per class per image -> ``counts.csv``;
* both: the smear pipeline: detect cells, crop each white cell (``--white-class``), classify it
  -> ``cells.csv``/``.json`` and ``counts.csv`` (cells per detector class and white cells per
  classifier class, per image), and ``differential.csv``: the white cells of all images, per
  class the count, the percentage of the identified white cells and its exact binomial
  (Clopper-Pearson, as Rümke's table) 95% interval, with the unidentified cells apart.

A classifier with a trust state beside its checkpoint (``tools/analysis_tools/fit_trust.py``)
gives calibrated probabilities, and white cells it cannot trust go to ``unidentified`` (their
conformal prediction set at ``--coverage`` is not one class, or their trust score is below the
fitted threshold). With ``--correct-counts`` the differential also gives each class's count
corrected for the classifier's confusions: the state's validation confusion matrix (true class
by the answer given, unidentified included) is inverted by non-negative least squares
(:func:`mmcell.uncertainty.correct_counts`).

Inputs are image files, folders (their images, sorted) or glob patterns. An image that cannot be
read is skipped with a warning and counted at the end; the other images still go through.

Examples:
    python tools/infer.py smears/ --detector configs/cs_arfpn_r50_bccd.py det.pth \\
        --classifier configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py cls.pth \\
        --tile-size 480 640 --out-dir work_dirs/infer --report
    python tools/infer.py 'cells/*.jpg' --topk 3 \\
        --classifier configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py cls.pth
"""
import argparse
import csv
import glob
import json
import sys
from pathlib import Path

import mmcv

from mmcell.apis import (classify, count_cells, crop_cell, detect, init_classifier,
                         init_detector)
from mmcell.compat import quiet_known_warnings
from mmcell.review import SmearRun, write_review_page
from mmcell.uncertainty import differential_counts
from mmcell.utils import load_config, track

IMAGE_SUFFIXES = {'.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff'}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('inputs', nargs='+', help='image files, folders or glob patterns')
    parser.add_argument('--classifier', nargs=2, metavar=('CONFIG', 'CHECKPOINT'))
    parser.add_argument('--detector', nargs=2, metavar=('CONFIG', 'CHECKPOINT'))
    parser.add_argument('--out-dir', default='work_dirs/infer', help='where the files go')
    parser.add_argument('--topk', type=int, default=3, help='classes per image (classification)')
    parser.add_argument('--score-thr', type=float, default=0.5, help='detection score threshold')
    parser.add_argument('--tile-size', nargs=2, type=int, metavar=('H', 'W'),
                        help='detect on tiles of this size when an image is larger')
    parser.add_argument('--overlap', type=float, default=0.3, help='tile overlap')
    parser.add_argument('--white-class', default='WBC',
                        help='detector class whose cells are classified (smear pipeline)')
    parser.add_argument('--coverage', type=coverage_arg,
                        help="conformal coverage for a classifier's trust state, in (0, 1) "
                        "(default: the state's own)")
    parser.add_argument('--correct-counts', action='store_true',
                        help="also give counts corrected for the classifier's confusions on its "
                        'validation split (needs its trust state; smear pipeline)')
    parser.add_argument('--no-pictures', action='store_true',
                        help="don't draw the fields (fields/*.png)")
    parser.add_argument('--report', action='store_true',
                        help='also write the review page (review.html), the white-cell crops '
                        'and run.json (needs --detector and --classifier)')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if not (args.classifier or args.detector):
        parser.error('give --classifier, --detector, or both')
    if args.report and not (args.classifier and args.detector):
        parser.error('--report reviews a smear run: give both --detector and --classifier')
    if args.correct_counts and not (args.classifier and args.detector):
        parser.error('--correct-counts corrects a differential count: give both --detector and '
                     '--classifier')
    if args.report and args.no_pictures:
        parser.error('--report shows the field pictures: leave out --no-pictures')
    return args


def coverage_arg(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f'{text} is not between 0 and 1 (exclusive)')
    return value


def collect_images(inputs):
    """Image paths from files, folders and glob patterns, in the order given."""
    paths = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob('*') if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise SystemExit(f'error: folder {item} holds no images '
                                 f'({", ".join(sorted(IMAGE_SUFFIXES))})')
            paths += found
        elif path.is_file():
            paths.append(path)
        elif glob.has_magic(item):
            found = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not found:
                raise SystemExit(f'error: no files match {item}')
            paths += found
        else:
            raise SystemExit(f'error: {item} does not exist')
    return [str(p) for p in paths]


def read_images(paths, skipped):
    """Yield (path, BGR image); unreadable files go to ``skipped`` as (path, reason)."""
    for path in paths:
        try:
            img = mmcv.imread(path)
        except Exception as err:  # cv2/PIL raise many kinds on a broken file
            img, reason = None, str(err)
        else:
            reason = 'not an image, or truncated'
        if img is None:
            print(f'warning: skipped {path}: {reason}', file=sys.stderr)
            skipped.append((path, reason))
            continue
        yield path, img


def write_csv(path, header, rows):
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    print(f'wrote {path}')


def run_classification(args, paths, out_dir, skipped):
    classifier = init_classifier(load_config(args.classifier[0]), args.classifier[1],
                                 device=args.device)
    rows = []
    for path, img in track(read_images(paths, skipped), total=len(paths),
                           description=f'classifying {len(paths)} images'):
        ranked = classify(classifier, [img], topk=args.topk)[0]
        rows.append([path] + [v for name, prob in ranked for v in (name, f'{prob:.4f}')])
    k = min(args.topk, len(classifier.classes))
    header = ['image'] + [f'{key}_{i}' for i in range(1, k + 1) for key in ('class', 'score')]
    write_csv(out_dir / 'classification.csv', header, rows)


def run_detection(args, paths, out_dir, skipped):
    detector = init_detector(load_config(args.detector[0]), args.detector[1], device=args.device)
    classes = detector.model.dataset_meta['classes']
    classifier = None
    if args.classifier:
        classifier = init_classifier(load_config(args.classifier[0]), args.classifier[1],
                                     device=args.device)
    confusion = correction_confusion(args, classifier) if args.correct_counts else None
    tile_size = tuple(args.tile_size) if args.tile_size else None
    run = None
    if args.report or not args.no_pictures:
        run = SmearRun(out_dir, classifier.classes if classifier else [], args.white_class,
                       crops=args.report, classifier=' '.join(args.classifier or ['none']),
                       detector=' '.join(args.detector))
    cells, counts = [], []
    for path, img in track(read_images(paths, skipped), total=len(paths),
                           description=f'{"counting" if classifier else "detecting"} cells on '
                           f'{len(paths)} images'):
        if classifier is None:
            found = detect(detector, img, args.score_thr, tile_size, args.overlap)
            image_cells = [dict(box=b.tolist(), label=n, score=s)
                           for b, n, s in zip(found['boxes'], found['labels'], found['scores'])]
            image_counts = {name: found['labels'].count(name) for name in classes}
        else:
            result = count_cells(detector, classifier, img, args.white_class, args.score_thr,
                                 tile_size, args.overlap, coverage=args.coverage)
            image_cells, image_counts = result['cells'], result['counts']
        if run is not None:
            run.add_field(path, img, image_cells, crops=[
                crop_cell(img, c['box']) for c in image_cells if 'cell_class' in c])
        cells += [dict(image=path, **cell) for cell in image_cells]
        counts.append(dict(image=path, **image_counts))
    stem = 'detections' if classifier is None else 'cells'
    header = ['image', 'label', 'score', 'x1', 'y1', 'x2', 'y2']
    rows = [[c['image'], c['label'], f"{c['score']:.4f}", *(f'{v:.1f}' for v in c['box'])]
            for c in cells]
    if classifier is not None:  # white cells: their class; other cells: blank
        header += ['cell_class', 'cell_score']
        for row, c in zip(rows, cells):
            row += [c['cell_class'], f"{c['cell_score']:.4f}"] if 'cell_class' in c else ['', '']
    write_csv(out_dir / f'{stem}.csv', header, rows)
    (out_dir / f'{stem}.json').write_text(json.dumps(dict(cells=cells, counts=counts), indent=1))
    print(f"wrote {out_dir / f'{stem}.json'}")
    header = list(counts[0]) if counts else ['image', *classes]
    write_csv(out_dir / 'counts.csv', header, [[c[k] for k in header] for c in counts])
    if classifier is not None:
        write_differential(out_dir / 'differential.csv', cells, classifier.classes, confusion)
    if run is not None:
        print(f"wrote {len(run.record['fields'])} field pictures to {out_dir / 'fields'}")
    if args.report:
        for path, reason in skipped:
            run.add_skipped(path, reason)
        print(f'wrote {write_review_page(run.write(), out_dir)} (open it in a browser)')
    else:  # a page left by an earlier --report run here would show this run's pictures
        for name in ('review.html', 'run.json'):
            if (out_dir / name).is_file():
                (out_dir / name).unlink()
                print(f'removed {out_dir / name} of an earlier run (this run has no --report)')
    return counts


def correction_confusion(args, classifier):
    """The validation confusion matrix of the classifier's trust state, at the run's coverage."""
    state = classifier.trust_state
    checkpoint = args.classifier[1]
    if state is None:
        raise SystemExit(f'error: --correct-counts needs a trust state beside {checkpoint} '
                         '(tools/analysis_tools/fit_trust.py CONFIG CHECKPOINT)')
    if state.confusion is None:
        raise SystemExit(f'error: the trust state {state.source} has no validation confusion '
                         'matrix (fitted by an older mmcell): fit it again with fit_trust.py')
    if args.coverage is not None and args.coverage != state.coverage:
        raise SystemExit(f'error: the confusion matrix of {state.source} was counted at coverage '
                         f'{state.coverage:g}, this run asks {args.coverage:g}: fit the state '
                         f'at {args.coverage:g} (fit_trust.py --coverage) or leave out --coverage')
    return state.confusion


def write_differential(path, cells, classes, confusion=None):
    """The white cells of the whole run as a differential count, printed and written."""
    diff = differential_counts([c['cell_class'] for c in cells if 'cell_class' in c], classes,
                               confusion=confusion)
    rows = [[r.name, r.count, f'{r.percent:.1f}', f'{r.ci_low:.1f}', f'{r.ci_high:.1f}']
            + ([] if confusion is None else [f'{r.corrected_count:.1f}',
                                             f'{r.corrected_percent:.1f}'])
            for r in diff.rows]
    rows.append(['unidentified', diff.unidentified, f'{diff.unidentified_percent:.1f}',
                 *(f'{v:.1f}' for v in diff.unidentified_ci)]
                + ([] if confusion is None else ['', '']))
    print(f'Differential of {diff.identified} identified white cells ({diff.unidentified} '
          'unidentified, percentage of all white cells; 95% intervals: exact binomial'
          + ('' if confusion is None else "; corrected for the validation split's confusions, "
             'unidentified cells included, by non-negative least squares') + '):\n'
          + diff.table())
    header = ['class', 'count', 'percent', 'ci95_low', 'ci95_high']
    write_csv(path, header + ([] if confusion is None else ['corrected_count',
                                                            'corrected_percent']), rows)


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    paths = collect_images(args.inputs)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    skipped = []
    if args.detector:
        run_detection(args, paths, out_dir, skipped)
    else:
        run_classification(args, paths, out_dir, skipped)
    print(f'{len(paths) - len(skipped)} of {len(paths)} images done'
          + (f'; {len(skipped)} skipped (unreadable): see the warnings above' if skipped else ''))


if __name__ == '__main__':
    main()
