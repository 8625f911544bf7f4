"""The configs' layout: one folder per algorithm, old flat paths failing with the new path, the
unchanged ``_base_`` files and component names user configs rely on, and the metafiles."""
import pytest
import yaml
from mmengine.registry import MODEL_WRAPPERS, DefaultScope

from mmcell.apis import build_model
from mmcell.utils import MOVED_CONFIGS, load_config, set_work_dir

from ..conftest import ROOT, run_tool

CONFIGS = ROOT / 'configs'
ENTRY_POINTS = {'cellvit_munich.py': 'cellvit/cellvit_munich.py',
                'cs_arfpn_r50_bccd.py': 'cs_arfpn/cs_arfpn_r50_bccd.py'}
METAFILES = ('cellvit', 'cs_arfpn', 'baselines', 'efficientnet_lite', 'lite_fpn')


def test_an_old_path_names_the_new_one(monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(FileNotFoundError, match='configs/cellvit/cellvit_pbc.py'):
        load_config('configs/cellvit_pbc.py')


def test_a_user_config_inheriting_an_old_path_names_the_new_one(tmp_path):
    user = tmp_path / 'my_detector.py'
    user.write_text(f"_base_ = [{str(CONFIGS / 'faster_rcnn_r50_fpn_bccd.py')!r}]\n")
    new = str(CONFIGS / 'cs_arfpn' / 'faster_rcnn_r50_fpn_bccd.py')
    with pytest.raises(FileNotFoundError, match='change its _base_') as err:
        load_config(user)
    assert new in str(err.value) and str(user) in str(err.value)


def test_every_moved_config_is_at_its_new_path_and_not_at_the_old():
    for old, new in MOVED_CONFIGS.items():
        assert (CONFIGS / new).is_file(), new
        assert not (CONFIGS / old).exists(), old
    flat = {p.name for p in CONFIGS.glob('*.py')}
    assert flat == set(ENTRY_POINTS), 'configs/ holds only the entry points at the top'


@pytest.mark.parametrize('entry, twin', ENTRY_POINTS.items())
def test_entry_points_are_their_folder_twins(entry, twin):
    cfg, twin_cfg = load_config(CONFIGS / entry), load_config(CONFIGS / twin)
    assert cfg.model.to_dict() == twin_cfg.model.to_dict()
    assert cfg.default_scope == twin_cfg.default_scope
    set_work_dir(cfg)
    set_work_dir(twin_cfg)
    assert cfg.work_dir == twin_cfg.work_dir == f'work_dirs/{entry[:-3]}'


USER_CLASSIFIER = """_base_ = [{models!r}, {datasets!r}, {schedules!r}]
custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)
model = dict(backbone=dict(type='ConvTokenViT', arch='cvt-13'),
             head=dict(type='SparseAttentionHead', num_classes=8))
optim_wrapper = dict(type='BF16OptimWrapper')
model_wrapper_cfg = dict(type='CPUDistributedDataParallel')
"""
USER_DETECTOR = """_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py', {datasets!r},
          'mmdet::_base_/schedules/schedule_1x.py', 'mmdet::_base_/default_runtime.py']
custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)
model = dict(
    backbone=dict(type='CSARUResNet', attention='channel_spatial', init_cfg=None),
    neck=dict(type='AttentionFPN',
              attention_cfg=dict(type='ChannelSpatialAttentionUnit', ratio=16)),
    roi_head=dict(bbox_roi_extractor=dict(
        type='TorchRoIExtractor',
        roi_layer=dict(_delete_=True, type='TorchRoIPool', output_size=7)),
        bbox_head=dict(num_classes=3)))
"""


def build(cfg):
    """The config's model, built as the tools build it (in its scope's registry)."""
    return build_model(cfg, init_weights=False)


def test_a_user_classifier_outside_the_repo_inherits_the_unchanged_bases(tmp_path):
    from mmengine.optim import build_optim_wrapper
    user = tmp_path / 'my_cellvit.py'
    user.write_text(USER_CLASSIFIER.format(
        models=str(CONFIGS / '_base_/models/cellvit.py'),
        datasets=str(CONFIGS / '_base_/datasets/pbc.py'),
        schedules=str(CONFIGS / '_base_/schedules/pbc_cpu_budget.py')))
    cfg = load_config(user)
    assert cfg.default_scope == 'mmpretrain'
    model = build(cfg)
    assert type(model.backbone).__name__ == 'ConvTokenViT'
    assert type(model.head).__name__ == 'SparseAttentionHead' and model.head.num_classes == 8
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper).__name__ == 'BF16OptimWrapper'
    assert MODEL_WRAPPERS.get(cfg.model_wrapper_cfg.type).__name__ == 'CPUDistributedDataParallel'


def test_a_user_detector_outside_the_repo_inherits_the_unchanged_bases(tmp_path):
    user = tmp_path / 'my_cs_arfpn.py'
    user.write_text(USER_DETECTOR.format(datasets=str(CONFIGS / '_base_/datasets/bccd.py')))
    cfg = load_config(user)
    assert cfg.default_scope == 'mmdet'
    model = build(cfg)
    assert type(model.backbone).__name__ == 'CSARUResNet'
    assert type(model.neck).__name__ == 'AttentionFPN'
    assert type(model.neck.attentions[0]).__name__ == 'ChannelSpatialAttentionUnit'
    assert type(model.roi_head.bbox_roi_extractor.roi_layers[0]).__name__ == 'TorchRoIPool'


@pytest.mark.subprocess
def test_train_on_an_old_path_fails_with_the_new_path():
    proc = run_tool('tools/train.py', 'configs/cs_arfpn_r50_bccd_quick.py', check=False)
    assert proc.returncode != 0
    assert 'configs/cs_arfpn/cs_arfpn_r50_bccd_quick.py' in proc.stderr


@pytest.mark.parametrize('folder', METAFILES)
def test_metafile_parses_and_names_existing_configs(folder):
    meta = yaml.safe_load((CONFIGS / folder / 'metafile.yml').read_text())
    collections = {c['Name']: c for c in meta['Collections']}
    for collection in collections.values():
        assert (ROOT / collection['README']).is_file(), collection['README']
        assert collection['Metadata']['Training Data'] and collection['Paper']['Title']
    assert meta['Models']
    for model in meta['Models']:
        assert model['In Collection'] in collections, model['Name']
        assert (ROOT / model['Config']).is_file(), model['Config']
        assert model['Config'].startswith(f'configs/{folder}/'), model['Config']
        assert 'Weights' in model and model['Metadata']['Training Data']
        # Results: null where the README measures only the model's size.
        for result in model['Results'] or []:
            assert result['Task'] and result['Dataset'] and result['Metrics']
            assert all(isinstance(v, (int, float)) for v in result['Metrics'].values())
    names = [m['Name'] for m in meta['Models']]
    assert len(names) == len(set(names))
