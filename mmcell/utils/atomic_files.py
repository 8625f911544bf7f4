"""Checkpoints written whole or not at all.

mmengine saves a checkpoint by serialising it and handing the bytes to its file backend; for local
paths, ``LocalBackend.put`` opens the target with ``'wb'`` and writes into it. A run killed during
that write (SIGKILL, out of memory, a pre-empted job) leaves a truncated file under the checkpoint's
name, and ``--resume`` then fails on it.

:class:`AtomicLocalBackend` writes to a temporary file in the same folder, flushes it to disk and
renames it over the target (``os.replace``, atomic on POSIX and Windows): the target holds either
the previous file or the complete new one. ``import mmcell`` registers it for local paths
(:func:`register_atomic_local_backend`), so ``CheckpointHook``, ``runner.save_checkpoint`` and
``mmengine.fileio.put`` all use it.
"""
import os
import os.path as osp
import tempfile

from mmengine.fileio import LocalBackend, register_backend

__all__ = ['AtomicLocalBackend', 'atomic_write', 'register_atomic_local_backend']


def atomic_write(data, path):
    """Write ``data`` (bytes) to ``path`` so that ``path`` never holds a partial file.

    Args:
        data (bytes): What to write.
        path (str | Path): The target; its folder is created if missing.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.part')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic writes (:func:`atomic_write`)."""

    def put(self, obj, filepath):
        atomic_write(obj, filepath)

    def put_text(self, obj, filepath, encoding='utf-8'):
        atomic_write(obj.encode(encoding), filepath)


def register_atomic_local_backend():
    """Make :class:`AtomicLocalBackend` mmengine's backend for local paths."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
