"""Mend: checkpoints written whole or not at all.

Upstream: mmengine 0.10.7's ``LocalBackend.put`` opens the target with ``'wb'`` and writes into it;
the checkpoint hook writes ``last_checkpoint`` the same way.
Why: a run killed during a save must leave the previous checkpoint intact, so ``--resume`` works.
When it can go: when mmengine's local backend writes through a temporary file and a rename.

mmengine saves a checkpoint by serialising it and handing the bytes to its file backend; for local
paths, ``LocalBackend.put`` opens the target with ``'wb'`` and writes into it. A run killed during
that write (SIGKILL, out of memory, a pre-empted job) leaves a truncated file under the checkpoint's
name, and ``--resume`` then fails on it.

:class:`AtomicLocalBackend` writes to a temporary file in the same folder, flushes it to disk and
renames it over the target (``os.replace``, atomic on POSIX and Windows): the target holds either
the previous file or the complete new one. ``import mmcell`` registers it for local paths
(:func:`install_atomic_local_backend`), so ``CheckpointHook``, ``runner.save_checkpoint`` and
``mmengine.fileio.put`` all use it.

The checkpoint hook then records the new file's path in ``<work_dir>/last_checkpoint`` with a plain
``open(..., 'w')``, and ``--resume`` reads that record. A kill between the truncation and the write
leaves it empty; with ``max_keep_ckpts=1`` the file it names is deleted before the next one is
written. :func:`latest_checkpoint` (what ``tools/train.py --resume`` uses) falls back to the newest
complete checkpoint in the folder when the record is empty or names a missing file.
"""
import glob
import logging
import os
import os.path as osp
import re
import tempfile
from pathlib import Path
from typing import Optional, Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log

__all__ = [
    'AtomicLocalBackend', 'atomic_write', 'latest_checkpoint', 'install_atomic_local_backend'
]


def atomic_write(data: bytes, path: Union[str, Path]) -> None:
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
    """mmengine's local file backend with atomic writes (:func:`atomic_write`).

    Example:
        >>> import os, tempfile
        >>> from mmcell.compat import AtomicLocalBackend
        >>> path = os.path.join(tempfile.mkdtemp(), 'epoch_1.pth')
        >>> AtomicLocalBackend().put(b'weights', path)
        >>> open(path, 'rb').read(), os.listdir(os.path.dirname(path))
        (b'weights', ['epoch_1.pth'])
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), filepath)


def install_atomic_local_backend() -> None:
    """Make :class:`AtomicLocalBackend` mmengine's backend for local paths."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')


def latest_checkpoint(work_dir: Union[str, Path]) -> Optional[str]:
    """The checkpoint a resumed run in ``work_dir`` continues from.

    The one ``work_dir/last_checkpoint`` names; if that record is empty or names a file that is
    gone, the ``epoch_N.pth`` / ``iter_N.pth`` in ``work_dir`` with the largest N, with a warning.

    Args:
        work_dir (str | Path): The run's work dir.

    Returns:
        str | None: The checkpoint's path, or None when the folder holds none.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    named = ''
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip()
        if named and osp.isfile(named):
            return named
    steps = {}
    for path in glob.glob(osp.join(glob.escape(str(work_dir)), '*.pth')):
        found = re.fullmatch(r'(?:epoch|iter)_(\d+)\.pth', osp.basename(path))
        if found:
            steps[path] = int(found.group(1))
    if not steps:
        return None
    newest = max(steps, key=steps.get)
    if osp.isfile(record):
        problem = f'names {named}, which is missing' if named else 'is empty'
        print_log(f'{record} {problem} (the run was stopped while it was written); resuming '
                  f'from the newest checkpoint in the folder, {newest}', logger='current',
                  level=logging.WARNING)
    return newest
