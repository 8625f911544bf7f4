"""Checkpoints load under torch >= 2.6 without letting a pickle run code."""
from fractions import Fraction

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader, load_checkpoint

from mmcell.compat import UnsafeCheckpointError, allow_checkpoint_types

from ..conftest import run_tool
from ..test_tools.tiny_config import tiny_classifier_config


def test_mmengine_types_load(tmp_path):
    buffer = HistoryBuffer()
    buffer.update(0.5)
    buffer.update(np.float64(0.25))
    ckpt = {
        'meta': {'iter': 3, 'seed': np.int64(7), 'hist': np.arange(4.0), 'buffer': buffer,
                 'flags': np.array([True, False]), 'dtype': np.dtype('float32')},
        'state_dict': {'w': torch.ones(2)},
    }
    path = tmp_path / 'ok.pth'
    torch.save(ckpt, path)
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert loaded['meta']['iter'] == 3 and loaded['meta']['seed'] == 7
    np.testing.assert_array_equal(loaded['meta']['hist'], np.arange(4.0))
    assert loaded['meta']['buffer'].mean() == pytest.approx(0.375)
    assert loaded['meta']['dtype'] == np.float32


def test_a_never_updated_history_buffer_loads(tmp_path):
    # What mmengine's save_checkpoint writes for a log scalar no step has set: an empty buffer,
    # whose empty arrays pickle protocol 2 writes as the call bytes().
    loss = HistoryBuffer()
    loss.update(1.0)
    path = tmp_path / 'epoch_1.pth'
    torch.save({'meta': {'epoch': 1}, 'state_dict': {'w': torch.ones(1)},
                'message_hub': {'log_scalars': {'train/loss': loss,
                                                'val/accuracy': HistoryBuffer()}}}, path)
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    empty = loaded['message_hub']['log_scalars']['val/accuracy']
    assert isinstance(empty, HistoryBuffer) and len(empty.data[0]) == 0
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 1.0


def test_bytes_with_arguments_is_refused(tmp_path):
    class Allocate:
        def __reduce__(self):
            return bytes, (10**9, )

    path = tmp_path / 'bytes.pth'
    torch.save({'meta': Allocate()}, path)
    with pytest.raises(UnsafeCheckpointError, match='only the empty bytes'):
        CheckpointLoader.load_checkpoint(str(path))


def test_arbitrary_pickle_is_refused_and_not_run(evil_checkpoint):
    path, marker = evil_checkpoint
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(torch.nn.Linear(1, 1), str(path))
    message = str(err.value)
    assert str(path) in message and 'pathlib' in message and 'weights_only=True' in message
    assert not marker.exists()


def test_allowed_types_are_extensible(tmp_path):
    path = tmp_path / 'fraction.pth'
    torch.save({'meta': {'z': Fraction(1, 3)}}, path)
    with pytest.raises(UnsafeCheckpointError, match='fractions.Fraction'):
        CheckpointLoader.load_checkpoint(str(path))
    allow_checkpoint_types(Fraction)
    assert CheckpointLoader.load_checkpoint(str(path))['meta']['z'] == Fraction(1, 3)


@pytest.mark.parametrize('target, name', [(np.ndarray, 'tofile'), (HistoryBuffer, '__init__')])
def test_getattr_in_a_checkpoint_reaches_history_buffer_methods_only(tmp_path, target, name):
    class Getattr:
        def __reduce__(self):
            return getattr, (target, name)

    path = tmp_path / 'getattr.pth'
    torch.save({'meta': Getattr()}, path)
    with pytest.raises(UnsafeCheckpointError, match='is not allowed in a checkpoint'):
        CheckpointLoader.load_checkpoint(str(path))


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'nope.pth'))


@pytest.mark.subprocess
@pytest.mark.parametrize('tool_args', [
    lambda cfg, ckpt: ('tools/test.py', cfg, ckpt),
    lambda cfg, ckpt: ('tools/train.py', cfg, '--resume', ckpt),
    lambda cfg, ckpt: ('tools/train.py', cfg, '--cfg-options', f'load_from={ckpt}'),
    lambda cfg, ckpt: ('tools/train.py', cfg, '--cfg-options', 'model.init_cfg.type=Pretrained',
                       f'model.init_cfg.checkpoint={ckpt}'),
], ids=['test.py', 'train.py --resume', 'load_from', 'init_cfg Pretrained'])
def test_tools_refuse_unsafe_checkpoints(tmp_path, cell_crops, evil_checkpoint, tool_args):
    path, marker = evil_checkpoint
    cfg = tmp_path / 'tiny.py'
    cfg.write_text(tiny_classifier_config(cell_crops))
    proc = run_tool(*tool_args(cfg, path), '--work-dir', tmp_path / 'run', check=False)
    assert proc.returncode != 0
    assert f'refused to load checkpoint {path}' in proc.stderr
    assert not marker.exists()
