"""What ``tools/train.py`` and ``tools/test.py`` share: the config's scope, its work dir and
the process group on machines without a GPU."""
import os
import os.path as osp
import subprocess

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel

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


def setup_cpu_distributed(cfg):
    """Prepare a torchrun-launched run on a machine without a GPU; with a GPU, do nothing.

    mmengine's ``init_dist`` binds each process to a CUDA device, the stock configs ask for nccl,
    and the Runner wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; none of that works
    on CPU. For tasks started by torchrun (``--launcher pytorch``) or by Slurm's ``srun``
    (``--launcher slurm``), this starts a gloo process group (the Runner then skips its own
    start-up) and has the model wrapped in :class:`mmcell.engine.CPUDistributedDataParallel`
    (no device ids; with ``sync_bn='torch'``, BatchNorm synchronised over gloo).

    Args:
        cfg (mmengine.Config): The config, with ``launcher`` set.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher not in ('pytorch', 'slurm') or torch.cuda.is_available():
        return
    if launcher == 'slurm':
        slurm_environment()
    elif 'RANK' not in os.environ:
        raise RuntimeError('--launcher pytorch expects to be started by torchrun '
                           '(tools/dist_train.sh or tools/dist_test.sh)')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    if wrapper['type'] in ('MMDistributedDataParallel', MMDistributedDataParallel):
        wrapper['type'] = 'CPUDistributedDataParallel'
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')


def slurm_environment():
    """Set torch's rendezvous variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``) from Slurm's for a task started by ``srun``.

    ``MASTER_ADDR`` is kept if set, else the first host of ``SLURM_NODELIST`` (``scontrol``);
    ``MASTER_PORT`` is kept if set, else 29500.
    """
    try:
        rank, world = os.environ['SLURM_PROCID'], os.environ['SLURM_NTASKS']
    except KeyError as err:
        raise RuntimeError(f'--launcher slurm expects to be started by srun ({err.args[0]} is '
                           'not set)') from None
    os.environ.update(RANK=rank, WORLD_SIZE=world,
                      LOCAL_RANK=os.environ.get('SLURM_LOCALID', '0'))
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        hosts = subprocess.run(['scontrol', 'show', 'hostnames', os.environ['SLURM_NODELIST']],
                               capture_output=True, text=True, check=True).stdout.split()
        os.environ['MASTER_ADDR'] = hosts[0]
