"""Mend: mixed precision without a GPU (``tools/train.py --amp`` on CPU).

Upstream: mmengine 0.10.7's ``AmpOptimWrapper`` asserts that a CUDA, NPU, MLU or MUSA device is
present, so ``--amp`` stops a CPU run before its first step.
Why: CPUs with AVX-512-BF16 or AMX run bfloat16 matmuls faster than float32; bfloat16 keeps
float32's exponent range, so it needs no loss scaling, only autocast.
When it can go: when mmengine's ``AmpOptimWrapper`` accepts CPU with ``dtype='bfloat16'``.
"""
from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """Mixed-precision training in bfloat16, on CPU as well as GPU.

    mmengine's ``AmpOptimWrapper`` refuses to start without a GPU. bfloat16 keeps float32's
    exponent range, so it needs no loss scaling: this wrapper only runs the forward pass under
    ``autocast(dtype=torch.bfloat16)`` on the model's device type and keeps the parameters,
    gradients and optimizer state in float32. On CPUs with AMX or AVX-512 BF16 this is where
    the speed-up is. ``tools/train.py --amp`` selects it when no GPU is present.

    Args:
        **kwargs: As for :class:`mmengine.optim.OptimWrapper` (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).

    Example:
        >>> import torch
        >>> from mmengine.registry import OPTIM_WRAPPERS
        >>> import mmcell
        >>> model = torch.nn.Linear(4, 2)
        >>> wrapper = OPTIM_WRAPPERS.build(dict(
        ...     type='BF16OptimWrapper', optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
        >>> with wrapper.optim_context(model):
        ...     out = model(torch.randn(3, 4))
        >>> out.dtype, model.weight.dtype
        (torch.bfloat16, torch.float32)
    """

    @contextmanager
    def optim_context(self, model: torch.nn.Module) -> Iterator[None]:
        with super().optim_context(model), autocast(dtype=torch.bfloat16):
            yield
