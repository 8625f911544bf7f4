import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmcell  # noqa: F401
from mmcell.models.backbones import SparseAttentionInputs
from mmcell.models.heads import distinct_keys


def build_head(**kwargs):
    cfg = dict(type='SparseAttentionHead', num_classes=3, in_channels=32, num_layers=2,
               num_heads=2)
    head = MODELS.build({**cfg, **kwargs})
    head.init_weights()
    return head


def peaked_attention(batch, layers, heads, key_grid, peaks):
    """CLS rows with the given (row, col) key of each head holding most of the weight."""
    hk, wk = key_grid
    att = torch.full((batch, layers, heads, 1 + hk * wk), 0.1)
    for h, (r, c) in enumerate(peaks):
        att[:, :, h, 1 + r * wk + c] = 5.0
    return att / att.sum(-1, keepdim=True)


@pytest.mark.parametrize('grid, key_grid, peaks, expected', [
    # Keys at stride 2 (14x14 tokens, 7x7 keys): key (r, c) stands for token (2r, 2c).
    ((14, 14), (7, 7), [(3, 5), (6, 0)], [6 * 14 + 10, 12 * 14 + 0]),
    # Odd grid: 7x7 tokens, 4x4 keys; the last key row/column maps to token 6.
    ((7, 7), (4, 4), [(3, 3), (0, 1)], [6 * 7 + 6, 0 * 7 + 2]),
    # No key stride: identity.
    ((5, 5), (5, 5), [(4, 1), (2, 2)], [4 * 5 + 1, 2 * 5 + 2]),
])
def test_selection_maps_keys_to_the_right_tokens(grid, key_grid, peaks, expected):
    head = build_head()
    inputs = SparseAttentionInputs(
        torch.randn(2, 1 + grid[0] * grid[1], 32), peaked_attention(2, 2, 2, key_grid, peaks),
        grid, key_grid)
    selection = head.select(inputs)
    assert selection.indices.tolist() == [expected, expected]
    torch.testing.assert_close(selection.layer_weights.sum(1), torch.ones(2))
    # The picked tokens are what the part layer sees after CLS.
    head.part_layer = torch.nn.Identity()
    head.part_norm = torch.nn.Identity()
    assert torch.equal(head.pre_logits((inputs, )), inputs.tokens[:, 0])


def test_literal_mean_squeeze_is_constant_peak_squeeze_is_not():
    attention = [torch.randn(2, 2, 2, 17).softmax(-1) for _ in range(3)]
    mean_head, peak_head = build_head(squeeze='mean'), build_head(squeeze='peak')
    for att in attention:
        # Every softmax row sums to 1, so its mean is 1/17 whatever the input.
        torch.testing.assert_close(mean_head.layer_descriptors(att), torch.full((2, 2), 1 / 17))
    peaks = torch.stack([peak_head.layer_descriptors(att) for att in attention])
    assert peaks.std(0).min() > 0


def test_argmax_heads_peaking_together_pick_one_token_distinct_heads_do_not():
    # Both heads peak at key (1, 1); head 0 more sharply. Key grid 3x3 = token grid.
    att = peaked_attention(2, 2, 2, (3, 3), [(1, 1), (1, 1)])
    att[:, :, 0, 1 + 1 * 3 + 1] += 1.0
    att[:, :, 1, 1 + 0 * 3 + 2] += 0.02  # head 1's second choice: key (0, 2)
    att = att / att.sum(-1, keepdim=True)
    inputs = SparseAttentionInputs(torch.randn(2, 10, 32), att, (3, 3), (3, 3))
    assert build_head(pick='argmax').select(inputs).indices.tolist() == [[4, 4]] * 2
    selection = build_head(pick='distinct').select(inputs)
    assert selection.indices.tolist() == [[4, 2]] * 2
    assert selection.keys.tolist() == [[4, 2]] * 2


@pytest.mark.parametrize('heads, num_keys', [(6, 16), (6, 49), (4, 4), (6, 4)])
def test_distinct_keys_are_distinct_while_keys_last(heads, num_keys):
    attention = torch.randn(5, heads, num_keys).softmax(-1)
    keys = distinct_keys(attention)
    assert keys.shape == (5, heads)
    for image in keys:
        assert len(set(image.tolist())) == min(heads, num_keys)
    # The sharpest head always keeps its own argmax.
    sharpest = attention.amax(-1).argmax(-1)
    rows = torch.arange(5)
    assert torch.equal(keys[rows, sharpest], attention[rows, sharpest].argmax(-1))


def test_straight_through_gradient_reaches_the_picked_key_not_the_argmax():
    # Both heads peak at key 4; head 1 (less sharp) picks its second choice, key 2.
    att = peaked_attention(1, 2, 2, (3, 3), [(1, 1), (1, 1)])
    att[:, :, 0, 1 + 4] += 1.0
    att[:, :, 1, 1 + 2] += 0.02
    att = (att / att.sum(-1, keepdim=True)).requires_grad_()
    head = build_head(pick='distinct')
    head.layer_weights = lambda a: torch.full(a.shape[:2], 0.5)  # only the pick's gradient
    inputs = SparseAttentionInputs(torch.randn(1, 10, 32), att, (3, 3), (3, 3))
    head((inputs, )).sum().backward()
    grad = att.grad[0, :, 1, 1:]  # head 1, every layer, the 9 patch keys
    assert (grad[:, 2] != 0).all()
    assert (grad[:, 4] == 0).all() and (grad[:, [0, 1, 3, 5, 6, 7, 8]] == 0).all()


def test_distinct_pick_keeps_argmax_when_heads_differ_and_gradients_flow():
    inputs = SparseAttentionInputs(
        torch.randn(2, 50, 32, requires_grad=True),
        peaked_attention(2, 2, 2, (7, 7), [(3, 5), (6, 0)]), (7, 7), (7, 7))
    argmax, distinct = build_head(pick='argmax'), build_head(pick='distinct')
    distinct.load_state_dict(argmax.state_dict())
    assert torch.equal(argmax.select(inputs).indices, distinct.select(inputs).indices)
    torch.testing.assert_close(distinct((inputs, )), argmax((inputs, )))
    cls_attention = inputs.cls_attention.clone().requires_grad_()
    distinct((inputs._replace(cls_attention=cls_attention), )).sum().backward()
    assert cls_attention.grad.abs().sum() > 0  # the straight-through gradient reaches the pick


def varied_attention(batch=16, layers=9, heads=6, keys=16, seed=0):
    """CLS rows whose concentration differs by layer and by image."""
    generator = torch.Generator().manual_seed(seed)
    sharpness = 10 ** (2 * torch.rand(batch, layers, 1, 1, generator=generator))
    return (sharpness * torch.randn(batch, layers, heads, 1 + keys, generator=generator)
            ).softmax(-1)


def test_sigmoid_gate_starts_flat_softmax_gate_varies_by_input_and_layer():
    torch.manual_seed(0)
    att = varied_attention()
    flat = build_head(num_layers=9, gate='sigmoid').layer_weights(att)
    varied = build_head(num_layers=9, gate='softmax').layer_weights(att)
    for weights in (flat, varied):
        torch.testing.assert_close(weights.sum(1), torch.ones(16))
    # The paper's gate at the head's initialisation: 1/9 for every layer and image.
    assert (flat - 1 / 9).abs().max() < 1e-3
    # The softmax gate: layers weighted apart within an image, and differently across images.
    assert (varied.amax(1) - varied.amin(1)).mean() > 0.05
    assert varied.std(0).mean() > max(0.01, 100 * flat.std(0).mean())
    # Descriptors standardised per image: scaling the concentration pattern keeps the weights.
    head = build_head(num_layers=9, gate='softmax', squeeze='mean')
    head.layer_descriptors = lambda a: a[..., 1:].amax(-1).mean(-1)
    torch.testing.assert_close(head.layer_weights(att), head.layer_weights(att * 3))


def test_softmax_gate_is_finite_on_equal_layers_and_one_layer():
    uniform = torch.full((2, 3, 2, 17), 1 / 17, requires_grad=True)
    head = build_head(num_layers=3, gate='softmax')
    weights = head.layer_weights(uniform)
    assert torch.isfinite(weights).all()
    torch.testing.assert_close(weights[0], weights[1])  # nothing tells the layers apart
    (weights * torch.arange(3.)).sum().backward()
    assert torch.isfinite(uniform.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in head.excitation.parameters())
    single = torch.rand(2, 1, 2, 17, requires_grad=True)
    one = build_head(num_layers=1, gate='softmax').layer_weights(single)
    torch.testing.assert_close(one, torch.ones(2, 1))
    one.sum().backward()
    assert torch.isfinite(single.grad).all()


def test_softmax_gate_keeps_checkpoint_keys_and_learns():
    sigmoid, softmax = build_head(), build_head(gate='softmax')
    assert sigmoid.state_dict().keys() == softmax.state_dict().keys()
    torch.manual_seed(0)
    model = sparse_classifier(gate='softmax')
    model.init_weights()
    samples = [DataSample().set_gt_label(i % 3) for i in range(4)]
    sum(model(torch.randn(4, 3, 64, 64), samples, mode='loss').values()).backward()
    assert model.head.excitation[2].weight.grad.abs().sum() > 0


def sparse_classifier(**head):
    return MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ConvTokenViT', out_type='sparse_attention',
                      arch=dict(embed_dims=[16, 32], num_heads=[1, 2], depths=[1, 3],
                                patch_sizes=[7, 3], strides=[4, 2], paddings=[2, 1])),
        head=dict(type='SparseAttentionHead', num_classes=3, in_channels=32, num_layers=2,
                  num_heads=2, **head)))


def test_loss_predict_and_gradients_through_image_classifier():
    torch.manual_seed(0)  # the SE step's one hidden unit is alive (ReLU > 0) at this seed
    model = sparse_classifier(contrastive_loss=dict(type='ThresholdedContrastiveLoss',
                                                    loss_weight=0.5))
    x = torch.randn(4, 3, 64, 64)
    samples = [DataSample().set_gt_label(i % 3) for i in range(4)]
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'loss', 'loss_contrastive'}
    sum(losses.values()).backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
    assert model.head.excitation[0].weight.grad.abs().sum() > 0  # SE learns
    model.eval()
    preds = model(x, mode='predict')
    assert len(preds) == 4 and preds[0].pred_score.shape == (3, )
    assert model.extract_feat(x)[0].tokens.shape == (4, 1 + 8 * 8, 32)


def test_without_contrastive_loss_only_cross_entropy():
    model = sparse_classifier()
    samples = [DataSample().set_gt_label(0) for _ in range(2)]
    assert set(model(torch.randn(2, 3, 64, 64), samples, mode='loss')) == {'loss'}


def test_wrong_inputs_are_refused():
    head = build_head()
    with pytest.raises(TypeError, match="out_type='sparse_attention'"):
        head.pre_logits((torch.randn(2, 32), ))
    inputs = SparseAttentionInputs(torch.randn(1, 17, 32), torch.rand(1, 5, 2, 17), (4, 4),
                                   (4, 4))
    with pytest.raises(ValueError, match='num_layers=2'):
        head.pre_logits((inputs, ))
    with pytest.raises(ValueError, match='squeeze'):
        build_head(squeeze='max')
    with pytest.raises(ValueError, match=r"gate must be one of \('sigmoid', 'softmax'\)"):
        build_head(gate='tanh')
    with pytest.raises(ValueError,
                       match=r"pick must be one of \('argmax', 'distinct'\), got 'top'"):
        build_head(pick='top')


def test_contrastive_linear_head_adds_the_loss_to_a_stock_backbone():
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='VisionTransformer', arch=dict(embed_dims=32, num_layers=1,
                                                           num_heads=2, feedforward_channels=64),
                      img_size=32, patch_size=8),
        head=dict(type='ContrastiveLinearClsHead', num_classes=3, in_channels=32,
                  contrastive_loss=dict(type='ThresholdedContrastiveLoss', loss_weight=0.5))))
    x = torch.randn(4, 3, 32, 32)
    samples = [DataSample().set_gt_label(i % 2) for i in range(4)]
    losses = model(x, samples, mode='loss')
    feature = model.head.pre_logits(model.extract_feat(x))
    cos = torch.nn.functional.normalize(feature, dim=1) @ \
        torch.nn.functional.normalize(feature, dim=1).T
    same = torch.tensor([0, 1, 0, 1])[:, None] == torch.tensor([0, 1, 0, 1])[None]
    expected = 0.5 * torch.where(same, 1 - cos, (cos - 0.4).clamp(min=0)).sum() / 16
    torch.testing.assert_close(losses['loss_contrastive'], expected)
    assert set(losses) == {'loss', 'loss_contrastive'}
