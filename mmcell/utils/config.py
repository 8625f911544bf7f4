"""Loading mmcell configs: the moved-config table, the config's scope and its work dir."""
import os.path as osp
import re
from pathlib import Path
from typing import Optional, Union

import torch
from mmengine.config import Config

__all__ = ['MOVED_CONFIGS', 'SCOPES', 'config_scope', 'enable_amp', 'load_config', 'set_work_dir']

SCOPES = ('mmpretrain', 'mmdet')

# Configs that sat flat in configs/ in 0.1.0 (until 2026-12) and now live in their algorithm's
# folder, by name.
# configs/cellvit_munich.py and configs/cs_arfpn_r50_bccd.py stay at the top as entry points.
_CELLVIT = ('cellvit_munich_balanced', 'cellvit_munich_cls-head', 'cellvit_munich_no-contrastive',
            'cellvit_pbc', 'cellvit_pbc_quick')
_CS_ARFPN = ('c_arfpn_r101_bccd', 'c_arfpn_r50_bccd', 'c_arfpn_r50_roipool_bccd',
             'cascade_rcnn_cs_arfpn_r50_bccd', 'cs_arfpn_r101_bccd', 'cs_arfpn_r50_bccd_cpu',
             'cs_arfpn_r50_bccd_quick', 'cs_arfpn_r50_roipool_bccd', 'faster_rcnn_r101_fpn_bccd',
             'faster_rcnn_r50_fpn_bccd', 'faster_rcnn_r50_fpn_bccd_cpu',
             'faster_rcnn_r50_fpn_roipool_bccd', 'retinanet_cs_arfpn_r50_bccd')
MOVED_CONFIGS = {
    **{f'{name}.py': f'cellvit/{name}.py' for name in _CELLVIT},
    **{f'{name}.py': f'cs_arfpn/{name}.py' for name in _CS_ARFPN},
}


def _moved(path: str) -> Optional[str]:
    """Where a config that used to be ``configs/<name>.py`` is now, or None."""
    path = Path(osp.normpath(path))
    if path.parent.name == 'configs' and path.name in MOVED_CONFIGS:
        return str(path.parent / MOVED_CONFIGS[path.name])
    return None


def load_config(path: Union[str, Path]) -> Config:
    """``Config.fromfile``, with a clear error for a config (or a base) that has moved.

    Args:
        path (str | Path): The config file.

    Returns:
        mmengine.Config: The loaded config.

    Raises:
        FileNotFoundError: The file, or a ``_base_`` it names, does not exist; if it is one of
            the configs that moved into a folder (:data:`MOVED_CONFIGS`), the message names the
            new path.

    Example:
        >>> cfg = load_config('configs/cellvit_munich.py')  # doctest: +SKIP
        >>> load_config('configs/cellvit_pbc.py')  # doctest: +SKIP
        FileNotFoundError: config configs/cellvit_pbc.py has moved to configs/cellvit/cellvit_pbc.py
    """
    path = str(path)
    if not osp.isfile(path) and _moved(path):
        raise FileNotFoundError(f'config {path} has moved to {_moved(path)}')
    try:
        return Config.fromfile(path)
    except FileNotFoundError as err:
        # mmengine names a missing base in ``err.filename`` (it opens it) or, where it checks
        # first, in the message.
        named = re.search(r'file "(.+?)" does not exist', str(err))
        missing = err.filename or (named and named.group(1))
        new = missing and _moved(str(missing))
        if not new:
            raise
        raise FileNotFoundError(f'{path} inherits from {missing}, which has moved to '
                                f'{new}: change its _base_') from None


def config_scope(cfg: Config) -> str:
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


def load_classifier_config(path: Union[str, Path], cfg_options: Optional[dict] = None,
                           tool: str = 'this tool') -> Config:
    """A classifier's config for a tool: loaded, ``--cfg-options`` merged, its scope checked.

    Args:
        path (str | Path): The config file (see :func:`load_config`).
        cfg_options (dict, optional): Settings to merge (a tool's ``--cfg-options``).
            Defaults to None.
        tool (str): The tool's name, for the error. Defaults to ``'this tool'``.

    Returns:
        mmengine.Config: The config.

    Raises:
        SystemExit: The config is not an mmpretrain (classification) config.
    """
    cfg = load_config(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if config_scope(cfg) != 'mmpretrain':
        raise SystemExit(f'error: {path} is a {cfg.default_scope} config; {tool} works on '
                         'classifiers (mmpretrain configs) only')
    return cfg


def set_work_dir(cfg: Config, work_dir: Optional[str] = None) -> None:
    """Set ``cfg.work_dir``: the argument, else the config's, else ``work_dirs/<config name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(cfg.filename))[0])


def enable_amp(cfg: Config) -> None:
    """Mixed precision for a config, as ``tools/train.py --amp`` asks for it.

    On a GPU mmengine's ``AmpOptimWrapper`` (float16, dynamic loss scale); without one mmcell's
    ``BF16OptimWrapper`` (bfloat16 autocast, no loss scale needed).

    Raises:
        ValueError: The config's optimizer wrapper is of another kind, which these cannot wrap.
    """
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper not in ('OptimWrapper', 'AmpOptimWrapper', 'BF16OptimWrapper'):
        raise ValueError(f'--amp cannot wrap optim_wrapper of type {wrapper}')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        cfg.optim_wrapper.type = 'BF16OptimWrapper'
