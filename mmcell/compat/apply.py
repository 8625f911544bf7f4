"""Importing this module applies :func:`mmcell.compat.install` (and registers mmcell's parts).

For configs run by mmpretrain's or mmdet's own ``tools/train.py`` / ``tools/test.py``::

    custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

Under torch >= 2.6 mmengine 0.10.7 cannot load the checkpoints it writes (``load_from``,
``--resume``, testing a checkpoint) without mmcell's safe loader, and a run killed while it saves
leaves a truncated checkpoint without the atomic backend. ``import mmcell`` alone changes
neither; this module is the explicit request for both, for the rest of the process.
"""
from . import install

install()
