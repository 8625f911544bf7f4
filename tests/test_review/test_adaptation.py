import pytest
import torch
from mmengine.config import Config

from mmcell.compat.checkpoint_loading import load_local_checkpoint
from mmcell.review import (SCHEDULE, CorrectedCell, adaptation_config, finetune,
                           frozen_stages_for, write_annotation_list)
from mmcell.utils import load_config

from ..conftest import FIVE_CELL_CLASSES, PBC_CLASSES, save_random_checkpoint
from ..test_tools.tiny_config import tiny_classifier_config

TINY_CVT = dict(type='ConvTokenViT', arch=dict(embed_dims=[8, 16], num_heads=[1, 2],
                                               depths=[1, 2], patch_sizes=[3, 3],
                                               strides=[2, 2], paddings=[1, 1]))


def state(path):
    return load_local_checkpoint(str(path), map_location='cpu')['state_dict']


@pytest.mark.parametrize('backbone, last_stage, head', [
    (dict(type='mmpretrain.ResNet', depth=18), 3, 4),  # stem and layer1-3; then layer4 too
    (dict(type='ResNet', depth=18, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1),
          out_indices=(2, )), 2, 3),
    (TINY_CVT, 1, 2),
    (dict(type='EfficientNetLite', arch='lite0'), 8, 9),  # stem, 7 stages, head conv
])
def test_train_parts_are_frozen_stages_of_the_backbone(backbone, last_stage, head):
    assert frozen_stages_for(backbone, 'last-stage') == last_stage
    assert frozen_stages_for(backbone, 'head') == head
    assert frozen_stages_for(backbone, 'all') is None


def test_a_backbone_without_frozen_stages_is_named():
    with pytest.raises(ValueError, match="a LeNet5 backbone has no frozen_stages, so mmcell "
                       r"cannot freeze part of it: fine-tune it with train='all' \(or 'linear'"):
        frozen_stages_for(dict(type='LeNet5'), 'last-stage')


def test_the_schedule_config_loads():
    schedule = Config.fromfile(SCHEDULE)
    assert schedule.optim_wrapper.optimizer.type == 'AdamW'
    assert schedule.train_cfg.type == 'IterBasedTrainLoop'
    assert schedule.param_scheduler[0].type == 'CosineAnnealingLR'
    assert schedule.param_scheduler[0].end == schedule.train_cfg.max_iters
    assert schedule.default_hooks.checkpoint.interval == schedule.train_cfg.max_iters
    assert schedule.val_dataloader is None and schedule.custom_hooks == []


def test_adaptation_config_keeps_the_model_and_pipeline(cell_classifier, tmp_path):
    cfg = load_config(cell_classifier[0])
    tuned = adaptation_config(cfg, cell_classifier[1], tmp_path / 'ann.txt', PBC_CLASSES,
                              tmp_path, train='last-stage', iters=7)
    assert '_delete_' not in str(tuned.to_dict())
    model = tuned.model.to_dict()
    assert model['backbone'].pop('frozen_stages') == 2  # CellViT's stages 0 and 1
    assert model == cfg.model
    assert tuned.train_dataloader.dataset.pipeline == cfg.train_dataloader.dataset.pipeline
    assert tuned.train_dataloader.dataset.classes == list(PBC_CLASSES)
    assert tuned.train_dataloader.batch_size == 16
    assert tuned.train_dataloader.sampler == dict(type='InfiniteSampler', shuffle=True)
    assert tuned.train_cfg == dict(type='IterBasedTrainLoop', max_iters=7)
    assert tuned.optim_wrapper == dict(type='OptimWrapper', optimizer=dict(
        type='AdamW', lr=3e-4, weight_decay=0.05))
    assert tuned.param_scheduler == [dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
                                          end=7, eta_min_ratio=0.01)]
    assert tuned.default_hooks.checkpoint == dict(type='CheckpointHook', by_epoch=False,
                                                  interval=7, max_keep_ckpts=1, save_last=True)
    assert tuned.val_dataloader is None and tuned.test_evaluator is None
    assert tuned.load_from == cell_classifier[1] and tuned.custom_hooks == []
    every = adaptation_config(cfg, cell_classifier[1], 'a', PBC_CLASSES, tmp_path, lr=0.5)
    assert every.model == cfg.model and every.optim_wrapper.optimizer.lr == 0.5
    with pytest.raises(ValueError, match="train must be one of"):
        adaptation_config(cfg, cell_classifier[1], 'a', PBC_CLASSES, tmp_path, train='neck')


def test_the_last_stage_of_a_resnet_trains_and_the_rest_keeps_its_statistics(cell_crops,
                                                                             tmp_path):
    config = tmp_path / 'tiny.py'
    config.write_text(tiny_classifier_config(cell_crops))
    start = save_random_checkpoint(config, tmp_path / 'start.pth', FIVE_CELL_CLASSES)
    crops = sorted(cell_crops.rglob('*.jpg'))
    cells = [CorrectedCell(p.stem, p, '', p.parent.name) for p in crops]
    write_annotation_list(cells, FIVE_CELL_CLASSES, tmp_path / 'ann.txt')
    checkpoint = finetune(load_config(config), start, tmp_path / 'ann.txt',
                          FIVE_CELL_CLASSES, tmp_path / 'run', train='last-stage', iters=2,
                          batch_size=4, log_level='WARNING')
    old, new = state(start), state(checkpoint)
    for name in ('backbone.conv1.weight', 'backbone.layer1.0.conv1.weight',
                 'backbone.layer3.1.bn2.running_mean', 'backbone.layer2.0.bn1.weight'):
        assert torch.equal(old[name], new[name]), name
    for name in ('backbone.layer4.0.conv1.weight', 'backbone.layer4.0.bn1.running_mean',
                 'head.fc.weight'):
        assert not torch.equal(old[name], new[name]), name


def test_finetune_of_the_last_stage_leaves_the_earlier_stages(cell_classifier, synthetic_data,
                                                               tmp_path):
    crops = sorted((synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB').rglob('*.jpg'))[:8]
    cells = [CorrectedCell(p.stem, p, '', p.parent.name) for p in crops]
    write_annotation_list(cells, PBC_CLASSES, tmp_path / 'ann.txt')
    checkpoint = finetune(load_config(cell_classifier[0]), cell_classifier[1],
                          tmp_path / 'ann.txt', PBC_CLASSES, tmp_path / 'run',
                          train='last-stage', iters=1, batch_size=4, log_level='WARNING')
    old, new = state(cell_classifier[1]), state(checkpoint)
    changed = {k for k in old if not torch.equal(old[k], new[k])}
    assert any(k.startswith('backbone.stages.2.') for k in changed)
    assert any(k.startswith('head.') for k in changed)
    assert not [k for k in changed if k.startswith(('backbone.stages.0.', 'backbone.stages.1.',
                                                    'backbone.embeds.0.', 'backbone.embeds.1.'))]


def test_finetune_of_the_head_changes_only_the_head(cell_classifier, synthetic_data, tmp_path):
    crops = sorted((synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB').rglob('*.jpg'))[:12]
    cells = [CorrectedCell(p.stem, p, '', p.parent.name) for p in crops]
    assert write_annotation_list(cells, PBC_CLASSES, tmp_path / 'ann.txt') == 12
    checkpoint = finetune(load_config(cell_classifier[0]), cell_classifier[1],
                          tmp_path / 'ann.txt', PBC_CLASSES, tmp_path / 'run', train='head',
                          iters=2, batch_size=4)
    assert checkpoint == tmp_path / 'run' / 'iter_2.pth'
    old, new = state(cell_classifier[1]), state(checkpoint)
    assert set(old) == set(new)
    changed = {k for k in old if not torch.equal(old[k], new[k])}
    assert changed and all(k.startswith('head.') for k in changed)
    meta = load_local_checkpoint(str(checkpoint), map_location='cpu')['meta']
    assert tuple(meta['dataset_meta']['classes']) == PBC_CLASSES
