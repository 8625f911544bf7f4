"""tools/analysis_tools/autocast_step_time.py: a config's training step, fp32 against autocast."""
import json
import statistics

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmcell.apis import build_model

from ..conftest import load_tool
from .tiny_config import tiny_classifier_config, tiny_detector_config

TOOL = 'tools/analysis_tools/autocast_step_time.py'
HOOK = "\ncustom_hooks = [dict(type='AutocastModulesHook', modules=('backbone', 'neck'))]\n"


@pytest.fixture(scope='module')
def tool():
    return load_tool(TOOL)


def test_variants_take_turns_and_only_the_named_parts_run_in_bf16(tiny_coco, tool):
    cfg = Config.fromstring(tiny_detector_config(tiny_coco), '.py')
    model = build_model(cfg).train()
    with DefaultScope.overwrite_default_scope('mmdet'):
        loader = Runner.build_dataloader(cfg.train_dataloader)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = next(iter(loader))
    seen = []
    for module in (model.backbone.conv1, model.roi_head.bbox_head.shared_fcs[0]):
        module.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    before = model.backbone.conv1.weight.detach().clone()

    seconds = tool.time_steps(model, optim_wrapper, [batch],
                              {'float32': ((), False),
                               'box head': (('roi_head.bbox_head', ), False)},
                              steps=2, warmup=1)
    assert {name: len(times) for name, times in seconds.items()} == {'float32': 2, 'box head': 2}
    assert all(t > 0 for times in seconds.values() for t in times)
    # 3 rounds of (float32 step, box-head step), each one backbone conv and one box-head fc:
    assert seen == [torch.float32, torch.float32, torch.float32, torch.bfloat16] * 3
    assert not hasattr(model.roi_head.bbox_head, '_mmcell_autocast')  # its forward is back
    assert not torch.equal(model.backbone.conv1.weight, before)  # the steps trained


def test_prints_and_writes_the_median_and_speed_up_of_each_variant(tmp_path, tiny_coco, tool,
                                                                    capsys):
    config = tmp_path / 'tiny_det.py'
    config.write_text(tiny_detector_config(tiny_coco) + HOOK)
    out = tmp_path / 'times.json'
    tool.main([str(config), '--steps', '3', '--warmup', '0', '--batches', '2', '--out', str(out)])
    result = json.loads(out.read_text())
    variants = result['variants']
    # Without --parts: float32 and the parts the config's own hook names.
    assert list(variants) == ['float32', 'backbone+neck']
    assert variants['backbone+neck']['parts'] == ['backbone', 'neck']
    for figures in variants.values():
        assert len(figures['seconds']) == 3
        assert figures['median_s'] == statistics.median(figures['seconds'])
        assert figures['speedup'] == pytest.approx(
            variants['float32']['median_s'] / figures['median_s'])
    assert variants['float32']['speedup'] == 1.0 and result['batch_size'] == 2
    printed = capsys.readouterr().out
    assert 'backbone+neck' in printed and f'wrote {out}' in printed

    tool.main([str(config), '--steps', '1', '--warmup', '0', '--batches', '1', '--out', str(out),
               '--parts', 'backbone,neck,rpn_head,roi_head.bbox_head', 'neck'])
    assert list(json.loads(out.read_text())['variants']) == [
        'float32', 'backbone+neck+rpn_head+roi_head.bbox_head', 'neck']

    tool.main([str(config), '--steps', '1', '--warmup', '0', '--batches', '1', '--out', str(out),
               '--channels-last'])
    variants = json.loads(out.read_text())['variants']
    assert {name: v['channels_last'] for name, v in variants.items()} == {
        'float32': False, 'backbone+neck': False, 'backbone+neck, channels-last': True}


def test_a_classifier_is_timed_the_same_way(tmp_path, cell_crops, tool):
    config = tmp_path / 'tiny_cls.py'
    config.write_text(tiny_classifier_config(cell_crops))
    out = tmp_path / 'times.json'
    tool.main([str(config), '--steps', '2', '--warmup', '0', '--parts', 'backbone', '--out',
               str(out)])
    variants = json.loads(out.read_text())['variants']
    assert list(variants) == ['float32', 'backbone']
    assert [len(v['seconds']) for v in variants.values()] == [2, 2]


def test_a_part_the_model_lacks_is_refused_naming_what_it_has(tmp_path, tiny_coco, tool):
    config = tmp_path / 'tiny_det.py'
    config.write_text(tiny_detector_config(tiny_coco))
    out = tmp_path / 'times.json'
    with pytest.raises(ValueError, match=r"no submodule \['roi_head.mask_head'\]; its top-level "
                       r"modules are \['backbone', 'data_preprocessor', 'neck', 'roi_head', "
                       r"'rpn_head'\]"):
        tool.main([str(config), '--parts', 'backbone', 'roi_head.mask_head', '--out', str(out)])
    assert not out.exists()
    with pytest.raises(SystemExit):
        tool.parse_args([str(config), '--steps', '0'])
