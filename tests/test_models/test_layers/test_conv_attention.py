"""ConvProjectionAttention's attention_maps modes: fused CLS rows (default) and full maps."""
import pytest
import torch
from mmpretrain.registry import MODELS

import mmcell  # noqa: F401 (registers ConvTokenViT)
from mmcell.models.layers import ConvProjectionAttention, ConvTransformerBlock
from mmcell.models.layers import conv_attention
from mmcell.models.layers.conv_attention import ConvProjection, attend

TINY = dict(embed_dims=[16, 32], num_heads=[1, 2], depths=[1, 3], patch_sizes=[7, 3],
            strides=[4, 2], paddings=[2, 1])


def twin_layers(**kwargs):
    """The same attention layer with the default and the full mode (same weights), in eval."""
    torch.manual_seed(0)
    default = ConvProjectionAttention(32, 2, **kwargs).eval()
    full = ConvProjectionAttention(32, 2, attention_maps='full', **kwargs).eval()
    full.load_state_dict(default.state_dict())
    return default, full


@pytest.mark.parametrize('num_extra_tokens', [0, 1])
def test_full_mode_gives_the_default_output_and_cls_row(num_extra_tokens):
    default, full = twin_layers()
    x = torch.randn(2, num_extra_tokens + 8 * 8, 32)
    out, row, key_grid = default(x, (8, 8), num_extra_tokens, return_cls_attention=True)
    full_out, full_row, full_key_grid = full(x, (8, 8), num_extra_tokens,
                                             return_cls_attention=True)
    assert default.attention_map is None  # the default mode keeps nothing
    torch.testing.assert_close(full_out, out)
    torch.testing.assert_close(full_row, row)
    assert full_key_grid == key_grid == (4, 4)
    torch.testing.assert_close(full(x, (8, 8), num_extra_tokens), out)  # without the CLS row


def test_the_kept_map_is_the_full_probability_map():
    _, full = twin_layers()
    x = torch.randn(2, 1 + 8 * 8, 32)
    _, row, _ = full(x, (8, 8), num_extra_tokens=1, return_cls_attention=True)
    kept = full.attention_map
    assert kept.shape == (2, 2, 65, 17)  # (B, heads, CLS + 8x8 queries, CLS + 4x4 keys)
    torch.testing.assert_close(kept.sum(-1), torch.ones(2, 2, 65))
    assert (kept >= 0).all()
    torch.testing.assert_close(kept[:, :, 0], row)
    full(torch.randn(3, 1 + 4 * 4, 32), (4, 4), num_extra_tokens=1)
    assert full.attention_map.shape == (3, 2, 17, 5)  # replaced by the next forward's


def test_full_mode_trains_like_the_default():
    default, full = twin_layers(attn_drop=0.)
    x = torch.randn(2, 1 + 8 * 8, 32)
    for layer in (default, full):
        layer.train()
        layer(x, (8, 8), num_extra_tokens=1).square().sum().backward()
    for (name, a), b in zip(default.named_parameters(), full.parameters()):
        torch.testing.assert_close(b.grad, a.grad, msg=name)


def test_attention_dropout_leaves_the_kept_map_a_probability_map():
    layer = ConvProjectionAttention(32, 2, attn_drop=0.5, attention_maps='full').train()
    layer(torch.randn(1, 1 + 8 * 8, 32), (8, 8), num_extra_tokens=1)
    torch.testing.assert_close(layer.attention_map.sum(-1), torch.ones(1, 2, 65))


def test_an_unknown_mode_is_refused_with_the_allowed_ones():
    with pytest.raises(ValueError, match=r"attention_maps must be one of \('cls_row', 'full'\), "
                       r"got 'rows'"):
        ConvProjectionAttention(32, 2, attention_maps='rows')
    with pytest.raises(ValueError, match='attention_maps must be one of'):
        ConvTransformerBlock(32, 2, attn_cfg=dict(attention_maps='all'))


def test_a_config_selects_full_maps_for_every_layer_of_the_backbone():
    torch.manual_seed(0)
    cfg = dict(type='ConvTokenViT', arch=TINY, out_type='sparse_attention')
    default = MODELS.build(cfg).eval()
    full = MODELS.build(dict(cfg, attention_maps='full')).eval()
    full.load_state_dict(default.state_dict())
    layers = [m for m in full.modules() if isinstance(m, ConvProjectionAttention)]
    assert len(layers) == 1 + 2 and all(m.attention_maps == 'full' for m in layers)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, got = default(x)[0], full(x)[0]
    torch.testing.assert_close(got.tokens, expected.tokens)
    torch.testing.assert_close(got.cls_attention, expected.cls_attention)
    # Stage 1 (16x16 tokens, 8x8 keys, no CLS), then the last stage (CLS + 8x8, CLS + 4x4).
    assert [tuple(m.attention_map.shape) for m in layers] == [
        (2, 1, 256, 64), (2, 2, 65, 17), (2, 2, 65, 17)]


@pytest.mark.parametrize('num_keys', [17, 257])
def test_attend_in_bf16_matches_float32_attention_forward_and_backward(num_keys, monkeypatch):
    monkeypatch.setattr(conv_attention, 'ATTENTION_BLOCK_BYTES', 40 * num_keys * 2 * 4)
    torch.manual_seed(0)  # 6 (batch, head) slices in blocks of 4: a whole block and a part
    q, k, v = (torch.randn(2, 3, n, 16) for n in (40, num_keys, num_keys))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=0.25)
    low = [t.bfloat16().requires_grad_() for t in (q, k, v)]
    out = attend(*low, scale=0.25)
    assert out.shape == (2, 3, 40, 16) and out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected, atol=0.03, rtol=0.02)
    out.float().sum().backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in low)


def test_the_depthwise_projection_trains_in_float32_under_cpu_autocast():
    projection = ConvProjection(8, 3, stride=2)
    x = torch.randn(2, 8, 6, 6)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert projection(x).dtype == torch.float32  # gradients: float32's fast backward
        with torch.no_grad():
            assert projection(x).dtype == torch.bfloat16  # inference: autocast's own


def test_the_fused_mlp_gives_the_layers_output_and_keeps_the_keys():
    torch.manual_seed(0)
    block = ConvTransformerBlock(32, 2).eval()
    assert {'mlp.0.weight', 'mlp.3.weight', 'attn.q.weight'} <= set(block.state_dict())
    x = torch.randn(2, 1 + 8 * 8, 32)
    mlp = block.mlp
    assert mlp.fuses_gelu
    with torch.no_grad():
        fused = mlp(x)
        one_by_one = mlp[3](mlp[1](torch.nn.functional.linear(x, mlp[0].weight, mlp[0].bias)))
    torch.testing.assert_close(fused, one_by_one, atol=1e-5, rtol=1e-5)
