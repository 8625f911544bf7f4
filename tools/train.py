"""Train a model from an mmpretrain- or mmdet-scope config (the config's default_scope picks)."""
import argparse
import os

from mmengine.config import DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmcell  # noqa: F401 (registers components)
from mmcell.compat import (finish_distributed, install, latest_checkpoint, quiet_known_warnings,
                           setup_cpu_distributed)
from mmcell.utils import config_scope, enable_amp, load_config, set_work_dir


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model (mmpretrain or mmdet scope)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in the work dir if none '
        'is given')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision: float16 with loss scaling on GPU, bfloat16 on CPU')
    parser.add_argument('--no-validate', action='store_true', help='skip validation in training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate by the actual over the config\'s base batch size')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs as in mmengine (e.g. '
        'train_cfg.max_epochs=2 model.head.num_classes=8)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg, args):
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.work_dir)
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.amp:
        enable_amp(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, latest_checkpoint(cfg.work_dir)
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError(f'--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=...) '
                             f'in {args.config}')
        cfg.auto_scale_lr.enable = True
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def train(args):
    cfg = merge_args(load_config(args.config), args)
    config_scope(cfg)
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    quiet_known_warnings(runner.logger)
    runner.train()


def main():
    args = parse_args()
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    train(args)
    finish_distributed()  # once train() has let go of the runner, which holds the process group


if __name__ == '__main__':
    main()
