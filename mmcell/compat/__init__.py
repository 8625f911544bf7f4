"""Every change mmcell makes to how mmengine, mmcv and torch behave, in one place.

Each module says in its first lines what upstream does, why mmcell changes it and when the mend
can go. :func:`install` applies the ones that change a third-party module; ``import mmcell``
calls it once. The rest add classes to mmengine's registries (importing them registers them).

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
onednn_linear             ``OneDNNLinear``: CPU inference of linear layers through oneDNN,
                          GELU fused (MKL's float32 path is slow on AMD CPUs)
roi_pool                  ``TorchRoIPool`` in ``mmcv.ops`` (mmcv 2.1's RoIPool has no CPU
                          kernel)
quiet                     the stack's known-harmless warnings silenced, each by its message,
                          in mmcell's tools (:func:`quiet_known_warnings`; not on import)
========================  ==================================================================
"""
from .atomic_checkpoints import (AtomicLocalBackend, atomic_write, install_atomic_local_backend,
                                 latest_checkpoint)
from .bf16_optim_wrapper import BF16OptimWrapper
from .checkpoint_loading import (UnsafeCheckpointError, allow_checkpoint_types,
                                 install_safe_checkpoint_loading, load_local_checkpoint)
from .cpu_distributed import (CPUDistributedDataParallel, CPUSyncBatchNorm,
                              finish_distributed, setup_cpu_distributed)
from .onednn_linear import OneDNNLinear
from .quiet import quiet_known_warnings
from .roi_pool import TorchRoIPool, install_torch_roi_pool

__all__ = [
    'AtomicLocalBackend', 'BF16OptimWrapper', 'CPUDistributedDataParallel', 'CPUSyncBatchNorm',
    'OneDNNLinear', 'TorchRoIPool', 'UnsafeCheckpointError', 'allow_checkpoint_types', 'atomic_write', 'install',
    'finish_distributed', 'latest_checkpoint', 'load_local_checkpoint', 'quiet_known_warnings',
    'setup_cpu_distributed'
]


def install() -> None:
    """Apply the mends that change a third-party module (idempotent; ``import mmcell`` runs it)."""
    install_safe_checkpoint_loading()
    install_atomic_local_backend()
    install_torch_roi_pool()
