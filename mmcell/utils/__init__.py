from .checkpoint import (UnsafeCheckpointError, allow_checkpoint_types, load_local_checkpoint,
                         register_safe_checkpoint_loading)
from .launch import config_scope, init_cpu_distributed, set_work_dir

__all__ = [
    'UnsafeCheckpointError', 'allow_checkpoint_types', 'load_local_checkpoint',
    'register_safe_checkpoint_loading', 'config_scope', 'init_cpu_distributed', 'set_work_dir'
]
