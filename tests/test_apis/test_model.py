"""mmcell.apis.build_model: a config's model, built in its scope as the Runner builds it."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmcell.apis import build_model
from mmcell.utils import config_scope, load_config

from ..conftest import PBC_CLASSES, ROOT

CELLVIT = ROOT / 'configs' / 'cellvit' / 'cellvit_pbc_quick.py'
DETECTOR = ROOT / 'configs' / 'cs_arfpn' / 'cs_arfpn_r50_bccd_quick.py'
TINY_CLASSIFIER = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvTokenViT', arch=dict(
        embed_dims=[16], num_heads=[1], depths=[1], patch_sizes=[4], strides=[4], paddings=[0])),
    head=dict(type='LinearClsHead', num_classes=3, in_channels=16))


def current_scope():
    instance = DefaultScope.get_current_instance()
    return instance and instance.scope_name


def test_a_classifier_config_builds_in_mmpretrain_with_its_data_preprocessor():
    from mmpretrain.models import ClsDataPreprocessor, ImageClassifier

    from mmcell.models import ConvTokenViT
    cfg = load_config(CELLVIT)
    model = build_model(CELLVIT)
    assert type(model) is ImageClassifier and isinstance(model.backbone, ConvTokenViT)
    assert not model.training
    # The config's top-level data_preprocessor (PBC's mean and std, BGR to RGB) is the model's.
    assert 'data_preprocessor' not in cfg.model and isinstance(model.data_preprocessor,
                                                               ClsDataPreprocessor)
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx(
        cfg.data_preprocessor.mean)
    assert model.data_preprocessor.std.flatten().tolist() == pytest.approx(
        cfg.data_preprocessor.std)
    assert model.data_preprocessor.to_rgb
    assert not hasattr(model, 'dataset_meta')  # no checkpoint, no classes
    assert cfg.model == load_config(CELLVIT).model  # the config is left as it was


def test_a_detector_config_builds_in_mmdet():
    from mmdet.models import DetDataPreprocessor, FasterRCNN
    cfg = load_config(DETECTOR)
    model = build_model(cfg)
    assert isinstance(model, FasterRCNN) and not model.training
    assert isinstance(model.data_preprocessor, DetDataPreprocessor)
    assert model.data_preprocessor.std.flatten().tolist() == pytest.approx(
        cfg.model.data_preprocessor.std)


def test_the_models_own_data_preprocessor_wins_over_the_top_level_one():
    cfg = Config(dict(default_scope='mmpretrain',
                      model=dict(TINY_CLASSIFIER, data_preprocessor=dict(mean=[1.] * 3,
                                                                         std=[2.] * 3)),
                      data_preprocessor=dict(mean=[128.] * 3, std=[64.] * 3)))

    def std(cfg):
        return build_model(cfg, init_weights=False).data_preprocessor.std.flatten().tolist()
    assert std(cfg) == [2.] * 3
    del cfg.model.data_preprocessor
    assert std(cfg) == [64.] * 3


def test_a_checkpoints_weights_and_classes_are_loaded(cell_classifier):
    config, checkpoint = cell_classifier
    saved = torch.load(checkpoint, weights_only=True)
    model = build_model(config, checkpoint)
    assert model.dataset_meta == {'classes': list(PBC_CLASSES)}
    state = model.state_dict()
    assert state.keys() == saved['state_dict'].keys()
    assert all(torch.equal(state[k], v) for k, v in saved['state_dict'].items())
    assert not model.training


def test_init_weights_runs_the_models_initialisation_unless_told_not_to():
    cfg = Config(dict(default_scope='mmpretrain', model=TINY_CLASSIFIER))
    # ConvTokenViT's CLS token starts at zero and its init_weights draws it (std 0.02).
    assert build_model(cfg, init_weights=False).backbone.cls_token.abs().sum() == 0
    assert build_model(cfg).backbone.cls_token.abs().sum() > 0


@pytest.mark.parametrize('scope', [None, 'mmdet', 'mmpretrain'])
def test_the_global_default_scope_is_left_as_it_was(scope):
    if scope:
        DefaultScope.get_instance(f'test-{scope}', scope_name=scope)
    build_model(Config(dict(default_scope='mmpretrain', model=TINY_CLASSIFIER)),
                init_weights=False)
    assert current_scope() == scope


@pytest.mark.parametrize('scope', [None, 'mmseg'])
def test_a_config_in_another_scope_is_refused_as_config_scope_refuses_it(scope):
    cfg = Config(dict(model=TINY_CLASSIFIER, **({'default_scope': scope} if scope else {})))
    with pytest.raises(ValueError) as expected:
        config_scope(cfg)
    with pytest.raises(ValueError) as refused:
        build_model(cfg)
    assert str(refused.value) == str(expected.value)
    assert 'mmcell tools run configs whose default_scope is one of' in str(refused.value)


def test_a_moved_config_is_named_at_its_new_path():
    with pytest.raises(FileNotFoundError, match='configs/cellvit/cellvit_pbc_quick.py'):
        build_model('configs/cellvit_pbc_quick.py')
