"""The shipped detection configs build through the registries and train one step on BCCD."""
import os

import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from ..conftest import DATA, ROOT

CONFIGS = ['faster_rcnn_r50_fpn_bccd.py', 'c_arfpn_r50_bccd.py', 'cs_arfpn_r50_bccd.py']
EXPECTED = {  # backbone, its attention, neck
    'faster_rcnn_r50_fpn_bccd.py': ('ResNet', None, 'FPN'),
    'c_arfpn_r50_bccd.py': ('CSARUResNet', 'ChannelAttentionUnit', 'AttentionFPN'),
    'cs_arfpn_r50_bccd.py': ('CSARUResNet', 'ChannelSpatialAttentionUnit', 'AttentionFPN'),
}
needs_bccd = pytest.mark.skipif(not (DATA / 'bccd' / 'BCCD').is_dir(),
                                reason=f'BCCD not found under {DATA}')


def load(name):
    os.environ.setdefault('MMCELL_DATA', str(DATA))
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    init_default_scope(cfg.default_scope)
    return cfg


@needs_bccd
@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_and_takes_a_training_step_on_bccd(name):
    cfg = load(name)
    assert cfg.train_dataloader.dataset.data_root == f'{DATA}/bccd/'
    model = MODELS.build(cfg.model)
    backbone, unit, neck = EXPECTED[name]
    assert type(model.backbone).__name__ == backbone
    assert type(model.neck).__name__ == neck
    if unit:
        assert type(model.backbone.layer3[0].get_submodule(
            model.backbone.layer3[0].after_conv3_plugin_names[0])).__name__ == unit
        assert type(model.neck.attentions[0]).__name__ == unit
    assert type(model.roi_head.bbox_roi_extractor.roi_layers[0]).__name__ == 'RoIAlign'
    assert model.roi_head.bbox_head.num_classes == 3

    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 205  # BCCD's official train split (all images have boxes)
    assert dataset.metainfo['classes'] == ('RBC', 'WBC', 'Platelets')
    model.train()
    torch.manual_seed(0)
    data = model.data_preprocessor(
        {k: [dataset[i][k] for i in range(2)] for k in ('inputs', 'data_samples')}, True)
    total, log_vars = model.parse_losses(model(**data, mode='loss'))
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'} <= set(log_vars)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.conv1.weight.grad is not None
