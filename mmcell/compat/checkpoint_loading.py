"""Mend: safe checkpoint loading for mmengine 0.10 under torch >= 2.6.

Upstream: mmengine 0.10.7 loads local checkpoints with ``torch.load`` and torch's default
``weights_only``, which is True since torch 2.6; mmengine's own checkpoints then fail to load.
Why: ``load_from``, ``--resume`` and ``tools/test.py`` must read what mmengine writes, and a
checkpoint from elsewhere must never run code.
When it can go: when mmengine allow-lists the types it writes (or stops writing them) and names
the refused type (not in 0.10.7, the last release as of 2026-11).

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: it unpickles tensors and plain
containers only and refuses every other global. mmengine 0.10.7 writes a few more types into its
checkpoints (the message hub's :class:`~mmengine.logging.HistoryBuffer`, numpy arrays and scalars),
so ``load_from`` and ``--resume`` fail on its own files.

:func:`load_local_checkpoint` loads at the right depth: with ``weights_only=True`` and exactly
the types mmengine writes allowed (``torch.serialization.safe_globals``, for that call only), and
turns torch's refusal into :class:`UnsafeCheckpointError`, naming the file and the type it refused.
mmengine's ``load_from``, ``--resume``, ``tools/test.py`` and ``load_checkpoint`` find local files
through ``CheckpointLoader``'s ``''`` scheme; :func:`safe_checkpoint_loading` routes that scheme
through :func:`load_local_checkpoint` for a ``with`` block (what mmcell's inferencers and
``build_model`` do) and :func:`install_safe_checkpoint_loading` for the rest of the process
(what :func:`mmcell.compat.install` does for mmcell's tools and for configs run by stock tools).

A checkpoint that carries any other pickled object is refused before the object is built, so no code
from it ever runs. If you trust a file that holds extra types, allow them with
:func:`allow_checkpoint_types` rather than switching safe loading off.
"""
import os.path as osp
import pickle
import re
from contextlib import contextmanager
from typing import Callable, Iterator, List, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

__all__ = [
    'UnsafeCheckpointError', 'allow_checkpoint_types', 'load_local_checkpoint',
    'install_safe_checkpoint_loading', 'safe_checkpoint_loading'
]

# Types the user allowed with allow_checkpoint_types, beside mmengine's own.
_ALLOWED: List = []


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds a pickled object outside the allow list; it was not loaded."""


def _history_buffer_getattr(obj, name):
    """``getattr`` restricted to the one use mmengine's pickles make of it.

    A pickled HistoryBuffer carries its statistics methods, which pickle writes as
    ``getattr(HistoryBuffer, 'mean')``. Checkpoints may name ``getattr`` for that and nothing else.
    """
    if obj is HistoryBuffer and not name.startswith('_') and callable(
            getattr(HistoryBuffer, name, None)):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint')


def _empty_bytes(*args):
    """``bytes`` restricted to the one call pickle protocol 2 makes of it: ``bytes()``.

    ``torch.save`` pickles with protocol 2, which writes an empty ``bytes`` object as the call
    ``bytes()`` (other bytes as ``_codecs.encode``, which torch allows). An empty numpy array
    holds empty bytes, so a :class:`~mmengine.logging.HistoryBuffer` that was never updated (what
    ``save_checkpoint`` writes for a log scalar no step has set yet) names ``bytes``. Checkpoints
    may call it without arguments and for nothing else (``bytes(n)`` would allocate n bytes).
    """
    if args:
        raise pickle.UnpicklingError(f'bytes{args!r} is not allowed in a checkpoint (only the '
                                     'empty bytes() that pickle protocol 2 writes)')
    return b''


def _mmengine_checkpoint_types():
    """The non-tensor types mmengine 0.10 writes into its checkpoints."""
    multiarray = (np._core if hasattr(np, '_core') else np.core).multiarray
    dtype_classes = [
        getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith('DType')
    ]
    return [
        HistoryBuffer,  # message hub: log scalars
        (_history_buffer_getattr, 'builtins.getattr'),  # its statistics methods
        (_empty_bytes, 'builtins.bytes'),  # the data of an empty buffer's arrays
        np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar,  # their values
        *dtype_classes,
    ]


def allow_checkpoint_types(*types: Union[type, Callable]) -> None:
    """Allow more types in the checkpoints mmcell loads, for files you trust.

    Args:
        *types: Classes or functions that checkpoints may name, as ``torch.load`` with
            ``weights_only=True`` reports them.
    """
    _ALLOWED.extend(t for t in types if t not in _ALLOWED)


def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """Load a local checkpoint with ``weights_only=True``; explain a refusal.

    Args:
        filename (str): Path of the checkpoint.
        map_location (str | torch.device | Callable, optional): As for ``torch.load``.
            Defaults to None.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: The file does not exist.
        UnsafeCheckpointError: The file holds a pickled object outside the allow list.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    try:
        with torch.serialization.safe_globals(_mmengine_checkpoint_types() + _ALLOWED):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r'GLOBAL (\S+) was not an allowed global', str(err))
        reason = re.search(r'WeightsUnpickler error:\s*([^\n]+)', str(err))
        what = (f'a pickled {found.group(1)}, which is not a type that mmengine or torch write'
                if found else f'a pickled object that is not allowed '
                f'({reason.group(1) if reason else err})')
        raise UnsafeCheckpointError(
            f'refused to load checkpoint {filename}: it carries {what}, and unpickling it '
            'could run code from the file. '
            'mmcell loads checkpoints with torch.load(weights_only=True). If you trust this '
            'file, allow the type with mmcell.compat.allow_checkpoint_types(...) or re-save '
            'its state_dict alone.') from err


def install_safe_checkpoint_loading() -> None:
    """Route mmengine's local checkpoint loads through :func:`load_local_checkpoint` from now on."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)


@contextmanager
def safe_checkpoint_loading() -> Iterator[None]:
    """Within the block, mmengine loads local checkpoints with :func:`load_local_checkpoint`.

    mmengine's loader is put back on leaving the block.

    Example:
        >>> from mmengine.runner import CheckpointLoader
        >>> before = CheckpointLoader._schemes['']
        >>> with safe_checkpoint_loading():
        ...     CheckpointLoader._schemes[''] is load_local_checkpoint
        True
        >>> CheckpointLoader._schemes[''] is before
        True
    """
    schemes = CheckpointLoader._schemes
    CheckpointLoader._schemes = type(schemes)(schemes)
    install_safe_checkpoint_loading()
    try:
        yield
    finally:
        CheckpointLoader._schemes = schemes
