"""CvT's layers are plain torch: nn.Linear and F.scaled_dot_product_attention.

The CPU fast paths are an opt-in conversion (tests/test_engine/test_cpu_inference.py)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmcell.models.layers import ConvProjectionAttention, ConvTransformerBlock


def test_the_block_is_plain_layers_with_cvts_keys():
    block = ConvTransformerBlock(32, 2)
    assert {'mlp.0.weight', 'mlp.3.weight', 'attn.q.weight', 'attn.proj.bias'} <= set(
        block.state_dict())
    assert all(type(getattr(block.attn, n)) is nn.Linear for n in ('q', 'k', 'v', 'proj'))
    assert [type(m) for m in block.mlp] == [nn.Linear, nn.GELU, nn.Dropout, nn.Linear,
                                            nn.Dropout]
    assert block.attn.scaled_dot_product_attention is F.scaled_dot_product_attention


@pytest.mark.parametrize('num_extra_tokens', [0, 1])
def test_attention_is_the_explicit_softmax_attention(num_extra_tokens):
    torch.manual_seed(0)
    attn = ConvProjectionAttention(32, 2).eval()
    x = torch.randn(2, num_extra_tokens + 8 * 8, 32)
    cls, patches = x[:, :num_extra_tokens], x[:, num_extra_tokens:]
    cls = cls if num_extra_tokens else None
    q, k, v = (attn._project(conv, linear, patches, cls, (8, 8))[0] for conv, linear in (
        (attn.conv_q, attn.q), (attn.conv_k, attn.k), (attn.conv_v, attn.v)))
    weights = (q @ k.transpose(-2, -1) * 32**-0.5).softmax(-1)  # CvT: scaled by embed_dims
    expected = attn.proj((weights @ v).transpose(1, 2).flatten(2))
    with torch.no_grad():
        torch.testing.assert_close(attn(x, (8, 8), num_extra_tokens), expected)

