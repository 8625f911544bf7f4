"""convert_for_cpu_inference: the same outputs as the plain model, the state dict untouched."""
import copy
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmcell  # noqa: F401 (registers ConvTokenViT and SparseAttentionHead)
from mmcell.engine import convert_for_cpu_inference, cpu_inference
from mmcell.engine.cpu_inference import (OneDNNLinear, blocked_attention, onednn_applies,
                                         onednn_linear)
from mmcell.models.layers import ConvProjectionAttention

CELLVIT = Path(__file__).parents[2] / 'configs' / '_base_' / 'models' / 'cellvit.py'
# CellViT's model config with a small three-stage arch (8x8, then 4x4 tokens; 2x2 keys + CLS).
SMALL_ARCH = dict(embed_dims=[16, 32, 48], num_heads=[1, 2, 3], depths=[1, 1, 3],
                  patch_sizes=[7, 3, 3], strides=[4, 2, 2], paddings=[2, 1, 1])


def build_cellvit(cls_head=False):
    """CellViT (or its CLS-head ablation) from configs/_base_/models/cellvit.py, small, eval."""
    cfg = Config.fromfile(CELLVIT).model
    cfg.backbone.arch = SMALL_ARCH
    cfg.head.update(num_classes=5, in_channels=48, num_layers=2, num_heads=3)
    if cls_head:
        cfg.backbone.out_type = 'cls_token'
        cfg.head = dict(type='LinearClsHead', num_classes=5, in_channels=48)
    torch.manual_seed(0)  # torch's default initialisation: logits of order 1
    return MODELS.build(cfg).eval()


def plain_and_converted(cls_head=False):
    model = build_cellvit(cls_head)
    return model, convert_for_cpu_inference(copy.deepcopy(model))


def logits(model, x, bf16=False):
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        return model(x, mode='tensor').float()


def close_in_bf16(actual, expected):
    """Within bfloat16's resolution (8 bits of mantissa) of the same values."""
    torch.testing.assert_close(actual.float(), expected.float(), atol=0.05, rtol=0.02)


@pytest.fixture(params=[False, True], ids=['fused-attention', 'blocked-attention'])
def blocked(request, monkeypatch):
    """Both CPU kinds: the conversion puts the blocked attention in or leaves SDPA."""
    monkeypatch.setattr(cpu_inference, '_blocked_attention_pays', lambda: request.param)
    return request.param


@pytest.mark.parametrize('cls_head', [False, True], ids=['cellvit', 'cls-head'])
def test_in_float32_the_converted_model_gives_the_plain_outputs(cls_head, blocked):
    plain, fast = plain_and_converted(cls_head)
    x = torch.randn(4, 3, 64, 64)
    torch.testing.assert_close(logits(fast, x), logits(plain, x), atol=1e-5, rtol=1e-5)
    attention = {m.scaled_dot_product_attention for m in fast.modules()
                 if isinstance(m, ConvProjectionAttention)}
    assert attention == {blocked_attention if blocked else F.scaled_dot_product_attention}


def test_in_bf16_the_cls_head_model_gives_the_plain_outputs(blocked):
    plain, fast = plain_and_converted(cls_head=True)
    x = torch.randn(8, 3, 64, 64)
    close_in_bf16(logits(fast, x, bf16=True), logits(plain, x, bf16=True))


def test_in_bf16_cellvit_gives_the_plain_outputs_where_it_picks_the_same_tokens(blocked):
    # Both models round, in different orders. The sparse head's pick is discrete: keys whose
    # CLS attention ties within bf16's resolution go either way, and another token gives
    # other logits; so the backbone's outputs are compared everywhere, the logits where both
    # picked the same tokens (most images).
    plain, fast = plain_and_converted()
    x = torch.randn(8, 3, 64, 64)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        feats, fast_feats = plain.extract_feat(x)[0], fast.extract_feat(x)[0]
        same = (plain.head.select(feats).indices == fast.head.select(fast_feats).indices).all(1)
    close_in_bf16(fast_feats.tokens, feats.tokens)
    torch.testing.assert_close(fast_feats.cls_attention.float(), feats.cls_attention.float(),
                               atol=2**-8, rtol=0)  # a bf16 step below 1
    assert same.sum() >= 6, same
    close_in_bf16(logits(fast, x, bf16=True)[same], logits(plain, x, bf16=True)[same])


def test_the_linear_layers_go_through_onednn_with_the_gelu_fused(blocked):
    plain, fast = plain_and_converted()
    layers = dict(fast.named_modules())
    block = layers['backbone.stages.2.0']
    assert all(type(getattr(block.attn, n)) is OneDNNLinear for n in ('q', 'k', 'v', 'proj'))
    assert block.mlp[0].gelu and isinstance(block.mlp[1], nn.Identity)
    assert type(block.mlp[3]) is OneDNNLinear and not block.mlp[3].gelu
    # The sparse head's part layer (mmpretrain's) and classifier are not CvT layers.
    assert not any(isinstance(m, OneDNNLinear) for m in fast.head.modules())
    assert all(type(m) is nn.Linear for m in plain.backbone.modules()
               if isinstance(m, nn.Linear))  # the copy converted, not the original


def test_the_state_dict_is_unchanged_and_shared():
    model = build_cellvit()
    before = model.state_dict()
    convert_for_cpu_inference(model)
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(after[k].data_ptr() == before[k].data_ptr() for k in before)  # the same tensors
    other = build_cellvit()
    other.load_state_dict(after)  # a converted model's checkpoint loads into a plain one


def test_conversion_is_idempotent(blocked):
    _, fast = plain_and_converted()
    once = repr(fast)
    assert convert_for_cpu_inference(fast) is fast
    assert repr(fast) == once
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(logits(fast, x), logits(fast, x))


def test_models_without_cvt_layers_are_left_alone():
    model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4))
    layers = list(model)
    assert convert_for_cpu_inference(model) is model
    assert list(model) == layers


def test_a_converted_model_trains_as_the_plain_one():
    plain, fast = plain_and_converted()
    x = torch.randn(4, 3, 64, 64)
    samples = [DataSample().set_gt_label(i % 5) for i in range(4)]
    for model in (plain, fast):
        model.train()
        torch.manual_seed(1)  # the same dropout and stochastic depth in both
        sum(model(x, samples, mode='loss').values()).backward()
    for (name, a), b in zip(plain.named_parameters(), fast.parameters()):
        torch.testing.assert_close(b.grad, a.grad, msg=name)


def test_blocked_attention_only_where_avx512_bf16_has_no_amx(monkeypatch):
    for flags, pays in [({'avx512f', 'avx512_bf16'}, True),
                        ({'avx512f', 'avx512_bf16', 'amx_bf16'}, False),
                        ({'avx2'}, False), (set(), False)]:
        monkeypatch.setattr(cpu_inference, '_cpu_flags', lambda: frozenset(flags))
        assert cpu_inference._blocked_attention_pays() is pays, flags


@pytest.mark.parametrize('gelu', [False, True])
@pytest.mark.parametrize('with_bias', [False, True])
def test_float32_inference_equals_f_linear(gelu, with_bias):
    torch.manual_seed(0)
    x = torch.randn(6, 5, 16).transpose(0, 1)  # 3-D and not contiguous
    weight, bias = torch.randn(8, 16), torch.randn(8) if with_bias else None
    expected = F.linear(x, weight, bias)
    expected = F.gelu(expected) if gelu else expected
    with torch.no_grad():
        assert onednn_applies(x, weight)
        out = onednn_linear(x, weight, bias, gelu=gelu)
    assert out.shape == (5, 6, 8) and out.dtype == torch.float32
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_under_bf16_autocast_it_computes_in_bf16_like_f_linear():
    torch.manual_seed(0)
    x, weight, bias = torch.randn(32, 64), torch.randn(48, 64) * 0.1, torch.randn(48)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        out = onednn_linear(x, weight, bias, gelu=True)
        expected = F.gelu(F.linear(x, weight, bias))
    assert out.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected.float(), atol=0.05, rtol=0.02)


def test_gradients_other_dtypes_and_cpus_without_onednn_bf16_take_f_linear(monkeypatch):
    weight = torch.randn(8, 16, requires_grad=True)
    assert not onednn_applies(torch.randn(2, 16), weight)  # a gradient is asked for
    with torch.no_grad():
        assert onednn_applies(torch.randn(2, 16), weight)
        assert not onednn_applies(torch.randn(2, 16, dtype=torch.float64), weight.double())
        monkeypatch.setattr(cpu_inference, '_onednn_bf16', lambda: False)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            assert not onednn_applies(torch.randn(2, 16), weight)
            assert onednn_linear(torch.randn(2, 16), weight).dtype == torch.bfloat16


def test_onednn_linear_trains_and_infers_as_nn_linear():
    torch.manual_seed(0)
    plain = nn.Linear(16, 8)
    fast = OneDNNLinear.from_linear(copy.deepcopy(plain))
    assert list(fast.state_dict()) == ['weight', 'bias']
    x = torch.randn(4, 16)
    for layer in (plain, fast):
        layer(x).square().sum().backward()
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), plain(x), atol=1e-5, rtol=1e-5)
    assert not OneDNNLinear.from_linear(nn.Linear(4, 2, bias=False).eval()).training


def test_the_flop_counter_counts_the_onednn_path_as_the_product():
    from torch.utils.flop_counter import FlopCounterMode
    layer = OneDNNLinear(16, 8, gelu=True).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(torch.randn(3, 5, 16))
    assert counter.get_total_flops() == 2 * 15 * 16 * 8


@pytest.mark.parametrize('num_keys', [17, 257])
def test_blocked_attention_in_bf16_matches_float32_forward_and_backward(num_keys, monkeypatch):
    monkeypatch.setattr(cpu_inference, 'ATTENTION_BLOCK_BYTES', 40 * num_keys * 2 * 4)
    torch.manual_seed(0)  # 6 (batch, head) slices in blocks of 4: a whole block and a part
    q, k, v = (torch.randn(2, 3, n, 16) for n in (40, num_keys, num_keys))
    expected = F.scaled_dot_product_attention(q, k, v, scale=0.25)
    low = [t.bfloat16().requires_grad_() for t in (q, k, v)]
    out = blocked_attention(*low, scale=0.25)
    assert out.shape == (2, 3, 40, 16) and out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected, atol=0.03, rtol=0.02)
    out.float().sum().backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in low)
    # float32 stays in the fused kernel
    torch.testing.assert_close(blocked_attention(q, k, v, scale=0.25), expected)
