"""The shipped classification configs build through the registries and train a step."""
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS

from ..conftest import ROOT


def test_cellvit_synthetic_builds_and_takes_a_training_step(cell_crops):
    cfg = Config.fromfile(str(ROOT / 'configs' / 'cellvit_synthetic.py'))
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'ConvTokenViT'
    assert model.backbone.out_type == 'sparse_attention'
    assert type(model.head).__name__ == 'SparseAttentionHead'
    assert model.head.contrastive_loss.threshold == 0.4

    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=str(cell_crops),
                                  data_prefix=''))
    assert len(dataset) == 20
    batch = [dataset[i] for i in range(4)]
    assert batch[0]['inputs'].shape == (3, 96, 96)  # the pipeline resizes 32 px crops
    data = model.data_preprocessor(
        {k: [b[k] for b in batch] for k in ('inputs', 'data_samples')}, True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss', 'loss_contrastive'}
    total, _ = model.parse_losses(losses)
    total.backward()
    assert torch.isfinite(total)
