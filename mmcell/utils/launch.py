"""What ``tools/train.py`` and ``tools/test.py`` share: the config's scope, its work dir and
the process group on machines without a GPU."""
import os
import os.path as osp

import torch
import torch.distributed as dist

SCOPES = ('mmpretrain', 'mmdet')


def config_scope(cfg):
    """The OpenMMLab scope a config runs in: ``'mmpretrain'`` or ``'mmdet'``.

    Args:
        cfg (mmengine.Config): A loaded config.

    Returns:
        str: Its ``default_scope``.

    Raises:
        ValueError: The config names no scope, or one mmcell has no tools for.
    """
    scope = cfg.get('default_scope')
    if scope not in SCOPES:
        raise ValueError(
            f'config {cfg.filename} has default_scope={scope!r}; mmcell tools run configs whose '
            f"default_scope is one of {SCOPES} (inherit from an 'mmpretrain::' or 'mmdet::' "
            'base config, or set it).')
    return scope


def set_work_dir(cfg, work_dir=None):
    """Set ``cfg.work_dir``: the argument, else the config's, else ``work_dirs/<config name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(cfg.filename))[0])


def init_cpu_distributed(launcher):
    """Start a gloo process group when launched by torchrun on a machine without a GPU.

    mmengine's ``init_dist`` binds each process to a CUDA device and the stock configs ask for
    nccl; neither exists on a CPU machine. The Runner skips its own initialisation when a
    process group is already up, so this one is used instead. With a GPU, nothing happens.

    Args:
        launcher (str): The ``--launcher`` argument.
    """
    if launcher == 'pytorch' and not torch.cuda.is_available() and not dist.is_initialized():
        if 'RANK' not in os.environ:
            raise RuntimeError('--launcher pytorch expects to be started by torchrun '
                               '(tools/dist_train.sh or tools/dist_test.sh)')
        dist.init_process_group(backend='gloo')
