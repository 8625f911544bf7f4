"""Classify cell images, detect and count cells, or give a smear's differential count.

What runs depends on the models given:

* ``--classifier CONFIG CHECKPOINT`` only: top-k classes per image -> ``classification.csv``;
* ``--detector CONFIG CHECKPOINT`` only: boxes per image -> ``detections.csv``/``.json``, and
  cells per class per image -> ``counts.csv``;
* both: the smear pipeline (:class:`mmcell.apis.SmearInferencer`): detect cells, crop each white
  cell (``--white-class``), classify it -> ``cells.csv``/``.json`` and ``counts.csv`` (cells per
  detector class and white cells per classifier class, per image), and ``differential.csv``:
  the white cells of all images as a haematologist's differential: per leukocyte class the
  count, the percentage of the identified white cells and its exact binomial (Clopper-Pearson,
  as Rümke's table) 95% interval; unidentified cells apart; nucleated red cells per 100 white
  cells; cells classified as platelets apart (not white cells).

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
    python tools/infer.py smears/ \\
        --detector configs/lite_fpn/faster_rcnn_lite0_fpn_bccd-txl.py det.pth \\
        --classifier configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py cls.pth \\
        --tile-size 480 640 --out-dir work_dirs/infer --report
    python tools/infer.py 'cells/*.jpg' --topk 3 \\
        --classifier configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py cls.pth
"""
import argparse
import sys
from pathlib import Path

import mmcv

from mmcell.apis import CellClassificationInferencer, SmearInferencer
from mmcell.compat import install, quiet_known_warnings
from mmcell.engine import convert_for_cpu_inference
from mmcell.utils import track

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
    parser.add_argument('--batch-size', type=int, default=1,
                        help='fields per detector batch (smear pipeline)')
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
    import glob
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


def classify_images(args, paths, out_dir):
    """Top-k classes per image -> classification.csv; returns the unreadable images."""
    import csv
    classifier = CellClassificationInferencer(args.classifier[0], args.classifier[1],
                                              device=args.device, coverage=args.coverage)
    convert_for_cpu_inference(classifier.model)  # CvT layers' CPU fast paths; others unchanged
    k = min(args.topk, len(classifier.classes))
    rows, skipped = [], []
    for path in track(paths, description=f'classifying {len(paths)} images'):
        img = mmcv.imread(path) if Path(path).stat().st_size else None
        if img is None:
            print(f'warning: skipped {path}: not an image, or truncated', file=sys.stderr)
            skipped.append(path)
            continue
        scores = classifier.classify([img])[0]['pred_scores']
        top = scores.argsort(kind='stable')[::-1][:k]
        rows.append([path] + [v for i in top for v in (classifier.classes[i], f'{scores[i]:.4f}')])
    with open(out_dir / 'classification.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image'] + [f'{key}_{i}' for i in range(1, k + 1)
                                     for key in ('class', 'score')])
        writer.writerows(rows)
    print(f"wrote {out_dir / 'classification.csv'}")
    return skipped


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    paths = collect_images(args.inputs)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.detector:
        skipped = classify_images(args, paths, out_dir)
    else:
        smear = SmearInferencer(*args.detector, *(args.classifier or (None, None)),
                                device=args.device)
        if smear.classifier is not None:  # CvT layers' CPU fast paths; other models unchanged
            convert_for_cpu_inference(smear.classifier.model)
        if args.coverage is not None and smear.classifier is not None:
            smear.classifier.coverage = args.coverage
        try:
            result = smear(paths, batch_size=args.batch_size, out_dir=str(out_dir),
                           score_thr=args.score_thr, overlap=args.overlap,
                           tile_size=tuple(args.tile_size) if args.tile_size else None,
                           white_class=args.white_class, pictures=not args.no_pictures,
                           report=args.report, correct_counts=args.correct_counts)
        except ValueError as err:
            raise SystemExit(f'error: {err}') from None
        skipped = [path for path, _ in result['skipped']]
        timing = result['timing']
        if timing['fields']:
            print(f"detection: {timing['detection_s'] / timing['fields']:.2f} s per field"
                  + (f"; classification: {timing['cells']} white cells, "
                     f"{timing['cells'] / timing['classification_s']:.1f} per second"
                     if timing['cells'] else ''))
        if result['differential'] is not None:
            print(f'Differential of the white cells of {len(result["fields"])} fields (95% '
                  'intervals: exact binomial' + ("; corrected for the validation split's "
                                                  'confusions by non-negative least squares'
                                                  if args.correct_counts else '')
                  + '):\n' + result['differential'].table())
        print(f'wrote {", ".join(sorted(p.name for p in out_dir.iterdir() if p.is_file()))} '
              f'to {out_dir}' + (' (open review.html in a browser)' if args.report else ''))
    print(f'{len(paths) - len(skipped)} of {len(paths)} images done'
          + (f'; {len(skipped)} skipped (unreadable): see the warnings above' if skipped else ''))


if __name__ == '__main__':
    main()
