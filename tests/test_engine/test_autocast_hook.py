"""AutocastModulesHook: named parts of a model in bfloat16, float32 at their borders."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS as DET_MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import HOOKS, DefaultScope
from mmengine.structures import InstanceData

import mmcell  # noqa: F401 (registers the hook)
from mmcell.engine import autocast_modules

from ..test_tools.tiny_config import tiny_detector_config


def toy_model():
    torch.manual_seed(0)
    return nn.ModuleDict(dict(backbone=nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()),
                              neck=nn.Conv2d(4, 4, 1), head=nn.Linear(4, 2)))


def apply_hook(model, **kwargs):
    hook = HOOKS.build(dict(type='AutocastModulesHook', **kwargs))
    hook.before_run(SimpleNamespace(model=model))
    return hook


def test_named_parts_compute_in_bf16_and_hand_on_float32():
    model = toy_model()
    inner = []
    model.backbone[0].register_forward_hook(lambda m, i, o: inner.append(o.dtype))
    apply_hook(model)
    apply_hook(model)  # a second run (val after train) changes nothing
    x = torch.randn(2, 3, 8, 8)
    features = model.neck(model.backbone(x))
    assert inner == [torch.bfloat16]  # the convolution ran in bf16
    assert features.dtype == torch.float32  # what follows gets float32
    logits = model.head(features.mean(dim=(2, 3)))
    assert logits.dtype == torch.float32
    logits.sum().backward()
    assert all(p.grad.dtype == torch.float32 for p in model.parameters())


def test_unknown_parts_and_dtypes_are_refused_naming_what_exists():
    with pytest.raises(ValueError, match=r"the model has no submodule \['roi_head'\]; its "
                                         r"top-level modules are \['backbone', 'head', 'neck'\]"):
        apply_hook(toy_model(), modules=('backbone', 'roi_head'))
    with pytest.raises(ValueError, match="dtype must be one of"):
        apply_hook(toy_model(), dtype='int8')


def test_a_faster_rcnn_trains_and_predicts_with_a_bf16_backbone_and_neck(tmp_path):
    cfg = Config.fromstring(tiny_detector_config(tmp_path), '.py')
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = DET_MODELS.build(cfg.model)
    model.init_weights()
    apply_hook(model)
    torch.manual_seed(0)
    inputs = torch.randint(0, 255, (2, 3, 96, 96), dtype=torch.uint8)
    samples = []
    for _ in range(2):
        sample = DetDataSample(metainfo=dict(img_shape=(96, 96), ori_shape=(96, 96),
                                             scale_factor=(1., 1.), pad_shape=(96, 96)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[10., 10., 40., 40.]]),
                                           labels=torch.tensor([0]))
        samples.append(sample)
    raw = dict(inputs=list(inputs), data_samples=samples)
    data = model.data_preprocessor(raw, True)
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total) and total.dtype == torch.float32
    total.backward()
    assert model.backbone.conv1.weight.grad.dtype == torch.float32
    model.eval()
    with torch.no_grad():
        predictions = model(**model.data_preprocessor(raw, False), mode='predict')
    assert predictions[0].pred_instances.bboxes.dtype == torch.float32


def test_channels_last_holds_the_weights_so_and_hands_on_contiguous_float32():
    model = toy_model()
    apply_hook(model, channels_last=True)
    conv = model.backbone[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    features = model.neck(model.backbone(torch.randn(2, 3, 8, 8)))
    assert features.dtype == torch.float32 and features.is_contiguous()
    # the weights keep their names and values: a checkpoint loads into a plain model
    plain = toy_model()
    plain.load_state_dict(model.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), model.parameters()))


def test_channels_last_restores_the_layout():
    model = toy_model()
    restore = autocast_modules(model, ['backbone'], channels_last=True)
    assert not model.backbone[0].weight.is_contiguous()
    restore()
    assert model.backbone[0].weight.is_contiguous() and 'forward' not in vars(model.backbone)


def test_a_faster_rcnn_gets_the_same_rois_with_channels_last(tmp_path):
    """mmcv's CPU RoIAlign reads NCHW memory: fed a channels-last neck output it returns wrong
    values. The hook hands on contiguous features, so the box head sees the same RoI features
    either way (up to bf16 rounding of the differently ordered convolutions)."""
    cfg = Config.fromstring(tiny_detector_config(tmp_path), '.py')
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = DET_MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    torch.manual_seed(0)
    inputs = torch.rand(1, 3, 96, 96) * 255
    rois = torch.tensor([[0, 8., 8., 60., 50.], [0, 30., 20., 90., 90.]])

    def roi_features(**hook):
        restore = autocast_modules(model, ['backbone', 'neck'], **hook)
        with torch.no_grad():
            feats = model.extract_feat(model.data_preprocessor(
                dict(inputs=list(inputs.byte())), False)['inputs'])
            out = model.roi_head.bbox_roi_extractor(
                feats[:model.roi_head.bbox_roi_extractor.num_inputs], rois)
        restore()
        return feats, out

    feats, plain = roi_features()
    feats_cl, channels_last = roi_features(channels_last=True)
    assert (channels_last - plain).abs().max() < 0.02 * plain.abs().max()
    assert all(f.is_contiguous() for f in feats_cl)
