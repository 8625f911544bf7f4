"""tools/analysis_tools/bf16_agreement.py: fp32 against bf16 predictions on a test split."""
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from ..conftest import run_tool
from .tiny_config import tiny_classifier_config

TOOL = 'tools/analysis_tools/bf16_agreement.py'


@pytest.mark.subprocess
def test_reports_agreement_and_accuracy_of_both_precisions(tmp_path, cell_crops):
    config = tmp_path / 'tiny_cls.py'
    config.write_text(tiny_classifier_config(cell_crops))
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(tmp_path / 'runner')
    torch.manual_seed(0)
    # The model as tools/test.py builds it: the config's top-level data_preprocessor
    # (mean 128, std 64) is part of it.
    runner = Runner.from_cfg(cfg)
    model, loader = runner.model.eval(), runner.test_dataloader
    assert model.data_preprocessor.std.flatten().tolist() == [64.0] * 3
    expected, labels = [], []
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            expected += model(data['inputs'], mode='tensor').argmax(1).tolist()
            labels += [int(s.gt_label[0]) for s in data['data_samples']]
    checkpoint = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)

    out = tmp_path / 'agreement.json'
    proc = run_tool(TOOL, config, checkpoint, '--batch-size', '8', '--out', out)
    result = json.loads(out.read_text())
    assert result['images'] == len(labels) == 20  # 5 classes x 4 crops
    # The checkpoint's weights were loaded and every image was seen once, in dataset order.
    assert result['fp32_top1'] == expected and result['labels'] == labels
    same = sum(a == b for a, b in zip(result['fp32_top1'], result['bf16_top1']))
    assert result['top1_agreement'] == 100 * same / 20
    assert result['disagreements'] == 20 - same
    assert result['fp32_accuracy'] == 100 * sum(a == b for a, b in zip(expected, labels)) / 20
    assert 0 < result['max_abs_logit_difference'] < 1  # bf16 rounds, but not wildly
    assert result['fp32_img_s'] > 0 and result['bf16_img_s'] > 0  # batches 2 and 3 are timed
    assert '20 test images, batch 8' in proc.stdout
    assert f'top-1 agreement bf16 vs fp32: {result["top1_agreement"]:.2f}%' in proc.stdout


@pytest.mark.subprocess
def test_refuses_a_detection_config(tmp_path):
    proc = run_tool(TOOL, 'configs/cs_arfpn/cs_arfpn_r50_bccd_quick.py', tmp_path / 'none.pth',
                    check=False)
    assert proc.returncode != 0
    assert 'configs/cs_arfpn/cs_arfpn_r50_bccd_quick.py is a mmdet config' in proc.stderr
