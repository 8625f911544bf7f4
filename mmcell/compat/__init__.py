"""Every change mmcell makes to how mmengine, mmcv and torch behave, in one place.

Each module says in its first lines what upstream does, why mmcell changes it and when the mend
can go. ``import mmcell`` changes nothing here: :func:`install` applies the mends that replace a
part of a third-party module (mmengine's local checkpoint loader and local file backend), for the
rest of the process. mmcell's tools call it; a config run by mmpretrain's or mmdet's own tools
asks for it with ``custom_imports=dict(imports=['mmcell', 'mmcell.compat.apply'])`` (mmcell's
configs do), because under torch >= 2.6 mmengine 0.10.7 cannot load its own checkpoints without
it. The library itself (inferencers, ``build_model``) loads checkpoints inside
:func:`safe_checkpoint_loading` and leaves mmengine as it was. The other modules add classes to
mmengine's registries (importing them registers them).

========================  ==================================================================
module                    mend
========================  ==================================================================
checkpoint_loading        local checkpoints load with ``weights_only=True`` (mmengine's own
                          types allowed), a refusal names the file and the type
atomic_checkpoints        checkpoints written through a temporary file and a rename;
                          ``latest_checkpoint`` for ``--resume`` after a kill
cpu_distributed           gloo start-up, ``CPUDistributedDataParallel`` and
                          ``CPUSyncBatchNorm`` for distributed training without a GPU
bf16_optim_wrapper        ``BF16OptimWrapper``: ``--amp`` on CPU
quiet                     the stack's known-harmless warnings silenced, each by its message,
                          in mmcell's tools (:func:`quiet_known_warnings`; not on import)
========================  ==================================================================
"""
from .atomic_checkpoints import (AtomicLocalBackend, atomic_write, install_atomic_local_backend,
                                 latest_checkpoint)
from .bf16_optim_wrapper import BF16OptimWrapper
from .checkpoint_loading import (UnsafeCheckpointError, allow_checkpoint_types,
                                 install_safe_checkpoint_loading, load_local_checkpoint,
                                 safe_checkpoint_loading)
from .cpu_distributed import (CPUDistributedDataParallel, CPUSyncBatchNorm,
                              finish_distributed, setup_cpu_distributed)
from .quiet import quiet_known_warnings

__all__ = [
    'AtomicLocalBackend', 'BF16OptimWrapper', 'CPUDistributedDataParallel', 'CPUSyncBatchNorm',
    'UnsafeCheckpointError', 'allow_checkpoint_types', 'atomic_write', 'install',
    'finish_distributed', 'latest_checkpoint', 'load_local_checkpoint', 'quiet_known_warnings',
    'safe_checkpoint_loading', 'setup_cpu_distributed'
]


def install() -> None:
    """Apply the mends that replace part of mmengine, for the rest of the process (idempotent).

    mmengine's local checkpoint loader becomes :func:`load_local_checkpoint` and its local file
    backend :class:`AtomicLocalBackend`. mmcell's tools call it; configs run by stock tools
    import :mod:`mmcell.compat.apply`, which calls it.
    """
    install_safe_checkpoint_loading()
    install_atomic_local_backend()
