"""The shipped detection configs build through the registries and train one step on BCCD."""

import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmdet.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmcell.apis import build_model

from ..conftest import DATA, ROOT, run_tool

CSA, CA = 'ChannelSpatialAttentionUnit', 'ChannelAttentionUnit'
EXPECTED = {  # configs/cs_arfpn/<name>: detector, backbone depth, attention unit, neck, RoI layer
    'faster_rcnn_r50_fpn_bccd.py': ('FasterRCNN', 50, None, 'FPN', 'RoIAlign'),
    'c_arfpn_r50_bccd.py': ('FasterRCNN', 50, CA, 'AttentionFPN', 'RoIAlign'),
    'cs_arfpn_r50_bccd.py': ('FasterRCNN', 50, CSA, 'AttentionFPN', 'RoIAlign'),
    'faster_rcnn_r101_fpn_bccd.py': ('FasterRCNN', 101, None, 'FPN', 'RoIAlign'),
    'c_arfpn_r101_bccd.py': ('FasterRCNN', 101, CA, 'AttentionFPN', 'RoIAlign'),
    'cs_arfpn_r101_bccd.py': ('FasterRCNN', 101, CSA, 'AttentionFPN', 'RoIAlign'),
    'faster_rcnn_r50_fpn_roipool_bccd.py': ('FasterRCNN', 50, None, 'FPN', 'TorchRoIPool'),
    'c_arfpn_r50_roipool_bccd.py': ('FasterRCNN', 50, CA, 'AttentionFPN', 'TorchRoIPool'),
    'cs_arfpn_r50_roipool_bccd.py': ('FasterRCNN', 50, CSA, 'AttentionFPN', 'TorchRoIPool'),
    'retinanet_cs_arfpn_r50_bccd.py': ('RetinaNet', 50, CSA, 'AttentionFPN', None),
    'cascade_rcnn_cs_arfpn_r50_bccd.py': ('CascadeRCNN', 50, CSA, 'AttentionFPN', 'RoIAlign'),
    'faster_rcnn_r50_fpn_bccd_cpu.py': ('FasterRCNN', 50, None, 'FPN', 'RoIAlign'),
    'cs_arfpn_r50_bccd_cpu.py': ('FasterRCNN', 50, CSA, 'AttentionFPN', 'RoIAlign'),
    'cs_arfpn_r50_bccd_cpu_12e.py': ('FasterRCNN', 50, CSA, 'AttentionFPN', 'RoIAlign'),
    'cs_arfpn_r50_bccd_cpu_640x480_12e.py': ('FasterRCNN', 50, CSA, 'AttentionFPN', 'RoIAlign'),
    'cs_arfpn_r50_bccd_cpu_480x360_12e.py': ('FasterRCNN', 50, CSA, 'AttentionFPN', 'RoIAlign'),
}
needs_bccd = pytest.mark.skipif(not (DATA / 'bccd' / 'BCCD').is_dir(),
                                reason=f'BCCD not found under {DATA}')


def load(name):
    cfg = Config.fromfile(str(ROOT / 'configs' / 'cs_arfpn' / name))
    init_default_scope(cfg.default_scope)
    return cfg


# The fast tier steps the baseline and CS-ARFPN R50; the siblings (R101, RoIPool, the CPU budget,
# RetinaNet, Cascade R-CNN) build the same parts in other combinations.
FAST_TIER = ('faster_rcnn_r50_fpn_bccd.py', 'cs_arfpn_r50_bccd.py')


@needs_bccd
@pytest.mark.parametrize('name', [
    name if name in FAST_TIER else pytest.param(name, marks=pytest.mark.every_config)
    for name in EXPECTED])
def test_config_builds_and_takes_a_training_step_on_bccd(name):
    cfg = load(name)
    assert cfg.train_dataloader.dataset.data_root == f'{DATA}/bccd/'
    assert cfg.optim_wrapper.optimizer.momentum == 0.9
    assert cfg.optim_wrapper.optimizer.weight_decay == 1e-4
    assert cfg.param_scheduler[-1].type == 'MultiStepLR'  # step schedule
    model = build_model(cfg, init_weights=False)
    detector, depth, unit, neck, roi_layer = EXPECTED[name]
    assert type(model).__name__ == detector and model.backbone.depth == depth
    assert type(model.backbone).__name__ == ('CSARUResNet' if unit else 'ResNet')
    assert type(model.neck).__name__ == neck
    if unit:
        block = model.backbone.layer3[0]
        assert type(block.get_submodule(block.after_conv3_plugin_names[0])).__name__ == unit
        assert type(model.neck.attentions[0]).__name__ == unit
    if roi_layer:
        extractors = model.roi_head.bbox_roi_extractor
        for extractor in extractors if isinstance(extractors, nn.ModuleList) else [extractors]:
            assert type(extractor.roi_layers[0]).__name__ == roi_layer
        heads = model.roi_head.bbox_head
        assert all(h.num_classes == 3 for h in (heads if isinstance(heads, nn.ModuleList)
                                                else [heads]))
        # Smallest anchor 32 px (the paper's best for CS-ARFPN): scale 8 x stride 4.
        generator = model.rpn_head.prior_generator
        assert generator.strides[0] == (4, 4) and generator.scales.tolist() == [8.0]
    else:
        assert model.bbox_head.num_classes == 3
        assert model.bbox_head.prior_generator.base_sizes[0] * 4 == 32  # octave scale 4

    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 205  # BCCD's official train split (all images have boxes)
    assert dataset.metainfo['classes'] == ('RBC', 'WBC', 'Platelets')
    model.train()
    torch.manual_seed(0)
    data = model.data_preprocessor(
        {k: [dataset[i][k] for i in range(2)] for k in ('inputs', 'data_samples')}, True)
    total, log_vars = model.parse_losses(model(**data, mode='loss'))
    assert any(k.startswith('loss_cls') or k.endswith('loss_cls') for k in log_vars)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.conv1.weight.grad is not None


def test_quick_config_trains_a_step_on_synthetic_smears(synthetic_data, monkeypatch):
    monkeypatch.setenv('MMCELL_DATA', str(synthetic_data))
    cfg = Config.fromfile(str(ROOT / 'configs' / 'cs_arfpn' / 'cs_arfpn_r50_bccd_quick.py'))
    init_default_scope(cfg.default_scope)
    assert cfg.train_cfg.max_epochs == 6 and cfg.train_dataloader.batch_size == 4
    model = build_model(cfg, init_weights=False)
    assert type(model.backbone).__name__ == 'CSARUResNet'
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 4  # the synthetic train split
    sample = dataset[0]
    assert sample['inputs'].shape == (3, 240, 320)  # 320x240 smears stay at the quick scale
    model.train()
    data = model.data_preprocessor(
        {k: [dataset[i][k] for i in range(2)] for k in ('inputs', 'data_samples')}, True)
    total, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(total)


CHULA = DATA / 'chula_rbc12'
CHULA_CONFIGS = {'faster_rcnn_r50_fpn_chula.py': ('ResNet', 'FPN'),
                 'c_arfpn_r50_chula.py': ('CSARUResNet', 'AttentionFPN'),
                 'cs_arfpn_r50_chula.py': ('CSARUResNet', 'AttentionFPN')}


@pytest.fixture(scope='module')
def chula_boxes(tmp_path_factory):
    """Boxes and the seeded split of the real Chula-RBC-12 files, as the dataset base says."""
    out = tmp_path_factory.mktemp('chula') / 'annotations.json'
    run_tool('tools/dataset_converters/chula_to_coco.py', CHULA, out, '--split', '0.7', '0.15',
             '0.15', '--seed', '0')
    return out.parent


@pytest.mark.skipif(not CHULA.is_dir(), reason=f'no Chula-RBC-12 at {CHULA}')
@pytest.mark.parametrize('name', [
    name if name == 'cs_arfpn_r50_chula.py' else pytest.param(name, marks=pytest.mark.every_config)
    for name in CHULA_CONFIGS])
def test_chula_configs_build_and_take_a_training_step(name, chula_boxes, monkeypatch):
    monkeypatch.setenv('MMCELL_CHULA_BOXES', str(chula_boxes))
    cfg = load(name)
    model = build_model(cfg, init_weights=False)
    backbone, neck = CHULA_CONFIGS[name]
    assert (type(model.backbone).__name__, type(model.neck).__name__) == (backbone, neck)
    assert model.roi_head.bbox_head.num_classes == 13
    datasets = {part: DATASETS.build(cfg[f'{part}_dataloader'].dataset)
                for part in ('train', 'val', 'test')}
    # 175/38/37 images; training leaves out 56.jpg, whose label file is empty (filter_empty_gt)
    assert {part: len(d) for part, d in datasets.items()} == dict(train=174, val=38, test=37)
    assert {type(d).__name__ for d in datasets.values()} == {'CellCocoDataset'}  # labels by name
    dataset = datasets['train']
    assert dataset.metainfo['classes'][9] == 'schistocyte'
    sample = dataset[0]
    assert sample['inputs'].shape == (3, 480, 640)  # native size: red cells keep ~38 px
    model.train()
    torch.manual_seed(0)
    data = model.data_preprocessor(
        {k: [dataset[i][k] for i in range(2)] for k in ('inputs', 'data_samples')}, True)
    total, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(total)


@pytest.mark.parametrize('name', CHULA_CONFIGS)
def test_chula_cpu_siblings_change_only_schedule_precision_and_rois(name):
    full, cpu = load(name), load(name.replace('.py', '_cpu.py'))
    for key in ('train_dataloader', 'test_dataloader', 'test_evaluator'):
        assert cpu[key] == full[key], key
    # 256 sampled RoIs an image, half positive: mmdet's 128 positives, half its negatives
    sampler = cpu.model.train_cfg.rcnn.sampler
    assert (sampler.num, sampler.pos_fraction) == (256, 0.5)
    assert full.model.train_cfg.rcnn.sampler.num * full.model.train_cfg.rcnn.sampler.pos_fraction \
        == sampler.num * sampler.pos_fraction
    cpu.model.train_cfg.rcnn.sampler = full.model.train_cfg.rcnn.sampler
    assert cpu.model == full.model
    assert (full.train_cfg.max_epochs, cpu.train_cfg.max_epochs) == (12, 12)
    assert cpu.param_scheduler[1].milestones == [8, 11] and cpu.optim_wrapper.optimizer.lr == 0.005
    four_parts = ('backbone', 'neck', 'rpn_head', 'roi_head.bbox_head')
    assert cpu.custom_hooks == [dict(type='AutocastModulesHook', modules=four_parts,
                                     channels_last=True)]
    # the BCCD CPU configs run the same optimiser for 6 epochs, the same parts in bf16 (NCHW)
    bccd = load('faster_rcnn_r50_fpn_bccd_cpu.py')
    assert bccd.optim_wrapper == cpu.optim_wrapper and bccd.train_cfg.max_epochs == 6
    assert bccd.custom_hooks == [dict(type='AutocastModulesHook', modules=four_parts)]


def test_bccd_12_epoch_sibling_changes_only_the_schedule():
    six, twelve = load('cs_arfpn_r50_bccd_cpu.py'), load('cs_arfpn_r50_bccd_cpu_12e.py')
    assert (twelve.train_cfg.max_epochs, twelve.train_cfg.val_interval) == (12, 6)
    assert [s.type for s in twelve.param_scheduler] == ['LinearLR', 'MultiStepLR']
    assert (twelve.param_scheduler[1].milestones, twelve.param_scheduler[1].end) == ([8, 11], 12)
    assert twelve.param_scheduler[0] == six.param_scheduler[0]  # the same warm-up
    for key in ('model', 'train_dataloader', 'test_dataloader', 'optim_wrapper', 'custom_hooks'):
        assert twelve[key] == six[key], key


@pytest.mark.parametrize('name,scale', [('cs_arfpn_r50_bccd_cpu_640x480_12e.py', (640, 480)),
                                        ('cs_arfpn_r50_bccd_cpu_480x360_12e.py', (480, 360))])
def test_bccd_larger_input_siblings_change_only_the_input_size_and_memory_layout(name, scale):
    half, larger = load('cs_arfpn_r50_bccd_cpu_12e.py'), load(name)

    def resize_scales(cfg):
        return [[step.get('scale') for step in cfg[split].dataset.pipeline if step.type == 'Resize']
                for split in ('train_dataloader', 'val_dataloader', 'test_dataloader')]

    assert resize_scales(half) == [[(320, 240)]] * 3
    assert resize_scales(larger) == [[scale]] * 3
    assert larger.custom_hooks == [dict(half.custom_hooks[0], channels_last=True)]
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert larger[key] == half[key], key


PBC_INIT = ['faster_rcnn_r50_fpn_chula_cpu_pbc-init.py', 'c_arfpn_r50_chula_cpu_pbc-init.py',
            'cs_arfpn_r50_chula_cpu_pbc-init.py']


@pytest.mark.parametrize('name', PBC_INIT)
def test_pbc_init_siblings_load_only_the_backbone(name, tmp_path, monkeypatch):
    """The ResNet-50 weights of an mmpretrain classifier go into the backbone, nothing else."""
    classifier = nn.Module()  # an mmpretrain ImageClassifier's keys: backbone.*, head.fc.*
    classifier.backbone = build_model(load('faster_rcnn_r50_fpn_chula_cpu.py'),
                                      init_weights=False).backbone
    classifier.head = nn.Module()
    classifier.head.fc = nn.Linear(2048, 8)
    ckpt = tmp_path / 'resnet50_pbc.pth'
    torch.save(dict(state_dict=classifier.state_dict()), ckpt)
    monkeypatch.setenv('MMCELL_PBC_RESNET50', str(ckpt))

    cfg, scratch = load(name), load(name.replace('_pbc-init', ''))
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', prefix='backbone.', checkpoint=str(ckpt))
    assert scratch.model.backbone.init_cfg is None
    scratch.model.backbone.init_cfg = cfg.model.backbone.init_cfg
    assert cfg.model == scratch.model  # the same detector otherwise
    model = build_model(cfg)  # init_weights() loads the checkpoint
    for key, value in classifier.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key
    if type(model.backbone).__name__ == 'CSARUResNet':  # the units are not in the classifier
        block = model.backbone.layer1[0]
        assert block.get_submodule(block.after_conv3_plugin_names[0]) is not None


@pytest.mark.skipif(not CHULA.is_dir(), reason=f'no Chula-RBC-12 at {CHULA}')
def test_class_aware_sibling_draws_rare_fields_more_often(chula_boxes, monkeypatch):
    from mmdet.registry import DATA_SAMPLERS
    monkeypatch.setenv('MMCELL_CHULA_BOXES', str(chula_boxes))
    cfg = load('faster_rcnn_r50_fpn_chula_cpu_class-aware.py')
    base = load('faster_rcnn_r50_fpn_chula_cpu.py')
    assert cfg.train_dataloader.sampler == dict(type='ClassAwareSampler', num_sample_class=1)
    for key in ('model', 'train_cfg', 'param_scheduler', 'optim_wrapper'):
        assert cfg[key] == base[key], key
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    classes = dataset.metainfo['classes']
    fields_of = {c: {i for i in range(len(dataset)) if c in dataset.get_cat_ids(i)}
                 for c in range(len(classes))}
    rarest = min(fields_of, key=lambda c: len(fields_of[c]))
    assert classes[rarest] == 'elliptocyte' and len(fields_of[rarest]) == 7

    def share(sampler_cfg):
        sampler = DATA_SAMPLERS.build(sampler_cfg, default_args=dict(dataset=dataset, seed=0))
        draws = []
        for epoch in range(10):
            sampler.set_epoch(epoch)
            draws += list(sampler)
        assert len(draws) == 10 * len(dataset)  # the same epoch length
        return sum(i in fields_of[rarest] for i in draws) / len(draws)

    # by default the 7 of 174 fields come up 4% of the time; class-aware, at least once in the
    # 13 draws of a class cycle (more when they hold other classes too)
    assert share(base.train_dataloader.sampler) == pytest.approx(7 / 174, abs=0.01)
    assert share(cfg.train_dataloader.sampler) >= 1 / 13 - 0.01


@pytest.mark.skipif(not CHULA.is_dir(), reason=f'no Chula-RBC-12 at {CHULA}')
def test_rare_flips_sibling_trains_on_the_flipped_copies(chula_boxes, tmp_path, monkeypatch):
    flips = tmp_path / 'flips'
    rare = ['macrocyte', 'microcyte', 'teardrop', 'burr cell', 'schistocyte', 'uncategorised',
            'elliptocyte']
    run_tool('tools/dataset_converters/tile_smears.py', '--coco',
             chula_boxes / 'annotations_train.json', '--img-dir', CHULA, '--out', flips,
             '--format', 'coco', '--tile-size', '480', '640', '--overlap', '0',
             '--flip-classes', *rare)
    monkeypatch.setenv('MMCELL_CHULA_BOXES', str(chula_boxes))
    monkeypatch.setenv('MMCELL_CHULA_FLIPS', str(flips))
    cfg = load('faster_rcnn_r50_fpn_chula_cpu_rare-flips.py')
    base = load('faster_rcnn_r50_fpn_chula_cpu.py')
    flipped, fields = DATASETS.build(cfg.train_dataloader.dataset), \
        DATASETS.build(base.train_dataloader.dataset)
    names = [osp.basename(flipped.get_data_info(i)['img_path']) for i in range(len(flipped))]
    copies = [n for n in names if n.endswith('_flip.jpg')]
    assert len(names) - len(copies) == len(fields) == 174
    rare_ids = [fields.metainfo['classes'].index(c) for c in rare]
    holding_rare = sum(bool(set(fields.get_cat_ids(i)) & set(rare_ids))
                       for i in range(len(fields)))
    assert len(copies) == holding_rare > 100
    # the same labels as the fields they copy (by name: the tool keeps Chula's category order,
    # and CellCocoDataset would label by name even if it did not)
    labels = {osp.basename(info['img_path']).replace('.jpg', '_000.jpg'):
              sorted(box['bbox_label'] for box in info['instances'])
              for info in map(fields.get_data_info, range(len(fields)))}
    for i, name in enumerate(names):
        copied = labels[name.replace('_flip', '')]
        assert sorted(box['bbox_label'] for box in flipped.get_data_info(i)['instances']) == \
            copied, name
    sample = flipped[names.index(copies[0])]
    assert sample['inputs'].shape == (3, 480, 640)
    # the baseline's iterations and steps, counted in iterations
    iters_per_epoch = -(-len(fields) // base.train_dataloader.batch_size)
    assert cfg.train_cfg.max_iters == base.train_cfg.max_epochs * iters_per_epoch
    assert cfg.param_scheduler[1].milestones == [
        m * iters_per_epoch for m in base.param_scheduler[1].milestones]
    assert cfg.val_dataloader == base.val_dataloader and cfg.model == base.model
