import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

import mmcell  # noqa: F401


def build(type_, **kwargs):
    return MODELS.build(dict(type=type_, **kwargs))


@pytest.mark.parametrize('type_', ['ChannelAttentionUnit', 'ChannelSpatialAttentionUnit'])
def test_shape_kept_and_weights_in_unit_interval(type_):
    unit = build(type_, in_channels=32)
    x = torch.randn(2, 32, 9, 7)
    out = unit(x)
    assert out.shape == x.shape
    w = unit.channel_weights(x)
    assert w.shape == (2, 32, 1, 1) and bool(((w > 0) & (w < 1)).all())
    # Each channel is the input scaled by its weight (and, for CS-ARU, by a spatial map).
    assert torch.all(out.abs() <= x.abs() + 1e-6)


def test_channel_unit_is_a_channel_rescaling():
    unit = build('ChannelAttentionUnit', in_channels=16, ratio=4)
    x = torch.randn(1, 16, 5, 5)
    torch.testing.assert_close(unit(x), x * unit.channel_weights(x))
    assert unit.fc[0].out_channels == 4


def test_channel_spatial_unit_uses_max_pooling_and_spatial_map():
    torch.manual_seed(0)
    unit = build('ChannelSpatialAttentionUnit', in_channels=16, ratio=2, kernel_size=3)
    x = torch.randn(1, 16, 6, 6)
    xc = x * unit.channel_weights(x)
    torch.testing.assert_close(unit(x), xc * unit.spatial_weights(xc))
    # A single hot spot changes the max descriptor, so the channel weights, while the mean of
    # the map is held fixed.
    y = x.clone()
    y[0, 0, 0, 0] += 10.0
    y[0, 0, 0, 1] -= 10.0
    assert not torch.allclose(unit.channel_weights(x), unit.channel_weights(y))
    assert unit.spatial_weights(x).shape == (1, 1, 6, 6)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='odd'):
        build('ChannelSpatialAttentionUnit', in_channels=8, kernel_size=4)
    with pytest.raises(ValueError, match='positive'):
        build('ChannelAttentionUnit', in_channels=8, ratio=0)


@pytest.mark.parametrize('type_, abbr', [('ChannelAttentionUnit', 'c_aru'),
                                         ('ChannelSpatialAttentionUnit', 'cs_aru')])
def test_found_as_plugin_by_mmdet_resnet(type_, abbr):
    with DefaultScope.overwrite_default_scope('mmdet'):
        resnet = MODELS.build(dict(
            type='ResNet', depth=50, base_channels=8, out_indices=(0, 1, 2, 3),
            plugins=[dict(cfg=dict(type=type_, ratio=4), position='after_conv3')]))
    block = resnet.layer2[0]
    assert block.after_conv3_plugin_names == [abbr]
    assert type(getattr(block, abbr)).__name__ == type_
    outs = resnet(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [32, 64, 128, 256]
