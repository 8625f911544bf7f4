"""mmcell: blood-cell image recognition for mmpretrain and mmdet.

Importing mmcell registers every mmcell component: classification parts in mmpretrain's
registries, detection parts in mmdet's. A config needs only::

    custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)

It also applies mmcell's mends of mmengine and mmcv (:mod:`mmcell.compat`: safe and atomic
checkpoints, an RoIPool with a CPU kernel); nothing else in the package changes a third-party
module.
"""
from . import compat
from . import datasets, engine, evaluation, models, visualization  # noqa: F401,I001 (registers)
from .version import __version__

compat.install()

__all__ = ['__version__']
