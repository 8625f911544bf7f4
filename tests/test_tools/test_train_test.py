"""tools/train.py and tools/test.py, run as a user runs them."""
import pickle

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmcell.compat import load_local_checkpoint

from ..conftest import load_tool, run_tool
from .tiny_config import tiny_classifier_config


@pytest.fixture
def tiny_config(tmp_path, cell_crops):
    path = tmp_path / 'tiny_cls.py'
    path.write_text(tiny_classifier_config(cell_crops))
    return path


def state(path):
    return load_local_checkpoint(str(path), map_location='cpu')


@pytest.mark.trains
def test_train_writes_checkpoints_and_resume_continues_exactly(tmp_path, tiny_config):
    straight, split = tmp_path / 'straight', tmp_path / 'split'
    run_tool('tools/train.py', tiny_config, '--work-dir', straight)
    assert sorted(p.name for p in straight.glob('iter_*.pth')) == ['iter_2.pth', 'iter_4.pth']
    assert state(straight / 'iter_4.pth')['meta']['iter'] == 4

    # Stop after 2 iterations, then `--resume` (auto: the latest checkpoint of the work dir).
    run_tool('tools/train.py', tiny_config, '--work-dir', split, '--cfg-options',
             'train_cfg.max_iters=2')
    proc = run_tool('tools/train.py', tiny_config, '--work-dir', split, '--resume')
    assert 'resumed' in (proc.stdout + proc.stderr).lower()
    resumed, reference = state(split / 'iter_4.pth'), state(straight / 'iter_4.pth')
    assert resumed['meta']['iter'] == 4
    # Deterministic mode, same seed: the resumed run ends where the uninterrupted one does.
    for key, value in reference['state_dict'].items():
        torch.testing.assert_close(resumed['state_dict'][key], value, msg=key)
    for key, value in reference['optimizer']['state'].items():
        torch.testing.assert_close(resumed['optimizer']['state'][key]['momentum_buffer'],
                                   value['momentum_buffer'])


@pytest.mark.trains
def test_resume_restores_iteration_and_optimizer_state(tmp_path, tiny_config):
    work_dir = tmp_path / 'run'
    run_tool('tools/train.py', tiny_config, '--work-dir', work_dir, '--cfg-options',
             'train_cfg.max_iters=2')
    checkpoint = work_dir / 'iter_2.pth'
    cfg = Config.fromfile(str(tiny_config))
    cfg.update(work_dir=str(tmp_path / 'check'), load_from=str(checkpoint), resume=True)
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    assert runner.iter == 2
    saved = state(checkpoint)['optimizer']
    loaded = runner.optim_wrapper.state_dict()
    assert loaded['param_groups'] == saved['param_groups']
    assert saved['state'], 'SGD with momentum keeps a buffer per parameter'
    for key, value in saved['state'].items():
        torch.testing.assert_close(loaded['state'][key]['momentum_buffer'],
                                   value['momentum_buffer'])


@pytest.mark.trains
def test_test_tool_reports_metrics_and_dumps_predictions(tmp_path, tiny_config):
    work_dir = tmp_path / 'run'
    run_tool('tools/train.py', tiny_config, '--work-dir', work_dir, '--cfg-options',
             'train_cfg.max_iters=2')
    out = tmp_path / 'preds.pkl'
    proc = run_tool('tools/test.py', tiny_config, work_dir / 'iter_2.pth', '--work-dir', work_dir,
                    '--out', out)
    assert 'accuracy/top1' in proc.stdout + proc.stderr
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 20 and {'pred_label', 'gt_label'} <= set(preds[0])


@pytest.mark.subprocess
def test_tta_without_tta_config_is_a_clear_error(tmp_path, tiny_config):
    proc = run_tool('tools/test.py', tiny_config, tmp_path / 'none.pth', '--tta', check=False)
    assert proc.returncode != 0
    assert 'defines no tta_model or tta_pipeline' in proc.stderr


@pytest.mark.subprocess
def test_config_without_known_scope_is_a_clear_error(tmp_path):
    cfg = tmp_path / 'no_scope.py'
    cfg.write_text('model = dict()\n')
    proc = run_tool('tools/train.py', cfg, check=False)
    assert proc.returncode != 0 and "default_scope=None" in proc.stderr


def test_amp_flag_picks_bf16_on_cpu_and_resume_flags(tiny_config, monkeypatch):
    tool = load_tool('tools/train.py')
    monkeypatch.setattr('sys.argv', ['train.py', str(tiny_config), '--amp', '--resume'])
    cfg = tool.merge_args(Config.fromfile(str(tiny_config)), tool.parse_args())
    expected = 'AmpOptimWrapper' if torch.cuda.is_available() else 'BF16OptimWrapper'
    assert cfg.optim_wrapper.type == expected
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.work_dir == 'work_dirs/tiny_cls'


@pytest.mark.trains
def test_mmdet_scope_config_trains_tests_and_dumps(tmp_path, tiny_coco):
    from .tiny_config import tiny_detector_config
    cfg = tmp_path / 'tiny_det.py'
    cfg.write_text(tiny_detector_config(tiny_coco))
    work_dir = tmp_path / 'det'
    run_tool('tools/train.py', cfg, '--work-dir', work_dir)
    checkpoint = work_dir / 'iter_2.pth'
    assert state(checkpoint)['meta']['iter'] == 2
    out = tmp_path / 'dets.pkl'
    proc = run_tool('tools/test.py', cfg, checkpoint, '--work-dir', work_dir, '--out', out,
                    '--show-dir', 'painted')
    assert 'coco/bbox_mAP' in proc.stdout + proc.stderr
    with open(out, 'rb') as f:
        dets = pickle.load(f)
    assert len(dets) == 4 and {'bboxes', 'scores', 'labels'} <= set(dets[0]['pred_instances'])
    painted = list(work_dir.glob('*/painted/*.png'))
    assert len(painted) == 4
    # mmcell's detection report: a row per class and overall, and the PR curves.
    (report, ) = work_dir.glob('*/detection_report.csv')
    assert [line.split(',')[0] for line in report.read_text().splitlines()] == \
        ['class', 'rbc', 'wbc', 'overall']
    assert (report.parent / 'pr_curves.png').stat().st_size > 5000


@pytest.mark.trains
def test_mmpretrain_show_dir_paints_predictions(tmp_path, tiny_config):
    work_dir = tmp_path / 'run'
    run_tool('tools/train.py', tiny_config, '--work-dir', work_dir, '--cfg-options',
             'train_cfg.max_iters=2')
    run_tool('tools/test.py', tiny_config, work_dir / 'iter_2.pth', '--work-dir', work_dir,
             '--show-dir', tmp_path / 'painted')
    assert len(list((tmp_path / 'painted').glob('*.png'))) == 20
