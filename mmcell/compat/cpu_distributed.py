"""Mend: data-parallel training in processes without a GPU (gloo), BatchNorm synchronised as on GPU.

Upstream: mmengine 0.10.7's ``init_dist`` binds every process to a CUDA device, the stock configs
ask for nccl, and its Runner wraps the model in ``MMDistributedDataParallel`` with
``device_ids=[LOCAL_RANK]``; torch's ``SyncBatchNorm`` refuses CPU tensors.
Why: so that ``tools/dist_train.sh`` and ``--launcher slurm`` train on CPU machines, and N processes
with batch B/N train the model one process with batch B trains.
When it can go: when mmengine starts a gloo group and wraps without device ids on CPU, and torch's
``SyncBatchNorm`` runs on CPU (neither is the case in mmengine 0.10.7 / torch 2.13).

torch's ``SyncBatchNorm`` refuses CPU tensors, so ``sync_bn='torch'`` (or ``norm_cfg=dict(
type='SyncBN')``) stops a CPU run at its first step, and without it every process normalises
over its own images only: two processes with 16 images each then train a different model from
one process with 32. ``tools/train.py`` wraps the model in :class:`CPUDistributedDataParallel`
when it runs under torchrun without a GPU; that wrapper turns torch's ``SyncBatchNorm`` layers
into :class:`CPUSyncBatchNorm`, which reduces its statistics over gloo.
"""
import gc
import os
import subprocess
from typing import Optional

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.modules.batchnorm import _BatchNorm


class CPUSyncBatchNorm(_BatchNorm):
    """BatchNorm synchronised over the processes of a CPU (gloo) run.

    In training with more than one process, the per-channel sum, sum of squares and count of
    every process's batch are summed with a differentiable all-reduce (float64, so the variance
    as E[x^2] - E[x]^2 keeps its precision) and each process normalises with the statistics of
    the whole batch; the gradient flows back through the reduction to every process's inputs.
    In evaluation or in one process it is plain BatchNorm. The parameters, buffers and
    state-dict keys are those of ``nn.BatchNorm2d``. (Not a subclass of ``nn.SyncBatchNorm``:
    DDP refuses those on CPU.)

    Args:
        num_features (int): Channels.
        eps (float): Added to the variance. Defaults to 1e-5.
        momentum (float, optional): Of the running statistics; None for a cumulative average.
            Defaults to 0.1.
        affine (bool): Learnable scale and shift. Defaults to True.
        track_running_stats (bool): Keep running statistics. Defaults to True.
        process_group (ProcessGroup, optional): The processes to synchronise over.
            Defaults to None (the whole world).
        device, dtype: Of the parameters and buffers. Default to None (torch's defaults).

    Example:
        >>> import torch
        >>> from mmcell.compat import CPUSyncBatchNorm
        >>> bn = CPUSyncBatchNorm(8)  # in one process: plain BatchNorm
        >>> out = bn(torch.randn(4, 8, 5, 5))
        >>> out.shape, round(out.mean().item(), 4) == 0
        (torch.Size([4, 8, 5, 5]), True)
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Optional[dist.ProcessGroup] = None, device=None,
                 dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f'expected at least 2D input (got {input.dim()}D input)')

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if (not self.training or not dist.is_initialized()
                or dist.get_world_size(self.process_group) == 1):
            return super().forward(input)
        self._check_input_dim(input)
        channels = input.size(1)
        dims = [0, *range(2, input.dim())]
        stats = torch.cat([
            input.sum(dims, dtype=torch.float64),
            input.pow(2).sum(dims, dtype=torch.float64),
            input.new_tensor([input.numel() // channels], dtype=torch.float64)])
        stats = dist_fn.all_reduce(stats, group=self.process_group or dist.group.WORLD)
        count = stats[-1]
        mean = stats[:channels] / count
        var = stats[channels:2 * channels] / count - mean.pow(2)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None else
                          self.momentum)
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
                unbiased = var * count / (count - 1).clamp(min=1)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
        shape = (1, channels) + (1, ) * (input.dim() - 2)
        scale = torch.rsqrt(var + self.eps).to(input.dtype)
        out = (input - mean.to(input.dtype).view(shape)) * scale.view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's ``MMDistributedDataParallel`` for processes without a GPU.

    No device ids (the model stays on CPU), and every ``torch.nn.SyncBatchNorm`` in the model
    (what the config's ``sync_bn='torch'`` or ``norm_cfg=dict(type='SyncBN')`` builds) becomes
    a :class:`CPUSyncBatchNorm` with the same parameters and buffers.

    Args:
        module (nn.Module): The model.
        **kwargs: As for ``MMDistributedDataParallel``; ``device_ids`` defaults to None.

    Example:
        In a process started by ``tools/dist_train.sh`` on a CPU machine (``tools/train.py``
        selects this wrapper there, through :func:`setup_cpu_distributed`):

        >>> from mmengine.registry import MODEL_WRAPPERS
        >>> ddp = MODEL_WRAPPERS.build(dict(  # doctest: +SKIP
        ...     type='CPUDistributedDataParallel', module=model, broadcast_buffers=False))
    """

    def __init__(self, module: nn.Module, **kwargs) -> None:
        kwargs.setdefault('device_ids', None)
        super().__init__(module=to_cpu_sync_batchnorm(module), **kwargs)


def to_cpu_sync_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with every ``nn.SyncBatchNorm`` in it replaced by a :class:`CPUSyncBatchNorm`
    holding the same parameters and buffers."""
    if type(module) is nn.SyncBatchNorm:
        layer = CPUSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                 module.track_running_stats, module.process_group)
        layer.load_state_dict(module.state_dict())
        layer.train(module.training)
        for name, param in module.named_parameters(recurse=False):
            layer.get_parameter(name).requires_grad_(param.requires_grad)
        return layer
    for name, child in module.named_children():
        module.add_module(name, to_cpu_sync_batchnorm(child))
    return module


def setup_cpu_distributed(cfg: Config) -> None:
    """Prepare a torchrun-launched run on a machine without a GPU; with a GPU, do nothing.

    mmengine's ``init_dist`` binds each process to a CUDA device, the stock configs ask for nccl,
    and the Runner wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; none of that works
    on CPU. For tasks started by torchrun (``--launcher pytorch``) or by Slurm's ``srun``
    (``--launcher slurm``), this starts a gloo process group (the Runner then skips its own
    start-up) and has the model wrapped in :class:`CPUDistributedDataParallel`
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


def finish_distributed() -> None:
    """End a distributed run in step and join gloo's threads before the interpreter exits.

    Call it once the runner is out of reach (returned from the function that held it). Every
    process waits for the others; the runner's reference cycles are collected, so that the
    DDP wrapper, which holds the process group, is gone; then destroying the group joins gloo's
    worker threads. Without the collection the group outlives ``destroy_process_group`` and its
    threads run into interpreter shutdown, where a worker releasing its last finished work
    (whose captured thread-local state holds a Python object) must take the GIL and is killed:
    "terminate called without an active exception", 2 of 119 two-process CPU runs (core
    dump: ``ProcessGroupGloo::runLoop`` > ``~AsyncBarrierWork`` > ``~ThreadLocalState`` >
    ``gil_scoped_acquire`` > ``pthread_exit``). Nothing happens outside a distributed run.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        gc.collect()
        dist.destroy_process_group()


def slurm_environment() -> None:
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
