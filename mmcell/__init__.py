"""mmcell: blood-cell image recognition for mmpretrain and mmdet.

Importing mmcell registers every mmcell component: classification parts in mmpretrain's
registries, detection parts in mmdet's. A config needs only::

    custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)

Importing it changes no third-party module. mmcell's mends of mmengine (safe and atomic
checkpoints, :mod:`mmcell.compat`) are applied by mmcell's tools, or by a config that imports
``mmcell.compat.apply`` (mmcell's configs do: see that module for why stock tools need it).
"""
from . import datasets, engine, evaluation, models, visualization  # noqa: F401,I001 (registers)
from .version import __version__

__all__ = ['__version__']
