"""mmcell: blood-cell image recognition for mmpretrain and mmdet.

Importing mmcell registers every mmcell component: classification parts in mmpretrain's
registries, detection parts in mmdet's. A config needs only::

    custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)

It also makes mmengine load checkpoints safely under torch >= 2.6 (see
:mod:`mmcell.utils.checkpoint`) and write them atomically (:mod:`mmcell.utils.atomic_files`).
"""
from . import datasets, engine, evaluation, models, visualization  # noqa: F401 (registers)
from .utils import register_atomic_local_backend, register_safe_checkpoint_loading
from .version import __version__

register_safe_checkpoint_loading()
register_atomic_local_backend()

__all__ = ['__version__']
