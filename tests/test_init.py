"""`import mmcell` registers its components where users' configs look for them."""
import pytest
from mmengine.config import Config


@pytest.mark.parametrize('registry, name', [
    ('mmpretrain.registry.MODELS', 'ThresholdedContrastiveLoss'),
    ('mmengine.registry.OPTIM_WRAPPERS', 'BF16OptimWrapper'),
])
def test_components_are_registered(registry, name):
    import importlib

    import mmcell  # noqa: F401
    module, attr = registry.rsplit('.', 1)
    assert getattr(importlib.import_module(module), attr).get(name) is not None


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
