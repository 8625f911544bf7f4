"""Training hooks of mmcell's own (mends of mmengine's are in :mod:`mmcell.compat`)."""
from .autocast_hook import AutocastModulesHook, autocast_module, autocast_modules
from .freeze_hook import FreezeHook

__all__ = ['AutocastModulesHook', 'FreezeHook', 'autocast_module', 'autocast_modules']
