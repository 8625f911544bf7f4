from typing import Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


def _under(name: str, prefixes: Sequence[str]) -> bool:
    return any(name == p or name.startswith(p + '.') for p in prefixes)


@HOOKS.register_module()
class FreezeHook(Hook):
    """Train only part of a model: freeze parameters by name, and keep frozen modules in eval
    mode (BatchNorm statistics and dropout as trained).

    Any model, any backbone: the parts are named by their prefix in ``model.named_parameters()``
    (``'backbone'``, ``'backbone.layer4'``, ``'neck'``). Parameters under a ``frozen`` prefix get
    ``requires_grad=False`` unless they are under a ``trainable`` one; a frozen module with
    nothing trainable inside is put in eval mode before every iteration (the training loop puts
    the whole model in train mode). With the whole backbone frozen, autograd does not go through
    it, so a step costs little more than its forward pass.

    It freezes in ``before_train``, after the Runner has wrapped the model: under distributed
    training give the wrapper ``find_unused_parameters=True``.

    Args:
        frozen (Sequence[str]): Prefixes of what is frozen. Defaults to ``('backbone',)``.
        trainable (Sequence[str]): Prefixes inside those that still train (e.g. the backbone's
            last stage). Defaults to ``()``.

    Raises:
        ValueError: A prefix names no module or parameter of the model (both named), or
            nothing is left to train.

    Example:
        >>> import torch.nn as nn
        >>> from types import SimpleNamespace
        >>> model = nn.ModuleDict(dict(backbone=nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5),
        ...                                                   nn.Linear(4, 4)),
        ...                            head=nn.Linear(4, 2)))
        >>> hook = FreezeHook(frozen=['backbone'], trainable=['backbone.2'])
        >>> runner = SimpleNamespace(model=model)
        >>> hook.before_train(runner)
        >>> sorted(n for n, p in model.named_parameters() if p.requires_grad)
        ['backbone.2.bias', 'backbone.2.weight', 'head.bias', 'head.weight']
        >>> _ = model.train(); hook.before_train_iter(runner, 0)
        >>> model['backbone'][1].training, model['backbone'][2].training, model['head'].training
        (False, True, True)
    """

    priority = 'VERY_HIGH'

    def __init__(self, frozen: Sequence[str] = ('backbone', ),
                 trainable: Sequence[str] = ()) -> None:
        self.frozen, self.trainable = list(frozen), list(trainable)
        self._eval_modules = []

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        names = [name for name, _ in model.named_parameters()]
        names += [name for name, _ in model.named_modules() if name]
        for prefix in self.frozen + self.trainable:
            if not any(_under(name, [prefix]) for name in names):
                raise ValueError(f'FreezeHook: {prefix!r} names no part of '
                                 f'{type(model).__name__} (its parts: '
                                 f'{sorted({n.split(".")[0] for n in names})})')
        left = 0
        for name, param in model.named_parameters():
            if _under(name, self.frozen) and not _under(name, self.trainable):
                param.requires_grad_(False)
            left += param.requires_grad
        if not left:
            raise ValueError('FreezeHook: every parameter is frozen; nothing would train')
        self._eval_modules = [
            module for name, module in model.named_modules()
            if name and _under(name, self.frozen) and not _under(name, self.trainable)
            and not any(t.startswith(name + '.') for t in self.trainable)]

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        for module in self._eval_modules:
            module.eval()
