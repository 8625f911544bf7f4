import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

import mmcell  # noqa: F401

ARGS = dict(in_channels=[8, 16, 32, 64], out_channels=16, num_outs=5)


def build(type_, **kwargs):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(dict(type=type_, **kwargs))


def features():
    return tuple(torch.randn(2, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate([8, 16, 32, 64]))


@pytest.mark.parametrize('extra', [dict(), dict(add_extra_convs='on_input', start_level=1)])
def test_same_outputs_as_fpn_each_level_attended(extra):
    fpn = build('FPN', **ARGS, **extra)
    afpn = build('AttentionFPN', **ARGS, **extra)
    missing, unexpected = afpn.load_state_dict(fpn.state_dict(), strict=False)
    assert unexpected == [] and missing and all(k.startswith('attentions.') for k in missing)
    assert len(afpn.attentions) == 5
    x = features()
    with torch.no_grad():
        plain, attended = fpn(x), afpn(x)
    assert [o.shape for o in attended] == [o.shape for o in plain]
    for unit, p, a in zip(afpn.attentions, plain, attended):
        torch.testing.assert_close(a, unit(p))
        assert not torch.allclose(a, p)


def test_attention_unit_is_configurable():
    afpn = build('AttentionFPN', **ARGS, attention_cfg=dict(type='ChannelAttentionUnit', ratio=4))
    assert all(type(u).__name__ == 'ChannelAttentionUnit' for u in afpn.attentions)
    assert afpn.attentions[0].fc[0].out_channels == 4
