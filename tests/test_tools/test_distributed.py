"""Several processes on CPU (gloo): tools/dist_train.sh and tools/dist_test.sh against one process
with the same effective batch, seed and starting weights."""
import os
import re
import socket
import subprocess
import sys

import pytest
import torch

from mmcell.compat import finish_distributed, load_local_checkpoint

from ..conftest import ROOT, run_tool, save_random_checkpoint
from .tiny_config import tiny_classifier_config, tiny_detector_config

# ConvTokenViT with two stages (16 and 32 channels); 32 px crops give a 4x4 last-stage grid.
TINY_CELLVIT = """
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvTokenViT', out_type='sparse_attention', drop_path_rate=0.,
                  arch=dict(embed_dims=[16, 32], num_heads=[1, 2], depths=[1, 3],
                            patch_sizes=[7, 3], strides=[4, 2], paddings=[2, 1])),
    head=dict(type='SparseAttentionHead', num_classes=5, in_channels=32, num_layers=2,
              num_heads=2, topk=(1, ),
              contrastive_loss=dict(type='ThresholdedContrastiveLoss', threshold=0.4)))
"""
# CSARUResNet-50 at 8 base channels + AttentionFPN in Faster R-CNN. Every anchor and proposal is
# used (no random sampling), so the processes draw no random numbers a single process would not.
TINY_CS_ARFPN = """
model['backbone'] = dict(_delete_=True, type='CSARUResNet', depth=50, base_channels=8,
                         attention='channel_spatial', frozen_stages=-1, norm_eval=False)
model['neck'].update(type='AttentionFPN', in_channels=[32, 64, 128, 256],
                     attention_cfg=dict(type='ChannelSpatialAttentionUnit', ratio=4))
model['train_cfg'] = dict(rpn=dict(sampler=dict(num=100000)),
                          rcnn=dict(sampler=dict(num=100000)))
"""


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dist(*args):
    """Run a tools/dist_*.sh script with the venv's python first on PATH; return its output."""
    env = dict(os.environ, PORT=str(free_port()))
    env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env['PATH']
    proc = subprocess.run(['bash', *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def weights(path):
    return load_local_checkpoint(str(path), map_location='cpu')['state_dict']


def accuracy(output):
    return float(re.findall(r'accuracy/top1: ([0-9.]+)', output)[-1])


def relative_difference(a, b, start):
    """|a - b| over |b - start|, all trained tensors together: how far apart two runs ended
    compared with how far one of them moved."""
    keys = [k for k, v in start.items() if v.is_floating_point() and 'running_' not in k]
    gap = sum(float((a[k] - b[k]).pow(2).sum()) for k in keys) ** 0.5
    moved = sum(float((b[k] - start[k]).pow(2).sum()) for k in keys) ** 0.5
    return gap / moved


def train(config, work_dir, processes, batch, *options):
    """Train with ``processes`` processes of ``batch`` images each; return the final weights."""
    options = ('--work-dir', work_dir, '--cfg-options', f'train_dataloader.batch_size={batch}',
               *options)
    if processes == 1:
        run_tool('tools/train.py', config, *options)
    else:
        log = dist('tools/dist_train.sh', config, processes, *options)
        assert 'Distributed training: True' in log and f'GPU number: {processes}' in log
    return weights((work_dir / 'last_checkpoint').read_text().strip())


@pytest.mark.distributed
def test_dist_scripts_train_and_test_a_classifier_in_two_processes(tmp_path, cell_crops):
    config = tmp_path / 'tiny_cls.py'
    config.write_text(tiny_classifier_config(cell_crops))
    work_dir = tmp_path / 'dist'
    dist('tools/dist_train.sh', config, 2, '--work-dir', work_dir, '--cfg-options',
         'train_cfg.max_iters=2')
    checkpoint = work_dir / 'iter_2.pth'
    assert load_local_checkpoint(str(checkpoint))['meta']['iter'] == 2

    # 20 test images over two processes: 10 each, 3 batches of 4; metrics gathered over all 20.
    log = dist('tools/dist_test.sh', config, checkpoint, 2, '--work-dir', work_dir)
    assert '(test) [3/3]' in log
    single = run_tool('tools/test.py', config, checkpoint, '--work-dir', work_dir)
    assert '(test) [5/5]' in single.stdout
    assert accuracy(log) == accuracy(single.stdout)


@pytest.mark.distributed
def test_slurm_tasks_train_on_cpu(tmp_path, cell_crops):
    """Two tasks as srun starts them (SLURM_PROCID, SLURM_NTASKS) with --launcher slurm."""
    config = tmp_path / 'tiny_cls.py'
    config.write_text(tiny_classifier_config(cell_crops, max_iters=2))
    port = str(free_port())
    tasks = [subprocess.Popen(
        [sys.executable, 'tools/train.py', str(config), '--launcher', 'slurm', '--work-dir',
         str(tmp_path / 'slurm')], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=dict(os.environ, SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank),
                            SLURM_NTASKS='2', MASTER_ADDR='127.0.0.1', MASTER_PORT=port))
        for rank in range(2)]
    logs = [task.communicate(timeout=600)[0] for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    assert 'Distributed training: True' in logs[0] and 'GPU number: 2' in logs[0]
    assert load_local_checkpoint(str(tmp_path / 'slurm' / 'iter_2.pth'))['meta']['iter'] == 2


@pytest.fixture
def cellvit_config(tmp_path, cell_crops):
    """A tiny CellViT config starting from saved seeded weights (no random draws in training:
    a fixed pipeline, no drop path)."""
    config = tmp_path / 'tiny_cellvit.py'
    config.write_text(tiny_classifier_config(cell_crops) + TINY_CELLVIT)
    start = save_random_checkpoint(config, tmp_path / 'start.pth', range(5))
    config.write_text(config.read_text() + f'load_from = {start!r}\n')
    return config, weights(start)


@pytest.mark.distributed
def test_two_processes_train_cellvit_as_one(tmp_path, cellvit_config):
    """Batch 4 in one process, 2 + 2 in two with ``sync_bn='torch'``: the same weights after 4
    steps (float sums in another order: within 1e-5 of the distance trained)."""
    config, start = cellvit_config
    one = train(config, tmp_path / 'one', 1, 4)
    two = train(config, tmp_path / 'two', 2, 2, 'sync_bn=torch')
    gap = relative_difference(two, one, start)
    print(f'CellViT, two processes against one: {gap:.2e} of the distance trained')
    assert gap < 1e-5

    # Without either synchronisation the two processes train another model: CvT's conv
    # projections normalise each process's 2 images; TransFG's contrastive loss compares them.
    for option in ('model.head.contrastive_loss.across_processes=False', 'sync_bn=None'):
        apart = train(config, tmp_path / option, 2, 2, 'sync_bn=torch', option)
        gap = relative_difference(apart, one, start)
        print(f'  with {option}: {gap:.2e}')
        assert gap > 1e-3, option


@pytest.mark.distributed
def test_two_processes_train_cs_arfpn_within_tolerance(tmp_path, tiny_coco):
    """Batch 2 in one process, 1 + 1 in two with ``sync_bn='torch'``. Not equal: mmdet's RPN
    and R-CNN losses average over each process's anchors and proposals, and DDP then averages
    the processes. The stated tolerance: after 4 steps the two runs are apart by under 1% of
    the distance one of them trained (measured: 0.12%)."""
    config = tmp_path / 'tiny_cs_arfpn.py'
    config.write_text(tiny_detector_config(tiny_coco, max_iters=4) + TINY_CS_ARFPN)
    start = save_random_checkpoint(config, tmp_path / 'start.pth', ('rbc', 'wbc'))
    config.write_text(config.read_text() + f'load_from = {start!r}\n')
    one = train(config, tmp_path / 'one', 1, 2)
    two = train(config, tmp_path / 'two', 2, 1, 'sync_bn=torch')
    gap = relative_difference(two, one, weights(start))
    print(f'CS-ARFPN, two processes against one: {gap:.4f} of the distance trained')
    assert gap < 0.01


def gloo_threads():
    """Names of this process's gloo threads (Linux: /proc/self/task/*/comm)."""
    names = (open(f'/proc/self/task/{task}/comm').read().strip()
             for task in os.listdir('/proc/self/task'))
    return [name for name in names if 'gloo' in name]


def test_finish_distributed_joins_gloo_threads_and_is_a_no_op_outside_a_run(tmp_path):
    """A DDP model left in a reference cycle (as a runner leaves it) holds the process group:
    finish_distributed collects it, so destroying the group joins gloo's threads before the
    interpreter exits, where one of them could abort the process."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    finish_distributed()  # no process group: nothing to do
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0,
                            world_size=1)
    runner = dict(model=DistributedDataParallel(torch.nn.Linear(2, 2)))
    runner['self'] = runner
    assert gloo_threads()
    del runner
    finish_distributed()
    assert not dist.is_initialized()
    assert gloo_threads() == []
