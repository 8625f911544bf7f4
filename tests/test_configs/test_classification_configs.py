"""Every shipped classification config builds through the registries and trains a step."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS

from mmcell.apis import build_model

from ..conftest import DATA, ROOT

MUNICH_CONFIGS = {
    # config: (head type, backbone out_type, has the contrastive loss)
    'cellvit/cellvit_munich.py': ('SparseAttentionHead', 'sparse_attention', True),
    'cellvit/cellvit_munich_cls-head.py': ('LinearClsHead', 'cls_token', False),
    'cellvit/cellvit_munich_no-contrastive.py': ('SparseAttentionHead', 'sparse_attention', False),
    'baselines/vit-b16_munich.py': ('LinearClsHead', 'cls_token', False),
    'baselines/vit-b16_munich_contrastive.py': ('ContrastiveLinearClsHead', 'cls_token', True),
}
# Paper Table 7: backbone type of each baseline.
BASELINES = {
    'vgg16_munich.py': 'VGG', 'resnet50_munich.py': 'ResNet', 'resnet152_munich.py': 'ResNet',
    'seresnet50_munich.py': 'SEResNet', 'seresnet101_munich.py': 'SEResNet',
    'efficientnet-b0_munich.py': 'EfficientNet', 'swin-t_munich.py': 'SwinTransformer',
    't2t-vit-14_munich.py': 'T2T_ViT', 'vit-b16_munich.py': 'VisionTransformer',
    'vit-b16_munich_contrastive.py': 'VisionTransformer',
}


def training_step(cfg, data_root, num=2):
    model = build_model(cfg, init_weights=False).train()
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=str(data_root)))
    batch = [dataset[i] for i in range(num)]
    data = model.data_preprocessor(
        {k: [b[k] for b in batch] for k in ('inputs', 'data_samples')}, True)
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    total.backward()
    assert torch.isfinite(total)
    return model, batch, losses


def test_cellvit_pbc_quick_on_synthetic_crops(synthetic_data):
    cfg = Config.fromfile(str(ROOT / 'configs' / 'cellvit' / 'cellvit_pbc_quick.py'))
    assert cfg.train_cfg.max_epochs == cfg.param_scheduler.T_max == 8
    model, batch, losses = training_step(cfg, synthetic_data / 'pbc', num=4)
    assert model.backbone.out_type == 'sparse_attention'
    assert model.head.contrastive_loss.threshold == 0.4
    assert batch[0]['inputs'].shape == (3, 128, 128)  # the pipeline resizes 48 px crops
    assert set(losses) == {'loss', 'loss_contrastive'}


TABLE3_PBC_CONFIGS = {
    # Table 3 on PBC at the quick budget: (head type, gate, pick, has the contrastive loss)
    'cellvit/cellvit_pbc_quick_cls-head.py': ('LinearClsHead', None, None, False),
    'cellvit/cellvit_pbc_quick_no-contrastive.py': ('SparseAttentionHead', 'sigmoid', 'argmax',
                                                    False),
    'cellvit/cellvit_pbc_quick_fixed-head_no-contrastive.py': ('SparseAttentionHead', 'softmax',
                                                               'distinct', False),
    'cellvit/cellvit_pbc_quick.py': ('SparseAttentionHead', 'sigmoid', 'argmax', True),
    'cellvit/cellvit_pbc_quick_fixed-head.py': ('SparseAttentionHead', 'softmax', 'distinct',
                                                True),
    'baselines/vit-s16_pbc_quick.py': ('VisionTransformerClsHead', None, None, False),
    'baselines/resnet50_pbc_quick.py': ('LinearClsHead', None, None, False),
}


@pytest.mark.parametrize('name', TABLE3_PBC_CONFIGS)
def test_table3_pbc_configs_differ_only_in_their_row(name, synthetic_data):
    head, gate, pick, contrastive = TABLE3_PBC_CONFIGS[name]
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    assert cfg.train_cfg.max_epochs == 8 and cfg.optim_wrapper.optimizer.type == 'AdamW'
    model, batch, losses = training_step(cfg, synthetic_data / 'pbc')
    assert type(model.head).__name__ == head and batch[0]['inputs'].shape == (3, 128, 128)
    assert getattr(model.head, 'gate', None) == gate and getattr(model.head, 'pick', None) == pick
    assert ('loss_contrastive' in losses) == contrastive


TABLE3_PRETRAINED_CONFIGS = {
    # Table 3 on pretrained tokens (Lite0's data and schedule): (head, gate, pick, contrastive)
    'efficientnet_lite/efficientnet-lite0_pbc.py': ('LinearClsHead', None, None, False),
    'cellvit/cellvit-lite0-tokens_pbc_cls-head.py': ('LinearClsHead', None, None, False),
    'cellvit/cellvit-lite0-tokens_pbc_no-contrastive.py': ('SparseAttentionHead', 'sigmoid',
                                                           'argmax', False),
    'cellvit/cellvit-lite0-tokens_pbc_fixed-head_no-contrastive.py': (
        'SparseAttentionHead', 'softmax', 'distinct', False),
    'cellvit/cellvit-lite0-tokens_pbc.py': ('SparseAttentionHead', 'sigmoid', 'argmax', True),
    'cellvit/cellvit-lite0-tokens_pbc_fixed-head.py': ('SparseAttentionHead', 'softmax',
                                                       'distinct', True),
}


@pytest.mark.parametrize('name', TABLE3_PRETRAINED_CONFIGS)
def test_table3_pretrained_token_configs_differ_only_in_their_row(name, synthetic_data):
    head, gate, pick, contrastive = TABLE3_PRETRAINED_CONFIGS[name]
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    lite0 = Config.fromfile(str(ROOT / 'configs/efficientnet_lite/efficientnet-lite0_pbc.py'))
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'train_dataloader',
                'test_dataloader'):
        assert cfg[key] == lite0[key], key
    assert cfg.model.data_preprocessor == lite0.model.data_preprocessor  # (x - 127) / 128, RGB
    model, batch, losses = training_step(cfg, synthetic_data / 'pbc')
    assert type(model.head).__name__ == head and batch[0]['inputs'].shape == (3, 128, 128)
    assert getattr(model.head, 'gate', None) == gate and getattr(model.head, 'pick', None) == pick
    assert ('loss_contrastive' in losses) == contrastive
    if name.startswith('cellvit/'):  # 8x8 tokens from Lite0's stride-16 map, 10 blocks
        assert type(model.backbone.token_stem).__name__ == 'EfficientNetLite'
        assert model.backbone.embeds[0].proj.in_channels == 112
        assert sum(map(len, model.backbone.stages)) == 10 - (head == 'SparseAttentionHead')


def test_pretrained_token_bccd_test_config_swaps_only_the_test_set():
    cfg = Config.fromfile(str(ROOT / 'configs/cellvit/cellvit-lite0-tokens_pbc_test-bccd-wbc.py'))
    train = Config.fromfile(str(ROOT / 'configs/cellvit/cellvit-lite0-tokens_pbc.py'))
    assert cfg.model == train.model
    assert cfg.test_dataloader.dataset.type == 'BCCDWBCDataset'
    assert dict(type='CropCell', context=1.9) in cfg.test_dataloader.dataset.pipeline


def paper_recipe(name):
    """Load a Munich config and check it follows the paper's data and schedule."""
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=1e-3, momentum=0.9,
                                               weight_decay=5e-4)
    assert cfg.param_scheduler.milestones == [40, 70, 90] and cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.dataset.classes == \
        ('NGS', 'NGB', 'LYT', 'MON', 'EOS', 'BAS', 'MYO', 'PMO', 'MYB', 'EBO')
    assert cfg.train_dataloader.dataset.pipeline[1] == dict(type='Resize', scale=224)
    return cfg


@pytest.mark.parametrize('name', BASELINES)
def test_baseline_configs(name, munich_aml):
    cfg = paper_recipe(f'baselines/{name}')
    assert cfg.model.get('train_cfg') is None  # no mixup/cutmix: the same data as CellViT
    model, _, losses = training_step(cfg, munich_aml)
    assert type(model.backbone).__name__ == BASELINES[name]
    assert losses['loss'].ndim == 0 and torch.isfinite(losses['loss'])
    assert model.head.loss_module.__class__.__name__ == 'CrossEntropyLoss'


@pytest.mark.parametrize('name', MUNICH_CONFIGS)
def test_munich_configs(name, munich_aml):
    cfg = paper_recipe(name)
    head, out_type, contrastive = MUNICH_CONFIGS[name]
    model, batch, losses = training_step(cfg, munich_aml)
    assert type(model.head).__name__ == head and model.backbone.out_type == out_type
    assert batch[0]['inputs'].shape == (3, 224, 224)
    assert ('loss_contrastive' in losses) == contrastive
    if contrastive:
        assert model.head.contrastive_loss.threshold == 0.4


@pytest.mark.skipif(not (DATA / 'pbc').is_dir(), reason='no PBC data')
@pytest.mark.parametrize('name, backbone', [('cellvit/cellvit_pbc.py', 'ConvTokenViT'),
                                            ('baselines/resnet50_pbc.py', 'ResNet'),
                                            ('baselines/swin-t_pbc.py', 'SwinTransformer')])
def test_pbc_configs_share_data_and_schedule(name, backbone):
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.train_cfg.max_epochs == 25
    model, batch, losses = training_step(cfg, DATA / 'pbc')
    assert type(model.backbone).__name__ == backbone
    assert model.head.num_classes == 8 and batch[0]['inputs'].shape == (3, 128, 128)
    assert ('loss_contrastive' in losses) == (backbone == 'ConvTokenViT')


def with_sibling(name, siblings):
    """The config, the sibling it extends, and the config's training pipeline step types."""
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    sibling = Config.fromfile(str(ROOT / 'configs' / siblings[name]))
    return cfg, sibling, [step['type'] for step in cfg.train_dataloader.dataset.pipeline]


STAIN_CONFIGS = {  # cross-lab recipe config: the plain sibling it extends
    'cellvit/cellvit_pbc_stain.py': 'cellvit/cellvit_pbc.py',
    'cellvit/cellvit_pbc_quick_stain.py': 'cellvit/cellvit_pbc_quick.py',
    'baselines/resnet50_pbc_stain.py': 'baselines/resnet50_pbc.py',
    'baselines/resnet50_pbc_quick_stain.py': 'baselines/resnet50_pbc_quick.py',
}


@pytest.mark.parametrize('name', STAIN_CONFIGS)
def test_stain_configs_change_only_the_training_pipeline(name, synthetic_data):
    cfg, plain, steps = with_sibling(name, STAIN_CONFIGS)
    assert steps == ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'RandomStainJitter',
                     'RandomLabStats', 'GaussianBlur', 'RandomJPEG', 'PackInputs']
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg', 'test_dataloader'):
        assert cfg[key] == plain[key], key
    assert cfg.stain_target.endswith('configs/_base_/datasets/pbc_stain_target.json')
    _, batch, losses = training_step(cfg, synthetic_data / 'pbc', num=2)
    assert batch[0]['inputs'].shape == (3, 128, 128) and torch.isfinite(losses['loss'])


RECIPE_CONFIGS = {  # from-scratch recipe config: the plain sibling it extends
    'cellvit/cellvit_pbc_quick_recipe.py': 'cellvit/cellvit_pbc_quick.py',
    'cellvit/cellvit_pbc_recipe.py': 'cellvit/cellvit_pbc.py',
    'baselines/resnet50_pbc_quick_recipe.py': 'baselines/resnet50_pbc_quick.py',
    'baselines/resnet50_pbc_recipe.py': 'baselines/resnet50_pbc.py',
    'baselines/vit-s16_pbc_quick_recipe.py': 'baselines/vit-s16_pbc_quick.py',
}


@pytest.mark.parametrize('name', RECIPE_CONFIGS)
def test_recipe_configs_add_the_same_recipe_to_their_model(name, synthetic_data):
    cfg, plain, steps = with_sibling(name, RECIPE_CONFIGS)
    assert steps == ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'RandAugment',
                     'PackInputs']
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'test_dataloader'):
        assert cfg[key] == plain[key], key
    assert cfg.model.backbone == plain.model.backbone
    assert cfg.model.train_cfg == dict(augments=[dict(type='Mixup', alpha=0.8),
                                                 dict(type='CutMix', alpha=1.0)])
    assert [hook['type'] for hook in cfg.custom_hooks] == ['EMAHook']

    model, batch, losses = training_step(cfg, synthetic_data / 'pbc', num=4)
    assert type(model.head.loss_module).__name__ == 'LabelSmoothLoss'
    assert len(model.data_preprocessor.batch_augments.augments) == 2
    assert batch[0]['inputs'].shape == (3, 128, 128) and torch.isfinite(losses['loss'])
    # The contrastive loss (CellViT's) takes the mixed batch's soft labels.
    assert ('loss_contrastive' in losses) == ('cellvit' in name)


def test_contrastive_head_takes_mixup_scores(synthetic_data):
    cfg = Config.fromfile(str(ROOT / 'configs' / 'cellvit' / 'cellvit_pbc_quick_recipe.py'))
    model = build_model(cfg, init_weights=False).train()
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        dataset = DATASETS.build(dict(cfg.train_dataloader.dataset,
                                      data_root=str(synthetic_data / 'pbc')))
    batch = [dataset[i] for i in range(4)]
    torch.manual_seed(0)
    data = model.data_preprocessor(
        {k: [b[k] for b in batch] for k in ('inputs', 'data_samples')}, True)
    scores = torch.stack([sample.gt_score for sample in data['data_samples']])
    assert scores.shape == (4, 8) and torch.allclose(scores.sum(1), torch.ones(4))
    feats = model.extract_feat(data['inputs'])
    feature = model.head.pre_logits(feats)
    expected = model.head.contrastive_loss(feature, scores)
    losses = model.head.loss(feats, data['data_samples'])
    assert torch.allclose(losses['loss_contrastive'], expected)


RECIPE_VARIANTS = {  # variant: (the full recipe config, training pipeline, batch augments)
    'cellvit/cellvit_pbc_quick_recipe-no-mix.py': ('cellvit/cellvit_pbc_quick_recipe.py', 'full',
                                                   False),
    'baselines/resnet50_pbc_quick_recipe-no-mix.py': ('baselines/resnet50_pbc_quick_recipe.py',
                                                      'full', False),
    'cellvit/cellvit_pbc_quick_recipe-light.py': ('cellvit/cellvit_pbc_quick_recipe.py', 'light',
                                                  False),
    'baselines/resnet50_pbc_quick_recipe-light.py': ('baselines/resnet50_pbc_quick_recipe.py',
                                                     'light', False),
}


@pytest.mark.parametrize('name', RECIPE_VARIANTS)
def test_recipe_variants_drop_only_what_they_say(name, synthetic_data):
    full_name, pipeline, mixing = RECIPE_VARIANTS[name]
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    full = Config.fromfile(str(ROOT / 'configs' / full_name))
    assert (cfg.model.train_cfg is not None) == mixing
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'custom_hooks'):
        assert cfg[key] == full[key], key
    assert cfg.model.head.loss == full.model.head.loss
    steps = cfg.train_dataloader.dataset.pipeline
    if pipeline == 'full':
        assert steps == full.train_dataloader.dataset.pipeline
    else:
        assert [step['type'] for step in steps] == ['LoadImageFromFile', 'Resize', 'RandomFlip',
                                                    'RandAugment', 'PackInputs']
        assert steps[3]['policies'] == 'simple_increasing'
    model, _, losses = training_step(cfg, synthetic_data / 'pbc', num=2)
    assert model.data_preprocessor.batch_augments is None and torch.isfinite(losses['loss'])


LITE_CONFIGS = {  # config: (arch, input size, training pipeline step types)
    'efficientnet_lite/efficientnet-lite0_pbc.py': ('lite0', 128, [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'ColorJitter', 'PackInputs']),
    'efficientnet_lite/efficientnet-lite0_pbc-192.py': ('lite0', 192, [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'ColorJitter', 'PackInputs']),
    'efficientnet_lite/efficientnet-lite0_pbc_stain.py': ('lite0', 128, [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'RandomStainJitter',
        'RandomLabStats', 'ColorJitter', 'GaussianBlur', 'RandomJPEG', 'PackInputs']),
    'efficientnet_lite/efficientnet-lite0_pbc-192_stain.py': ('lite0', 192, [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'RandomStainJitter',
        'RandomLabStats', 'ColorJitter', 'GaussianBlur', 'RandomJPEG', 'PackInputs']),
    'efficientnet_lite/efficientnet-lite1_pbc.py': ('lite1', 128, [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'ColorJitter', 'PackInputs']),
    'efficientnet_lite/efficientnet-lite2_pbc.py': ('lite2', 128, [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'ColorJitter', 'PackInputs']),
}


@pytest.mark.parametrize('name', LITE_CONFIGS)
def test_efficientnet_lite_configs_start_from_their_imagenet_weights(name, synthetic_data):
    from mmcell.models.backbones.efficientnet_lite import efficientnet_lite_state_dict
    arch, size, steps = LITE_CONFIGS[name]
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    assert [step['type'] for step in cfg.train_dataloader.dataset.pipeline] == steps
    assert cfg.train_cfg.max_epochs == 6 and cfg.optim_wrapper.optimizer.type == 'AdamW'
    model = build_model(cfg)  # initialised as training starts: the ImageNet weights
    stem = efficientnet_lite_state_dict(f'efficientnet-{arch}')['layers.0.conv.weight']
    assert model.backbone.arch_name == arch and torch.equal(model.backbone.layers[0].conv.weight,
                                                            stem)
    assert model.data_preprocessor.mean.flatten().tolist() == [127.0] * 3
    assert model.data_preprocessor.std.flatten().tolist() == [128.0] * 3
    _, batch, losses = training_step(cfg, synthetic_data / 'pbc', num=2)
    assert batch[0]['inputs'].shape == (3, size, size) and torch.isfinite(losses['loss'])
    assert [s['scale'] for s in cfg.test_dataloader.dataset.pipeline if s['type'] == 'Resize'] \
        == [size]


@pytest.mark.skipif(not (DATA / 'bccd' / 'labels.csv').is_file(), reason='no BCCD data')
def test_lite0_bccd_test_config_crops_bccd_white_cells():
    folder = ROOT / 'configs' / 'efficientnet_lite'
    cfg = Config.fromfile(str(folder / 'efficientnet-lite0_pbc_test-bccd-wbc.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) == 341 and dataset[0]['inputs'].shape == (3, 128, 128)
    assert cfg.model == Config.fromfile(str(folder / 'efficientnet-lite0_pbc.py')).model
