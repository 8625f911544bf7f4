from .atomic_files import (AtomicLocalBackend, atomic_write, latest_checkpoint,
                           register_atomic_local_backend)
from .checkpoint import (UnsafeCheckpointError, allow_checkpoint_types, load_local_checkpoint,
                         register_safe_checkpoint_loading)
from .launch import config_scope, set_work_dir, setup_cpu_distributed

__all__ = [
    'AtomicLocalBackend', 'atomic_write', 'latest_checkpoint', 'register_atomic_local_backend',
    'UnsafeCheckpointError', 'allow_checkpoint_types', 'load_local_checkpoint',
    'register_safe_checkpoint_loading',
    'config_scope', 'setup_cpu_distributed', 'set_work_dir'
]
