from typing import Any, Callable, Sequence

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}


def _to_float32(output: Any) -> Any:
    """Floating tensors in a (nested) output back to float32 in contiguous (NCHW) memory;
    everything else as it is."""
    if isinstance(output, torch.Tensor):
        if not output.is_floating_point():
            return output
        return output.to(torch.float32, memory_format=torch.contiguous_format)
    if isinstance(output, (list, tuple)):
        converted = [_to_float32(item) for item in output]
        return type(output)(*converted) if hasattr(output, '_fields') else type(output)(converted)
    if isinstance(output, dict):
        return type(output)({key: _to_float32(value) for key, value in output.items()})
    return output


def autocast_module(module: nn.Module,
                    dtype: torch.dtype = torch.bfloat16,
                    channels_last: bool = False) -> Callable[[], None]:
    """Make ``module`` compute under autocast and hand float32 outputs to what follows.

    Its forward runs inside ``torch.autocast(<its device>, dtype)``; floating outputs are cast
    back to float32 in contiguous memory, so the modules after it (mmcv's RoI and NMS ops, which
    have no bfloat16 CPU kernels) run as before. Calling it again on the same module changes
    nothing.

    Args:
        module (nn.Module): The module (e.g. a detector's backbone).
        dtype (torch.dtype): Autocast's dtype. Defaults to ``torch.bfloat16``.
        channels_last (bool): Also hold the module's 4-d weights in channels-last memory, the
            layout oneDNN's bfloat16 convolutions run fastest in on CPU; its convolutions then
            compute channels-last, and its outputs are handed on contiguous all the same
            (mmcv 2.1's CPU RoIAlign reads its input as NCHW memory and returns wrong values
            for a channels-last tensor). Defaults to False.

    Returns:
        Callable[[], None]: Puts the module's own forward (and memory layout) back; a no-op
        when the module was under autocast already.
    """
    if getattr(module, '_mmcell_autocast', None) is not None:
        return lambda: None
    forward = module.forward
    if channels_last:
        module.to(memory_format=torch.channels_last)

    def autocast_forward(*args, **kwargs):
        device = next(module.parameters()).device.type
        with torch.autocast(device, dtype=dtype):
            return _to_float32(forward(*args, **kwargs))

    module.forward = autocast_forward
    module._mmcell_autocast = dtype

    def restore():
        del module.forward, module._mmcell_autocast
        if channels_last:
            module.to(memory_format=torch.contiguous_format)
    return restore


def autocast_modules(model: nn.Module, names: Sequence[str],
                     dtype: torch.dtype = torch.bfloat16,
                     channels_last: bool = False) -> Callable[[], None]:
    """:func:`autocast_module` on the submodules of ``model`` named, once all names are found.

    Args:
        model (nn.Module): The model (e.g. a detector).
        names (Sequence[str]): Names of submodules, as in ``model.named_modules()``
            (``'backbone'``, ``'roi_head.bbox_head'``).
        dtype (torch.dtype): Autocast's dtype. Defaults to ``torch.bfloat16``.
        channels_last (bool): Hold their 4-d weights channels-last (see
            :func:`autocast_module`). Defaults to False.

    Returns:
        Callable[[], None]: Puts each module's own forward (and memory layout) back.

    Raises:
        ValueError: A name that is no submodule of the model (naming its top-level modules);
            nothing is changed then.

    Example:
        >>> import torch.nn as nn
        >>> model = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        >>> restore = autocast_modules(model, ['0'])
        >>> model(torch.randn(2, 4)).dtype
        torch.float32
        >>> restore()
    """
    named = dict(model.named_modules())
    missing = [name for name in names if name not in named or not name]
    if missing:
        top = sorted(name for name in named if name and '.' not in name)
        raise ValueError(f'the model has no submodule {missing}; its top-level modules are {top}')
    restores = [autocast_module(named[name], dtype, channels_last) for name in names]

    def restore():
        for undo in restores:
            undo()
    return restore


@HOOKS.register_module()
class AutocastModulesHook(Hook):
    """Run named parts of a model in mixed precision, the rest in float32.

    ``--amp`` (:class:`~mmcell.compat.BF16OptimWrapper` on CPU) puts the whole forward under
    autocast, which a detector cannot take on CPU: mmcv's RoIAlign and NMS have no bfloat16
    CPU kernels. This hook puts only the parts named under autocast, by default a detector's
    backbone and neck, where its convolutions spend the time, and casts their outputs back to
    float32 for the heads. Parameters, gradients and the optimizer stay in float32, as under
    ``--amp``. It applies before training, validation and testing alike (mmengine calls
    ``before_run`` in each), so a model is tested in the precision it was trained in.

    Args:
        modules (Sequence[str]): Names of submodules, as in ``model.named_modules()``.
            Defaults to ``('backbone', 'neck')``.
        dtype (str): ``'bfloat16'`` or ``'float16'``. Defaults to ``'bfloat16'``.
        channels_last (bool): Hold the parts' 4-d weights in channels-last memory, where
            oneDNN's bfloat16 convolutions are fastest on CPU (a Chula Faster R-CNN step with four
            parts in bf16: 2.4x faster than float32 against 1.4x without it, on a CPU with AMX; see
            ``docs/performance.md``). Their outputs are handed on contiguous, as mmcv's RoI ops
            read NCHW memory. Defaults to False.

    Raises:
        ValueError: An unknown dtype, or a name that is no submodule of the model (naming
            those it has).

    Example:
        >>> # in a detection config
        >>> custom_hooks = [dict(type='AutocastModulesHook', modules=('backbone', 'neck'))]
        >>> # all four parts of a two-stage detector, weights channels-last (Chula CPU configs)
        >>> custom_hooks = [dict(type='AutocastModulesHook',
        ...                      modules=('backbone', 'neck', 'rpn_head', 'roi_head.bbox_head'),
        ...                      channels_last=True)]
    """

    priority = 'VERY_HIGH'

    def __init__(self, modules: Sequence[str] = ('backbone', 'neck'),
                 dtype: str = 'bfloat16', channels_last: bool = False) -> None:
        if dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {sorted(DTYPES)}, got {dtype!r}')
        if isinstance(modules, str):
            modules = (modules, )
        self.modules = tuple(modules)
        self.dtype = DTYPES[dtype]
        self.channels_last = channels_last

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        try:
            autocast_modules(model, self.modules, self.dtype, self.channels_last)
        except ValueError as error:
            raise ValueError(f'AutocastModulesHook: {error}') from None
