from .cpu_distributed import CPUDistributedDataParallel, CPUSyncBatchNorm
from .optim_wrappers import BF16OptimWrapper

__all__ = ['BF16OptimWrapper', 'CPUDistributedDataParallel', 'CPUSyncBatchNorm']
