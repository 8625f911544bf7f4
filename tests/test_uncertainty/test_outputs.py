import io

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader

import mmcell  # noqa: F401 (registers ConvTokenViT and SparseAttentionHead)
from mmcell.uncertainty.outputs import collect_outputs, final_layer


def loader(num, channels, size, batch_size=2):
    g = torch.Generator().manual_seed(0)
    samples = [dict(inputs=torch.randint(0, 256, (channels, size, size), dtype=torch.uint8,
                                         generator=g),
                    data_samples=DataSample().set_gt_label(k % 3)) for k in range(num)]
    return DataLoader(samples, batch_size=batch_size, collate_fn=pseudo_collate)


def expected(model, data):
    """What the model gives for a batch, the long way round (as test_step preprocesses)."""
    with torch.no_grad():
        data = model.data_preprocessor(data, False)
        feats = model.extract_feat(data['inputs'])
        return model(data['inputs'], mode='tensor'), model.head.pre_logits(feats)


def test_collects_logits_features_and_labels_of_a_linear_head_classifier():
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='LeNet5'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=120),
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[127.5], std=[64.])))
    model.train()
    data = loader(5, 1, 32)
    log = io.StringIO()
    outputs = collect_outputs(model, data, description='validation cells', stream=log)
    assert model.training  # its mode is given back
    assert outputs.logits.shape == (5, 3) and outputs.features.shape == (5, 120)
    assert outputs.labels.tolist() == [0, 1, 2, 0, 1]
    model.eval()
    logits, features = zip(*(expected(model, batch) for batch in data))
    assert torch.allclose(outputs.logits, torch.cat(logits), atol=1e-6)
    assert torch.allclose(outputs.features, torch.cat(features), atol=1e-6)
    lines = log.getvalue().splitlines()  # one progress display: at most 10 lines, ends at 3/3
    assert 1 <= len(lines) <= 10 and lines[-1].startswith('validation cells: 3/3 (100%)')


def test_collects_from_cellvits_sparse_attention_head():
    torch.manual_seed(0)
    arch = dict(embed_dims=[16, 32], num_heads=[1, 2], depths=[1, 3], patch_sizes=[7, 3],
                strides=[4, 2], paddings=[2, 1])
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ConvTokenViT', arch=arch, out_type='sparse_attention'),
        head=dict(type='SparseAttentionHead', num_classes=3, in_channels=32, num_layers=2,
                  num_heads=2),
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[127.5] * 3, std=[64.] * 3)))
    assert final_layer(model.head) is model.head.fc
    data = loader(3, 3, 64)
    outputs = collect_outputs(model, data, stream=io.StringIO())
    logits, features = zip(*(expected(model.eval(), batch) for batch in data))
    assert torch.allclose(outputs.logits, torch.cat(logits), atol=1e-5)
    assert outputs.features.shape == (3, 32)
    assert torch.allclose(outputs.features, torch.cat(features), atol=1e-5)


def test_final_layer_of_the_heads():
    vit = MODELS.build(dict(type='VisionTransformerClsHead', num_classes=4, in_channels=8,
                            hidden_dim=6))
    assert final_layer(vit) is vit.layers.head
    assert final_layer(MODELS.build(dict(type='ClsHead'))) is None


def test_refuses_a_model_without_a_classification_head():
    with pytest.raises(TypeError, match='no head with pre_logits'):
        collect_outputs(torch.nn.Linear(2, 2), [])
