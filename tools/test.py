"""Test (and evaluate) a checkpoint with an mmpretrain- or mmdet-scope config.

Every test also prints mmcell's per-class report and writes it (CSV, JSON) with a picture (PNG)
to the run's log folder: for classification, Wang et al. (2023) Table 6 and the confusion matrix
(``ClassificationReport``); for detection, Song et al. (2021) Tables 3/4/7 (recall, precision
and F1 at score 0.5, AP, mAP) and the PR curves (``DetectionReport``). A classifier whose
checkpoint has a trust state beside it (``tools/analysis_tools/fit_trust.py``) also gets its trust
report (``TrustMetric``: calibration, conformal sets, open-set figures), in the same pass.
"""
import argparse
import os
import os.path as osp

import mmengine
from mmengine.config import ConfigDict, DictAction
from mmengine.registry import METRICS, RUNNERS
from mmengine.runner import Runner

import mmcell  # noqa: F401 (registers components)
from mmcell.compat import (finish_distributed, install, quiet_known_warnings,
                           setup_cpu_distributed)
from mmcell.engine import convert_for_cpu_inference
from mmcell.utils import config_scope, load_config, set_work_dir

# What differs between the scopes: the metric that dumps predictions and the
# visualization hook's switches.
DUMP_METRIC = {'mmpretrain': 'DumpResults', 'mmdet': 'mmdet.DumpDetResults'}
# mmcell's per-class report of each scope (paper tables, confusion matrix or PR curves).
REPORT_METRIC = {'mmpretrain': 'ClassificationReport', 'mmdet': 'DetectionReport'}


def parse_args():
    parser = argparse.ArgumentParser(description='Test a model (mmpretrain or mmdet scope)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument('--out', help='dump the predictions to this pickle file')
    parser.add_argument(
        '--out-item', choices=['metrics', 'pred'], default='pred',
        help='what --out holds: the predictions (default) or the metrics')
    parser.add_argument('--show-dir', help='save images with predictions drawn in this dir')
    parser.add_argument('--show', action='store_true', help='show predictions in a window')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds each shown image stays')
    parser.add_argument('--interval', type=int, default=1, help='draw every n-th image')
    parser.add_argument('--amp', action='store_true', help='mixed precision inference')
    parser.add_argument(
        '--tta', action='store_true',
        help='test-time augmentation, for configs that define tta_model and tta_pipeline')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs as in mmengine')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument(
        '--trust', help='a classifier\'s trust state (tools/analysis_tools/fit_trust.py); '
        'default: the one beside the checkpoint, if any')
    parser.add_argument(
        '--unknown-classes', nargs='+', metavar='CLASS',
        help='with a trust state: all cells of these classes (which the model was not trained '
        'on, e.g. a left-out class) are the unknown cells of the open-set figures')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg, args, scope):
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise ValueError(f'--show/--show-dir need a visualization hook in default_hooks of '
                         f'{args.config}')
    hook.update(show=args.show, wait_time=args.wait_time, interval=args.interval)
    if scope == 'mmpretrain':
        hook.update(enable=True, out_dir=args.show_dir)
    else:
        hook.update(draw=True, test_out_dir=args.show_dir)


def enable_tta(cfg, args):
    missing = [key for key in ('tta_model', 'tta_pipeline') if key not in cfg]
    if missing:
        raise ValueError(f'--tta: {args.config} defines no {" or ".join(missing)}, so this model '
                         'has no test-time augmentation')
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # wrappers such as ClassBalancedDataset
        dataset = dataset.dataset
    dataset.pipeline = cfg.tta_pipeline


def trust_metrics(cfg, args, runner):
    """The trust report (calibration, conformal sets, open-set figures) of a classifier whose
    checkpoint has a trust state, in the test pass itself.

    Registers the ``TrustOutputsHook`` (each cell's logits and pre-logit features, the unknown
    cells of ``--unknown-classes``) and returns the ``TrustMetric`` to add to the test evaluator,
    which logs the report and writes it to the run's log folder; returns [] without a state.
    """
    from mmcell.evaluation import TrustOutputsHook
    from mmcell.uncertainty import split_loader, trust_state_path
    path = args.trust or trust_state_path(args.checkpoint)
    explicit = args.trust or args.unknown_classes
    if not osp.isfile(path):
        if explicit:
            raise SystemExit(f'error: no trust state {path}: fit one with '
                             'tools/analysis_tools/fit_trust.py')
        return []
    if args.tta:
        if explicit:
            raise SystemExit('error: --trust/--unknown-classes measure the classifier itself; '
                             'leave out --tta')
        print(f'no trust report with --tta (the trust state {path} is for the classifier '
              'without test-time augmentation)')
        return []
    unknown = split_loader(cfg, 'test', args.unknown_classes) if args.unknown_classes else None
    runner.register_hook(TrustOutputsHook(unknown_dataloader=unknown))
    return [dict(type='TrustMetric', state=str(path), out_dir=runner.log_dir)]


def test(args):
    cfg = load_config(args.config)
    scope = config_scope(cfg)
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg.fp16 = True
    if args.show or args.show_dir:
        enable_visualization(cfg, args, scope)
    if args.tta:
        enable_tta(cfg, args)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    convert_for_cpu_inference(runner.model)  # CvT layers' CPU fast paths; others unchanged
    quiet_known_warnings(runner.logger)
    if (args.trust or args.unknown_classes) and scope != 'mmpretrain':
        raise SystemExit(f'error: --trust/--unknown-classes are for classifiers; {args.config} '
                         f'is a {scope} config')
    evaluator = runner.test_evaluator
    # A config saved by a run (seed_sweep.py, cross_validate.py) may hold the report already: it
    # then writes here instead of into the run's folder, and is not added twice.
    reports = [m for m in evaluator.metrics if type(m).__name__ == REPORT_METRIC[scope]]
    for report in reports + [m for m in evaluator.metrics
                             if type(m).__name__ == 'SourceDetectionReport']:
        report.out_dir = runner.log_dir
    extra = [] if reports else [dict(type=REPORT_METRIC[scope], out_dir=runner.log_dir)]
    if scope == 'mmpretrain':
        extra += trust_metrics(cfg, args, runner)
    if args.out and args.out_item == 'pred':
        extra.append(dict(type=DUMP_METRIC[scope], out_file_path=args.out))
    evaluator.metrics.extend(METRICS.build(metric) for metric in extra)
    evaluator.dataset_meta = runner.test_dataloader.dataset.metainfo  # reach the added metrics
    metrics = runner.test()
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)


def main():
    args = parse_args()
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    test(args)
    finish_distributed()  # once test() has let go of the runner, which holds the process group


if __name__ == '__main__':
    main()
