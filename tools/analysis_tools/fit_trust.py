"""Fit a classifier's trust state: calibration, conformal sets, trust scores and thresholds.

On the config's validation split it fits temperature scaling (or vector scaling, or whichever
of the two has the lower negative log-likelihood on held-out halves of the validation split:
``--calibration auto``) and keeps the per-class conformal scores; on the training split (with
the test pipeline) it fits the Mahalanobis class means and covariance of the head's pre-logit
features; each score's threshold accepts ``--accept`` of the validation cells. The state is
saved beside the checkpoint (``epoch_8.pth`` -> ``epoch_8.trust.pth``), where ``tools/test.py``,
``tools/infer.py`` and ``mmcell.apis.CellClassificationInferencer`` find it.

Example:
    python tools/analysis_tools/fit_trust.py configs/cellvit/cellvit_pbc_quick.py \\
        work_dirs/cellvit_pbc_quick/epoch_8.pth --coverage 0.95
"""
import argparse

import torch

from mmcell.apis import build_model
from mmcell.compat import install, quiet_known_warnings
from mmcell.uncertainty import (TrustState, brier_score, collect_outputs,
                                expected_calibration_error, model_fingerprint, split_loader,
                                trust_state_path)
from mmcell.uncertainty.calibration import (apply_vector_scaling, fit_temperature,
                                            fit_vector_scaling)
from mmcell.utils import config_scope, load_config


def probability(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f'{text} is not between 0 and 1 (exclusive)')
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a classification config')
    parser.add_argument('checkpoint', help='its trained checkpoint')
    parser.add_argument('--coverage', type=probability, default=0.95,
                        help='default coverage of the conformal prediction sets (default 0.95)')
    parser.add_argument('--accept', type=probability, default=0.95,
                        help='share of validation cells each score threshold accepts')
    parser.add_argument('--calibration', choices=['temperature', 'vector', 'auto', 'none'],
                        default='auto', help='how the probabilities are calibrated')
    parser.add_argument('--reject-by', nargs='*', choices=['mahalanobis', 'max_softmax',
                                                           'negative_energy'],
                        help='scores whose threshold also makes a cell unidentified '
                        '(default: mahalanobis)')
    parser.add_argument('--out', help='where the state goes (default: beside the checkpoint)')
    return parser.parse_args(argv)


def held_out_nll(logits, labels, method):
    """Mean NLL of ``method`` fitted on one half of the cells and scored on the other."""
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    halves = order[:len(order) // 2], order[len(order) // 2:]
    losses = []
    for fit, score in (halves, halves[::-1]):
        if method == 'temperature':
            scored = logits[score] / fit_temperature(logits[fit], labels[fit])
        else:
            scored = apply_vector_scaling(logits[score], *fit_vector_scaling(logits[fit],
                                                                             labels[fit]))
        losses.append(torch.nn.functional.cross_entropy(scored, labels[score]).item())
    return sum(losses) / 2


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    cfg = load_config(args.config)
    if config_scope(cfg) != 'mmpretrain':
        raise SystemExit(f'{args.config} is a {cfg.default_scope} config; trust states are for '
                         'classifiers (mmpretrain scope)')
    model = build_model(cfg, args.checkpoint)
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    if not classes:
        raise SystemExit(f'{args.checkpoint} does not say its classes (no dataset_meta): use a '
                         'checkpoint saved by a training run')
    val = collect_outputs(model, split_loader(cfg, 'val'), description='validation batches')
    train = collect_outputs(model, split_loader(cfg, 'train'), description='training batches')
    calibration = args.calibration
    if calibration == 'auto':
        nll = {m: held_out_nll(val.logits, val.labels, m) for m in ('temperature', 'vector')}
        calibration = min(nll, key=nll.get)
        print('held-out validation NLL: ' + ', '.join(f'{m} {v:.4f}' for m, v in nll.items())
              + f' -> {calibration}')
    state = TrustState.fit(
        model_fingerprint(model, classes, args.config), val.logits, val.labels,
        train_features=train.features, train_labels=train.labels, val_features=val.features,
        calibration=calibration, coverage=args.coverage, accept=args.accept,
        reject_by=args.reject_by)
    path = args.out or trust_state_path(args.checkpoint)
    state.save(path)
    raw, calibrated = val.logits.softmax(1), state.calibrate(val.logits)
    print(f'{len(val.labels)} validation cells, {len(train.labels)} training cells; '
          f'calibration {state.calibration}'
          + (f' (T = {state.temperature:.3f})' if state.calibration == 'temperature' else ''))
    print(f'validation ECE {100 * expected_calibration_error(raw, val.labels):.2f}% -> '
          f'{100 * expected_calibration_error(calibrated, val.labels):.2f}%, Brier '
          f'{brier_score(raw, val.labels):.4f} -> {brier_score(calibrated, val.labels):.4f} '
          '(fitted on these cells: see tools/test.py for the test split)')
    print('thresholds accepting {:.0%} of validation cells: {}'.format(
        args.accept, ', '.join(f'{k} {v:.4g}' for k, v in state.thresholds.items())))
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
