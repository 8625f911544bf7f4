"""A hook that kills its own training process with SIGKILL after a given iteration.

Loaded by the interrupted-training test through ``custom_imports`` (its folder on PYTHONPATH).
"""
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class SigkillHook(Hook):
    """SIGKILL this process once training iteration ``at_iter`` (1-based) is done."""

    def __init__(self, at_iter):
        self.at_iter = at_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.at_iter:
            os.kill(os.getpid(), signal.SIGKILL)
