"""Training hooks of mmcell's own (mends of mmengine's are in :mod:`mmcell.compat`)."""
from .freeze_hook import FreezeHook

__all__ = ['FreezeHook']
