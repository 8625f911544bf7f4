"""Build a model from a config, in the config's scope, as mmengine's Runner builds it."""
import copy
import importlib
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from ..compat import safe_checkpoint_loading
from ..utils import config_scope, load_config

__all__ = ['build_model']


def build_model(config: Union[str, Path, Config],
                checkpoint: Optional[str] = None,
                device: Union[str, torch.device] = 'cpu',
                init_weights: bool = True) -> nn.Module:
    """Build a config's model in its scope's registry, as mmengine's Runner does.

    The model is built from ``cfg.model`` through the ``MODELS`` registry of the config's
    ``default_scope`` (mmpretrain or mmdet, see :func:`mmcell.utils.config_scope`), with that
    scope current only while it builds: the global default scope is left as it was. A top-level
    ``data_preprocessor`` of the config becomes the model's unless ``cfg.model`` has its own,
    as the Runner (and mmpretrain's ``get_model``) do; without it the model would see
    un-normalised pixels and every prediction would be wrong. The weights come from
    ``checkpoint`` (through mmengine's ``load_checkpoint``, inside mmcell's safe loader for
    local files), or else from the model's ``init_weights()``; the checkpoint's
    ``meta.dataset_meta`` (the classes a training run saves) becomes ``model.dataset_meta``.

    Args:
        config (str | Path | mmengine.Config): A config file (loaded with
            :func:`mmcell.utils.load_config`, which names the new path of a moved config) or a
            loaded config. It is not changed.
        checkpoint (str, optional): Weights to load (a path or URL mmengine can read).
            Defaults to None.
        device (str | torch.device): Where to put the model. Defaults to ``'cpu'``.
        init_weights (bool): Without a checkpoint, run the model's ``init_weights()`` (its
            configured initialisation, which training starts from); False leaves PyTorch's
            default initialisation, and never reads a ``Pretrained`` ``init_cfg``. Ignored with
            a checkpoint. Defaults to True.

    Returns:
        nn.Module: The model in eval mode on ``device``; with a checkpoint whose meta has a
        ``dataset_meta``, that dict as ``model.dataset_meta``.

    Raises:
        FileNotFoundError: The config file does not exist (or has moved; the message says
            where), or the checkpoint does not.
        ValueError: The config's ``default_scope`` is not one mmcell runs (mmpretrain, mmdet).

    Example:
        >>> import torch
        >>> from mmengine.config import Config
        >>> from mmcell.apis import build_model
        >>> cfg = Config(dict(
        ...     default_scope='mmpretrain',
        ...     model=dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18),
        ...                neck=dict(type='GlobalAveragePooling'),
        ...                head=dict(type='LinearClsHead', num_classes=3, in_channels=512)),
        ...     data_preprocessor=dict(mean=[128.] * 3, std=[64.] * 3)))
        >>> model = build_model(cfg, init_weights=False)  # PyTorch's default init: quiet
        >>> model.data_preprocessor.std.flatten().tolist()  # the config's top-level one
        [64.0, 64.0, 64.0]
        >>> model(torch.rand(2, 3, 64, 64), mode='tensor').shape
        torch.Size([2, 3])
        >>> # Weights and classes from a checkpoint, saved as a training run saves them:
        >>> import os.path as osp, tempfile
        >>> path = osp.join(tempfile.mkdtemp(), 'weights.pth')
        >>> torch.save(dict(state_dict=model.state_dict(),
        ...                 meta=dict(dataset_meta=dict(classes=['a', 'b', 'c']))), path)
        >>> loaded = build_model(cfg, path)
        >>> loaded.dataset_meta['classes'], loaded.training
        (['a', 'b', 'c'], False)
        >>> torch.equal(loaded.head.fc.weight, model.head.fc.weight)
        True
        >>> # A config file and trained weights, with the classes the run saved:
        >>> model = build_model('configs/cellvit/cellvit_pbc.py',  # doctest: +SKIP
        ...                     'work_dirs/cellvit_pbc/epoch_25.pth')
        >>> model.dataset_meta['classes'][:2]  # doctest: +SKIP
        ['basophil', 'eosinophil']
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    scope = config_scope(cfg)
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:  # Runner.__init__ merges it the same way
        model_cfg.setdefault('data_preprocessor', copy.deepcopy(cfg.data_preprocessor))
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(model_cfg)
    if checkpoint is not None:
        with safe_checkpoint_loading():
            meta = load_checkpoint(model, checkpoint, map_location='cpu',
                                   logger='current').get('meta') or {}
        if meta.get('dataset_meta'):
            model.dataset_meta = meta['dataset_meta']
    elif init_weights:
        model.init_weights()
    return model.to(device).eval()
