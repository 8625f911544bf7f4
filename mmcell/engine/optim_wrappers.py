from contextlib import contextmanager

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
        **kwargs: As for :class:`mmengine.optim.OptimWrapper`.
    """

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), autocast(dtype=torch.bfloat16):
            yield
