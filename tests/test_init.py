"""`import mmcell` registers its components where users' configs look for them."""
import pytest
from mmengine.config import Config


@pytest.mark.parametrize('registry, name', [
    ('mmpretrain.registry.MODELS', 'ThresholdedContrastiveLoss'),
    ('mmpretrain.registry.MODELS', 'ConvTokenViT'),
    ('mmpretrain.registry.MODELS', 'SparseAttentionHead'),
    ('mmengine.registry.OPTIM_WRAPPERS', 'BF16OptimWrapper'),
    ('mmdet.registry.MODELS', 'ChannelAttentionUnit'),
    ('mmdet.registry.MODELS', 'ChannelSpatialAttentionUnit'),
    ('mmdet.registry.MODELS', 'CSARUResNet'),
    ('mmdet.registry.MODELS', 'AttentionFPN'),
])
def test_components_are_registered_in_their_own_registry(registry, name):
    import mmcell  # noqa: F401
    assert name in locate(registry).module_dict
    others = {'mmpretrain.registry.MODELS', 'mmdet.registry.MODELS'} - {registry}
    assert all(name not in locate(other).module_dict for other in others)


def locate(dotted):
    import importlib
    module, attr = dotted.rsplit('.', 1)
    return getattr(importlib.import_module(module), attr)


def test_custom_imports_alone_make_components_buildable(tmp_path):
    from mmpretrain.registry import MODELS
    cfg_file = tmp_path / 'user_config.py'
    cfg_file.write_text("custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)\n"
                        "loss = dict(type='ThresholdedContrastiveLoss', threshold=0.3)\n")
    cfg = Config.fromfile(str(cfg_file))
    loss = MODELS.build(cfg.loss)
    assert type(loss).__name__ == 'ThresholdedContrastiveLoss'
    assert loss.threshold == 0.3


def test_version():
    import mmcell
    assert mmcell.__version__.count('.') == 2
