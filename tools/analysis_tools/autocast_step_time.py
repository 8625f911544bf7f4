"""How much faster does a config train with parts of its model under bf16 autocast?

Times the training step (forward, losses, backward, optimizer step) of a config on real batches
of its train dataloader: in float32, and with each set of parts under autocast as
``AutocastModulesHook`` trains them (the rest, mmcv's RoI ops and NMS among it, in float32). The
variants take turns step by step on the same batches and the same model, so other work on the
machine slows each alike. ``--channels-last`` adds each set of parts again with their weights
held channels-last (``AutocastModulesHook(channels_last=True)``). Prints each variant's median
step time and its speed-up over float32, and writes them to ``--out`` as JSON. The weights change
as the steps train them, as in a run.

Where the CPU has no bf16 instructions (AVX-512-BF16 or AMX), torch emulates them and every
autocast variant is many times slower than float32.

Example:
    MMCELL_DATA=../shared/data OMP_NUM_THREADS=1 \\
        python tools/analysis_tools/autocast_step_time.py \\
        configs/cs_arfpn/cs_arfpn_r50_bccd_cpu.py \\
        --parts backbone,neck backbone,neck,rpn_head,roi_head.bbox_head --channels-last
"""
import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

import torch
from mmengine.config import DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmcell.apis import build_model
from mmcell.compat import install, quiet_known_warnings
from mmcell.engine import AutocastModulesHook, autocast_modules
from mmcell.utils import config_scope, load_config, track

FLOAT32 = 'float32'
CHANNELS_LAST = ', channels-last'


def hook_parts(cfg):
    """The parts the config's own ``AutocastModulesHook`` puts under autocast (the hook's
    defaults where it has none)."""
    hooks = [h for h in cfg.get('custom_hooks') or [] if h.get('type') == 'AutocastModulesHook']
    return AutocastModulesHook(**{k: v for k, v in (hooks or [{}])[0].items()
                                  if k != 'type'}).modules


def time_steps(model, optim_wrapper, batches, variants, steps, warmup=1):
    """Seconds of each training step of each variant, taking turns.

    Args:
        model (nn.Module): The model, in train mode.
        optim_wrapper: Its optimizer wrapper.
        batches (list): Data batches, used in turn.
        variants (dict): Name -> (the submodule names to put under autocast (empty: float32),
            whether to hold their weights channels-last).
        steps (int): Timed steps of each variant.
        warmup (int): Untimed rounds first. Defaults to 1.

    Returns:
        dict: Name -> the seconds of its timed steps.
    """
    seconds = {name: [] for name in variants}
    rounds = track(range(warmup + steps), description=f'{warmup + steps} rounds of '
                   f'{len(variants)} training steps')
    for step in rounds:
        for name, (parts, channels_last) in variants.items():
            restore = autocast_modules(model, parts, channels_last=channels_last)
            start = time.perf_counter()
            model.train_step(batches[step % len(batches)], optim_wrapper)
            took = time.perf_counter() - start
            restore()
            if step >= warmup:
                seconds[name].append(took)
    return seconds


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a training config (detection or classification)')
    parser.add_argument('--parts', nargs='+', metavar='NAMES',
                        help='sets of submodules to run under autocast, each comma-separated '
                        "(default: the config's AutocastModulesHook modules, else the hook's "
                        'default); float32 is always measured')
    parser.add_argument('--channels-last', action='store_true',
                        help='also time each set of parts with its weights channels-last')
    parser.add_argument('--steps', type=int, default=5, help='timed steps of each (default 5)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed rounds first (default 1)')
    parser.add_argument('--batches', type=int, default=3,
                        help='train batches to take turns on (default 3)')
    parser.add_argument('--out', help='JSON file for the figures (default: '
                        'work_dirs/autocast_step_time/<config name>.json)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in tools/train.py')
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batches < 1 or args.warmup < 0:
        parser.error('--steps and --batches must be at least 1, --warmup at least 0')
    return args


def main(argv=None):
    args = parse_args(argv)
    quiet_known_warnings()
    install()  # mmengine loads and saves checkpoints safely (mmcell.compat)
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    parts = ([tuple(filter(None, names.split(','))) for names in args.parts] if args.parts
             else [hook_parts(cfg)])
    variants = {FLOAT32: ((), False)}
    for names in parts:
        variants['+'.join(names)] = (names, False)
        if args.channels_last:
            variants['+'.join(names) + CHANNELS_LAST] = (names, True)

    model = build_model(cfg).train()
    for names in parts:  # a wrong name is refused before anything is loaded or timed
        autocast_modules(model, names)()
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(num_workers=0, persistent_workers=False)
    with DefaultScope.overwrite_default_scope(config_scope(cfg)):
        loader = Runner.build_dataloader(loader_cfg)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        batches = list(itertools.islice(loader, args.batches))
        seconds = time_steps(model, optim_wrapper, batches, variants, args.steps, args.warmup)

    median = {name: statistics.median(times) for name, times in seconds.items()}
    print(f'{args.config}: training step, batch {loader_cfg.batch_size}, {torch.get_num_threads()} '
          f'threads, median of {args.steps} (variants taking turns):')
    for name, value in median.items():
        print(f'  {name:<65} {value:7.2f} s  {median[FLOAT32] / value:.2f}x')
    out = Path(args.out or Path('work_dirs', 'autocast_step_time',
                                Path(args.config).stem + '.json'))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(
        config=args.config, threads=torch.get_num_threads(), batch_size=loader_cfg.batch_size,
        variants={name: dict(parts=list(variants[name][0]), channels_last=variants[name][1],
                             median_s=median[name],
                             speedup=median[FLOAT32] / median[name], seconds=seconds[name])
                  for name in variants}), indent=1))
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
