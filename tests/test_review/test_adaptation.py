import pytest
import torch
from mmengine.config import Config

from mmcell.review import (CorrectedCell, adaptation_config, finetune, last_stage_prefixes,
                           write_annotation_list)
from mmcell.utils import load_config

from ..conftest import PBC_CLASSES
from ..test_tools.tiny_config import tiny_classifier_config


def state(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def test_freeze_hook_through_the_registry_keeps_frozen_weights_and_statistics(cell_crops,
                                                                             tmp_path):
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS
    from mmengine.runner import Runner
    hook = HOOKS.build(dict(type='FreezeHook', frozen=['backbone'], trainable=['backbone.layer4']))
    assert isinstance(hook, Hook)
    config = tmp_path / 'tiny.py'
    config.write_text(tiny_classifier_config(cell_crops, max_iters=4, custom_hooks=[
        dict(type='FreezeHook', frozen=['backbone'], trainable=['backbone.layer4'])]))
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'run')
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()  # as train() would; train() then leaves them
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    after = runner.model.state_dict()
    for name in ('backbone.conv1.weight', 'backbone.layer1.0.conv1.weight',
                 'backbone.layer3.1.bn2.running_mean', 'backbone.layer2.0.bn1.weight'):
        assert torch.equal(before[name], after[name]), name
    for name in ('backbone.layer4.0.conv1.weight', 'backbone.layer4.0.bn1.running_mean',
                 'head.fc.weight'):
        assert not torch.equal(before[name], after[name]), name


def test_freeze_hook_names_a_prefix_that_matches_nothing(cell_crops, tmp_path):
    from mmengine.runner import Runner
    config = tmp_path / 'tiny.py'
    config.write_text(tiny_classifier_config(cell_crops, max_iters=1, custom_hooks=[
        dict(type='FreezeHook', frozen=['backbone.stages'])]))
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'run')
    with pytest.raises(ValueError, match=r"'backbone.stages' names no part of ImageClassifier "
                       r"\(its parts: \['backbone', 'data_preprocessor', 'head', 'neck'\]\)"):
        Runner.from_cfg(cfg).train()


def test_last_stage_of_known_backbones_and_a_clear_error_for_others():
    assert last_stage_prefixes(dict(type='mmpretrain.ResNet', depth=18)) == ['backbone.layer4']
    assert last_stage_prefixes(dict(type='ConvTokenViT', arch=dict(
        embed_dims=[8, 16], num_heads=[1, 2], depths=[1, 2], patch_sizes=[3, 3],
        strides=[2, 2], paddings=[1, 1])))[:2] == ['backbone.stages.1', 'backbone.embeds.1']
    with pytest.raises(ValueError, match="last stage of a 'SwinTransformer' backbone; fine-tune "
                       "with train='head' or 'all'"):
        last_stage_prefixes(dict(type='SwinTransformer'))


def test_adaptation_config_keeps_the_model_and_pipeline(cell_classifier, tmp_path):
    cfg = load_config(cell_classifier[0])
    tuned = adaptation_config(cfg, cell_classifier[1], tmp_path / 'ann.txt', PBC_CLASSES,
                              tmp_path, train='last-stage', iters=7)
    assert tuned.model == cfg.model
    assert tuned.train_dataloader.dataset.pipeline == cfg.train_dataloader.dataset.pipeline
    assert tuned.train_dataloader.dataset.classes == list(PBC_CLASSES)
    assert tuned.train_cfg == dict(type='IterBasedTrainLoop', max_iters=7)
    assert tuned.val_dataloader is None and tuned.load_from == cell_classifier[1]
    assert tuned.optim_wrapper.optimizer.lr == 3e-4
    assert tuned.custom_hooks == [dict(type='FreezeHook', frozen=['backbone'], trainable=[
        'backbone.stages.2', 'backbone.embeds.2', 'backbone.cls_token'])]  # sparse head: no norm
    with pytest.raises(ValueError, match="train must be one of"):
        adaptation_config(cfg, cell_classifier[1], 'a', PBC_CLASSES, tmp_path, train='neck')


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
    meta = torch.load(checkpoint, map_location='cpu', weights_only=True)['meta']
    assert tuple(meta['dataset_meta']['classes']) == PBC_CLASSES
