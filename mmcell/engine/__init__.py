"""Training hooks of mmcell's own (mends of mmengine's are in :mod:`mmcell.compat`), and the
opt-in conversion of its models for CPU inference (:func:`convert_for_cpu_inference`)."""
from .autocast_hook import AutocastModulesHook, autocast_module, autocast_modules
from .cpu_inference import convert_for_cpu_inference

__all__ = ['AutocastModulesHook', 'autocast_module', 'autocast_modules',
           'convert_for_cpu_inference']
