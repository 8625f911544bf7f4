"""tools/dataset_converters/augment_rare_classes.py and class-balanced sampling."""
import hashlib

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS
from PIL import Image

from ..conftest import ROOT, run_tool

TOOL = 'tools/dataset_converters/augment_rare_classes.py'


@pytest.fixture
def config(tmp_path, munich_aml):
    path = tmp_path / 'munich.py'
    path.write_text(f"""_base_ = {str(ROOT / 'configs' / 'cellvit_munich.py')!r}
train_dataloader = dict(dataset=dict(data_root={str(munich_aml)!r}, classes=['NGS', 'BAS'],
                                     split=dict(num_folds=2)))
""")
    return path


def digest(folder):
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.rglob('*.png')}


@pytest.mark.subprocess
def test_rare_classes_reach_their_targets_from_training_images_only(tmp_path, config):
    out = tmp_path / 'aug'
    proc = run_tool(TOOL, config, '--out', out, '--target', '5', '--class-target', 'BAS=3')
    assert 'NGS: 2 -> 5' in proc.stdout and 'BAS: 2 -> 3' in proc.stdout
    init_default_scope('mmpretrain')
    train = DATASETS.build(dict(type='MunichAMLDataset', data_root=str(out),
                                classes=['NGS', 'BAS']))
    assert sorted(train.get_gt_labels().tolist()) == [0] * 5 + [1] * 3
    # Only the training fold's originals are linked, and augmented from.
    cfg = Config.fromfile(str(config))
    val = DATASETS.build(dict(cfg.train_dataloader.dataset, split=dict(num_folds=2, part='val'),
                              pipeline=[]))
    val_stems = {d['relpath'].rsplit('.', 1)[0] for d in val.load_data_list()}
    used = {p.relative_to(out / 'AML-Cytomorphology').as_posix().split('_aug')[0].rsplit('.')[0]
            for p in out.rglob('*.*')}
    assert not used & val_stems
    new = sorted(out.rglob('*_aug*.png'))
    assert len(new) == 4
    original = np.asarray(Image.open(str(new[0]).split('_aug')[0] + '.tiff').convert('RGB'))
    augmented = np.asarray(Image.open(new[0]))
    assert augmented.shape == original.shape

    again = tmp_path / 'again'
    run_tool(TOOL, config, '--out', again, '--target', '5', '--class-target', 'BAS=3')
    assert digest(again) == digest(out)  # same seed, same images


@pytest.mark.subprocess
def test_bad_class_target_is_refused(tmp_path, config):
    proc = run_tool(TOOL, config, '--out', tmp_path / 'x', '--target', '5', '--class-target',
                    'XYZ=3', check=False)
    assert proc.returncode != 0 and "'XYZ=3'" in proc.stderr


def test_class_balanced_config_repeats_rare_classes(tmp_path):
    root = tmp_path / 'munich'
    for code, count in (('NGS', 18), ('BAS', 1)):
        (root / 'AML-Cytomorphology' / code).mkdir(parents=True)
        for n in range(count):
            folder = root / 'AML-Cytomorphology' / code
            Image.new('RGBA', (8, 8)).save(folder / f'{code}_{n:04d}.tiff')
    cfg = Config.fromfile(str(ROOT / 'configs' / 'cellvit' / 'cellvit_munich_balanced.py'))
    init_default_scope('mmpretrain')
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.dataset.update(data_root=str(root), classes=['NGS', 'BAS'], split=None)
    dataset = DATASETS.build(dataset_cfg)
    labels = [dataset.get_cat_ids(i)[0] for i in range(len(dataset))]
    # Repeat factor max(1, sqrt(0.1 / f)), rounded up: BAS (f = 1/19) twice, NGS once.
    assert labels.count(0) == 18 and labels.count(1) == 2
    assert type(dataset).__name__ == 'ClassBalancedDataset'
