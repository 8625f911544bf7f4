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


STACK_STATE = '''
import json, sys
import mmcv.ops
import torch.serialization
from mmengine.fileio.backends import backends, prefix_to_backends
from mmengine.runner import CheckpointLoader

def state():
    return dict(loader=CheckpointLoader._schemes[''].__module__,
                backends={k: v.__module__ for k, v in backends.items()},
                prefixes={k: v.__module__ for k, v in prefix_to_backends.items()},
                ops=sorted(n for n in dir(mmcv.ops)
                           if 'mmcell' in getattr(getattr(mmcv.ops, n), '__module__', '')),
                safe_globals=sorted(str(t) for t in torch.serialization.get_safe_globals()
                                    if 'mmcell' in str(t)))

before = state()
import {module}
print(json.dumps(dict(before=before, after=state())))
'''


def stack_state(module):
    """mmengine's checkpoint loader and file backends, mmcell's names in mmcv.ops and in
    torch's allow list, before and after importing ``module`` in a fresh process."""
    import json
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, '-c', STACK_STATE.replace('{module}', module)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.subprocess
def test_import_mmcell_leaves_the_stack_as_it_was():
    found = stack_state('mmcell')
    assert found['after'] == found['before']
    assert found['before']['loader'] == 'mmengine.runner.checkpoint'


@pytest.mark.subprocess
def test_configs_ask_for_the_checkpoint_mends_explicitly():
    found = stack_state('mmcell.compat.apply')
    assert found['after']['loader'] == 'mmcell.compat.checkpoint_loading'
    assert found['after']['prefixes'][''] == 'mmcell.compat.atomic_checkpoints'
    assert found['after']['ops'] == found['before']['ops']  # mmcv.ops untouched
    cfg = Config.fromfile('configs/efficientnet_lite/efficientnet-lite0_pbc_stain.py')
    assert cfg.custom_imports.imports == ['mmcell', 'mmcell.compat.apply']
