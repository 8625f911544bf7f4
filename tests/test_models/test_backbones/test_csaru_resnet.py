import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

import mmcell  # noqa: F401

SMALL = dict(depth=50, base_channels=8, out_indices=(0, 1, 2, 3))


def build(**kwargs):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(dict(kwargs, type=kwargs.pop('type', 'CSARUResNet')))


def units(model, abbr):
    return [getattr(block, abbr, None) for layer in (model.layer1, model.layer2, model.layer3,
                                                     model.layer4) for block in layer]


@pytest.mark.parametrize('attention, abbr, unit', [
    ('channel', 'c_aru', 'ChannelAttentionUnit'),
    ('channel_spatial', 'cs_aru', 'ChannelSpatialAttentionUnit'),
])
def test_every_bottleneck_gets_a_unit_and_shapes_match_resnet(attention, abbr, unit):
    model = build(attention=attention, **SMALL)
    found = units(model, abbr)
    assert len(found) == 3 + 4 + 6 + 3  # ResNet-50 bottlenecks
    assert all(type(u).__name__ == unit for u in found)
    assert found[-1].channel_weights(torch.randn(1, 256, 2, 2)).shape == (1, 256, 1, 1)
    plain = build(type='ResNet', **SMALL)
    x = torch.randn(2, 3, 64, 64)
    assert [o.shape for o in model(x)] == [o.shape for o in plain(x)]
    assert [o.shape[1] for o in model(x)] == [32, 64, 128, 256]


def test_depth_101_and_stage_selection():
    model = build(depth=101, base_channels=8, attention='channel',
                  attention_stages=(False, True, True, False))
    per_stage = [[getattr(b, 'c_aru', None) is not None for b in layer]
                 for layer in (model.layer1, model.layer2, model.layer3, model.layer4)]
    assert [len(s) for s in per_stage] == [3, 4, 23, 3]
    assert [all(s) for s in per_stage] == [False, True, True, False]
    assert [any(s) for s in per_stage] == [False, True, True, False]


@pytest.mark.parametrize('kwargs, message', [
    (dict(depth=18), 'bottleneck ResNet'),
    (dict(depth=50, attention='spatial'), 'attention must be one of'),
    (dict(depth=50, attention_stages=(True, True)), 'one flag per stage'),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(**kwargs)


@pytest.mark.parametrize('attention', ['channel', 'channel_spatial'])
def test_imagenet_resnet_weights_load_and_gates_start_open(tmp_path, attention):
    torch.manual_seed(0)
    plain = build(type='ResNet', **SMALL, zero_init_residual=False)
    plain.init_weights()
    path = tmp_path / 'resnet.pth'
    torch.save({'state_dict': plain.state_dict()}, path)

    model = build(attention=attention, **SMALL,
                  init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    loaded = model.state_dict()
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(loaded[key], value, msg=key)

    abbr = 'c_aru' if attention == 'channel' else 'cs_aru'
    x = torch.randn(2, 3, 64, 64)
    unit = units(model, abbr)[5]  # in layer2: 64 channels
    weights = unit.channel_weights(torch.randn(2, 64, 8, 8))
    # Whatever the input: sigmoid(3) for each gate.
    torch.testing.assert_close(weights, torch.full_like(weights, torch.sigmoid(torch.tensor(3.))))

    # Open gates keep the pretrained function far better than the default init does.
    plain.eval()
    model.eval()
    # The same ResNet weights, the units at their default init (no pretrained init_cfg).
    scratch = build(attention=attention, **SMALL)
    scratch.load_state_dict(model.state_dict())
    for u in units(scratch, abbr):
        for m in u.modules():
            if hasattr(m, 'reset_parameters'):
                m.reset_parameters()
    scratch.eval()
    with torch.no_grad():
        ref = plain(x)[-1]
        err_open = (model(x)[-1] - ref).norm() / ref.norm()
        err_default = (scratch(x)[-1] - ref).norm() / ref.norm()
    assert err_open < 0.5 * err_default
