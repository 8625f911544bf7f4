"""Checkpoints are written whole or not at all, and a killed run resumes as if never stopped."""
import json
import os
import signal

import pytest
from mmengine.fileio import get_file_backend, put

from mmcell.compat import AtomicLocalBackend, atomic_write, latest_checkpoint

from ..conftest import ROOT, run_tool
from ..test_tools.tiny_config import tiny_classifier_config


def test_local_paths_use_the_atomic_backend(tmp_path):
    assert type(get_file_backend(str(tmp_path / 'a.pth'))) is AtomicLocalBackend
    put(b'weights', str(tmp_path / 'sub' / 'a.pth'))  # mmengine's own API, folder created
    assert (tmp_path / 'sub' / 'a.pth').read_bytes() == b'weights'
    backend = AtomicLocalBackend()
    backend.put_text('épsilon', str(tmp_path / 'b.txt'))
    assert backend.get_text(str(tmp_path / 'b.txt')) == 'épsilon'


def test_a_write_that_dies_leaves_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / 'epoch_1.pth'
    atomic_write(b'old complete checkpoint', target)

    def die(fd):  # the process "dies" after half the bytes reached the temporary file
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'fsync', die)
    with pytest.raises(KeyboardInterrupt):
        AtomicLocalBackend().put(b'new checkpoint' * 1000, str(target))
    assert target.read_bytes() == b'old complete checkpoint'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']  # no leftovers


@pytest.mark.parametrize('record', ['', 'gone', None])
def test_resume_finds_the_newest_checkpoint_if_the_record_is_broken(tmp_path, record,
                                                                    monkeypatch):
    """``last_checkpoint`` is written in place by mmengine: a kill can leave it empty, and with
    max_keep_ckpts=1 it can name a deleted file. Resume then takes the largest step."""
    warnings = []
    monkeypatch.setattr('mmcell.compat.atomic_checkpoints.print_log',
                        lambda msg, **kwargs: warnings.append(msg))
    assert latest_checkpoint(tmp_path) is None
    for name in ('iter_2.pth', 'iter_10.pth', 'best_accuracy_iter_12.pth', '.iter_12.pth.x.part'):
        (tmp_path / name).write_bytes(b'x')
    if record is not None:
        (tmp_path / 'last_checkpoint').write_text(str(tmp_path / record) if record else '')
    assert latest_checkpoint(tmp_path) == str(tmp_path / 'iter_10.pth')
    if record is None:  # no record at all: nothing was broken, nothing to say
        assert warnings == []
    else:
        assert len(warnings) == 1 and ('is empty' if record == '' else 'gone, which is missing'
                                       ) in warnings[0]
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    assert latest_checkpoint(tmp_path) == str(tmp_path / 'iter_2.pth')  # a good record rules


@pytest.mark.kill_resume
def test_train_resume_with_an_emptied_record_continues_from_the_newest(tmp_path, cell_crops):
    config = tmp_path / 'tiny.py'
    config.write_text(tiny_classifier_config(cell_crops))
    work_dir = tmp_path / 'run'
    run_tool('tools/train.py', config, '--work-dir', work_dir)
    (work_dir / 'last_checkpoint').write_text('')  # killed while mmengine rewrote it
    proc = run_tool('tools/train.py', config, '--work-dir', work_dir, '--resume',
                    '--cfg-options', 'train_cfg.max_iters=6')
    log = proc.stdout + proc.stderr
    assert 'is empty' in log and f'resuming from the newest checkpoint in the folder, ' \
        f'{work_dir / "iter_4.pth"}' in log
    assert 'resumed epoch: 0, iter: 4' in log
    assert (work_dir / 'iter_6.pth').is_file()


def losses(work_dir):
    """Loss per training iteration from the run's scalars (last run folder wins)."""
    found = {}
    for scalars in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            record = json.loads(line)
            if 'loss' in record:
                found[record['iter']] = record['loss']
    return found


@pytest.mark.kill_resume
def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, cell_crops):
    # 20 images, batch 4: 5 iterations per epoch, 3 epochs, a checkpoint after each epoch.
    config = tmp_path / 'tiny.py'
    config.write_text(tiny_classifier_config(
        cell_crops,
        train_cfg=dict(by_epoch=True, max_epochs=3),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=True)),
        log_processor=dict(by_epoch=True)))
    straight, killed = tmp_path / 'straight', tmp_path / 'killed'
    run_tool('tools/train.py', config, '--work-dir', straight)

    dying = tmp_path / 'tiny_sigkill.py'  # the same run, with a hook that SIGKILLs it
    dying.write_text("_base_ = ['./tiny.py']\n"
                     "custom_imports = dict(imports=['mmcell', 'sigkill_hook'])\n"
                     "custom_hooks = [dict(type='SigkillHook', at_iter=8)]\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / 'tests' / 'test_tools'))
    proc = run_tool('tools/train.py', dying, '--work-dir', killed, check=False, env=env)
    assert proc.returncode == -signal.SIGKILL  # killed in epoch 2, after iteration 8
    assert sorted(p.name for p in killed.glob('*.pth')) == ['epoch_1.pth']
    assert (killed / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')

    proc = run_tool('tools/train.py', config, '--work-dir', killed, '--resume')
    assert 'resumed' in (proc.stdout + proc.stderr).lower()
    reference, resumed = losses(straight), losses(killed)
    assert sorted(reference) == list(range(1, 16))
    # Iterations 6-15 ran again from the epoch-1 checkpoint: the same losses as without the kill.
    for it in range(6, 16):
        assert resumed[it] == pytest.approx(reference[it], rel=1e-6), it
