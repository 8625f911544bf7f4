"""Data-parallel training in processes without a GPU (gloo), with BatchNorm synchronised as on GPU.

torch's ``SyncBatchNorm`` refuses CPU tensors, so ``sync_bn='torch'`` (or ``norm_cfg=dict(
type='SyncBN')``) stops a CPU run at its first step, and without it every process normalises
over its own images only: two processes with 16 images each then train a different model from
one process with 32. ``tools/train.py`` wraps the model in :class:`CPUDistributedDataParallel`
when it runs under torchrun without a GPU; that wrapper turns torch's ``SyncBatchNorm`` layers
into :class:`CPUSyncBatchNorm`, which reduces its statistics over gloo.
"""
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn as nn
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
        As for ``nn.SyncBatchNorm``; ``process_group`` defaults to the whole world.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f'expected at least 2D input (got {input.dim()}D input)')

    def forward(self, input):
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
    """

    def __init__(self, module, **kwargs):
        kwargs.setdefault('device_ids', None)
        super().__init__(module=to_cpu_sync_batchnorm(module), **kwargs)


def to_cpu_sync_batchnorm(module):
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
