"""``train_and_test`` reports the weights a run leaves behind, with an EMA too."""
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmcell.apis import build_model
from mmcell.engine.runs import train_and_test

from ..conftest import run_tool
from ..test_tools.tiny_config import tiny_classifier_config


def predictions(cfg, state_dict):
    """Predicted classes of the test split under ``state_dict``."""
    model = build_model(cfg, init_weights=False).eval()
    model.load_state_dict(state_dict)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        loader = Runner.build_dataloader(cfg.test_dataloader)
    with torch.no_grad():
        return torch.cat([torch.cat([s.pred_label for s in model.test_step(batch)])
                          for batch in loader])


@pytest.mark.trains
def test_the_report_is_that_of_the_checkpoint_an_ema_run_leaves(tmp_path, cell_crops):
    path = tmp_path / 'tiny_ema.py'
    # An average that barely moves from the start: its predictions differ from the trained ones.
    path.write_text(tiny_classifier_config(
        cell_crops, max_iters=8, custom_hooks=[dict(type='EMAHook', momentum=1e-4)],
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))))
    report = train_and_test(Config.fromfile(str(path)), str(tmp_path / 'run'))

    checkpoint = torch.load(tmp_path / 'run' / 'iter_8.pth', weights_only=False)
    averaged = checkpoint['state_dict']  # the EMA's weights, as mmengine saves them
    trained = {k: checkpoint['ema_state_dict'][f'module.{k}'] for k in averaged}
    cfg = Config.fromfile(str(path))
    labels = torch.tensor([i // 4 for i in range(20)])  # 5 class folders x 4 crops, in order
    ema_pred, trained_pred = predictions(cfg, averaged), predictions(cfg, trained)
    assert not torch.equal(ema_pred, trained_pred)
    recall = [(ema_pred[labels == c] == c).float().mean().item() * 100 for c in range(5)]
    assert [row['recall'] for row in report['rows'][:5]] == pytest.approx(recall)
    assert (tmp_path / 'run' / 'test').is_dir()  # the test's own logs

    # tools/test.py on the config the run saved (its test evaluators hold the report already)
    # writes the same report into its own folder, once.
    out = tmp_path / 'retest'
    run_tool('tools/test.py', tmp_path / 'run' / 'tiny_ema.py', tmp_path / 'run' / 'iter_8.pth',
             '--work-dir', out)
    [again] = out.glob('*/classification_report.json')
    assert json.loads(again.read_text())['rows'] == report['rows']
