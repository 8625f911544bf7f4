import importlib.util
import os
import pathlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
# Real public data beside the project (see ../shared/data/README.md); tests that need it skip
# when it is absent. Made absolute: tests link to its files from temporary folders.
DATA = Path(os.environ.get('MMCELL_DATA', ROOT.parent / 'shared' / 'data')).resolve()
# Configs read the same folder through $MMCELL_DATA (their own default is data/): every test sees
# it set, whichever tests ran before.
os.environ['MMCELL_DATA'] = str(DATA)


def run_tool(*args, cwd=ROOT, check=True, env=None):
    """Run a tools/ script in a fresh interpreter, as a user would; return the CompletedProcess.

    ``env`` (a dict) replaces the environment variables of the run.
    """
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-6000:]}')
    return proc


def load_tool(path):
    """Import a tools/ script as a module (for its functions); ``path`` is relative to the root."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def isolated_default_scope():
    """Undo any default scope a test sets (a Runner or init_default_scope does).

    mmengine keeps the current scope globally, and a registry builds through the current
    scope's registry: a scope left behind by one test would send the next test's
    ``mmdet.registry.MODELS.build`` to mmpretrain's registry.
    """
    from mmengine.registry import DefaultScope
    saved = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = type(DefaultScope._instance_dict)(saved)


FIVE_CELL_CLASSES = ('basophil', 'eosinophil', 'lymphocyte', 'monocyte', 'neutrophil')


@pytest.fixture(scope='session')
def cell_crops(tmp_path_factory):
    """A tiny synthetic single-cell dataset: 5 classes x 4 images of 32 px, in class folders."""
    from mmcell.synthetic import write_cell_crops
    root = tmp_path_factory.mktemp('cells')
    write_cell_crops(root, num_per_class=4, classes=FIVE_CELL_CLASSES, size=32, seed=0)
    return root


@pytest.fixture(scope='session')
def synthetic_data(tmp_path_factory):
    """What tools/demo.py writes, small: an ``$MMCELL_DATA`` folder with ``pbc/`` (8 classes x 5
    crops of 48 px) and ``bccd/`` (smears of 240x320: 4 train, 2 val, 2 test)."""
    from mmcell.synthetic import write_cell_crops, write_smears
    root = tmp_path_factory.mktemp('synthetic')
    write_cell_crops(root / 'pbc' / 'PBC_dataset_normal_DIB', 5, size=48, seed=0)
    write_smears(root / 'bccd', dict(train=4, val=2, test=2), seed=0, size=(240, 320),
                 red_radius=(11, 14))
    return root


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    """Four 96 px images with red and purple discs, boxes in a COCO file (classes rbc, wbc)."""
    import json

    import cv2
    import numpy as np
    root = tmp_path_factory.mktemp('coco')
    (root / 'images').mkdir()
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for image_id in range(1, 5):
        img = np.full((96, 96, 3), 230, np.uint8)
        for k in range(3):
            label = 1 if k < 2 else 2
            cx, cy = (int(v) for v in rng.integers(16, 80, 2))
            r = int(rng.integers(8, 14))
            colour = (150, 150, 230) if label == 1 else (140, 50, 110)
            cv2.circle(img, (cx, cy), r, colour, -1)
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, category_id=label,
                                    bbox=[cx - r, cy - r, 2 * r, 2 * r], area=4 * r * r,
                                    iscrowd=0))
        name = f'{image_id:03d}.png'
        cv2.imwrite(str(root / 'images' / name), img)
        images.append(dict(id=image_id, file_name=name, width=96, height=96))
    categories = [dict(id=1, name='rbc'), dict(id=2, name='wbc')]
    (root / 'ann.json').write_text(json.dumps(dict(images=images, annotations=annotations,
                                                   categories=categories)))
    return root


class Payload:
    """Unpickling this touches a marker file: proof that code from the checkpoint ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker), )


@pytest.fixture
def evil_checkpoint(tmp_path):
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': {'note': Payload(marker)}}, path)
    return path, marker


@pytest.fixture(scope='session')
def munich_aml(tmp_path_factory):
    """The TCIA layout with all 15 codes, 4 images each: 400x400 RGBA TIFFs, as the archive has.

    Returns the data root (the folder that holds ``AML-Cytomorphology``).
    """
    import numpy as np
    from PIL import Image

    from mmcell.datasets import MUNICH_AML_CLASSES
    root = tmp_path_factory.mktemp('munich')
    rng = np.random.default_rng(0)
    for k, code in enumerate(MUNICH_AML_CLASSES):
        folder = root / 'AML-Cytomorphology' / code
        folder.mkdir(parents=True)
        for n in range(1, 5):
            rgba = np.zeros((400, 400, 4), np.uint8)
            rgba[..., :3] = rng.integers(0, 256, 3) // 2 + 16 * k // 2
            rgba[..., 3] = 255
            Image.fromarray(rgba, 'RGBA').save(folder / f'{code}_{n:04d}.tiff')
    return root


# Random-weight CellViT and CS-ARFPN checkpoints, saved as training runs save them (with the
# classes in meta.dataset_meta), for the inference and picture tests.
PBC_CLASSES = ('basophil', 'eosinophil', 'erythroblast', 'ig', 'lymphocyte', 'monocyte',
               'neutrophil', 'platelet')


def save_random_checkpoint(config, path, classes):
    """Build ``config``'s model with seeded random weights and save it as a run would."""
    from mmcell.apis import build_model
    torch.manual_seed(0)
    model = build_model(config)  # its own initialisation, as training starts from
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': list(classes)}}}, path)
    return str(path)


@pytest.fixture(scope='session')
def cell_classifier(tmp_path_factory):
    """(config, checkpoint) of CellViT as configs/cellvit/cellvit_pbc_quick.py builds it."""
    config = ROOT / 'configs' / 'cellvit' / 'cellvit_pbc_quick.py'
    path = tmp_path_factory.mktemp('classifier') / 'cellvit.pth'
    return str(config), save_random_checkpoint(config, path, PBC_CLASSES)


@pytest.fixture(scope='session')
def lite_classifier(tmp_path_factory):
    """(config, checkpoint) of the default classifier, EfficientNet-Lite0 as
    configs/efficientnet_lite/efficientnet-lite0_pbc.py builds it: ImageNet weights, random head."""
    config = ROOT / 'configs' / 'efficientnet_lite' / 'efficientnet-lite0_pbc.py'
    path = tmp_path_factory.mktemp('classifier') / 'lite0.pth'
    return str(config), save_random_checkpoint(config, path, PBC_CLASSES)


@pytest.fixture(scope='session')
def cell_detector(tmp_path_factory):
    """(config, checkpoint) of CS-ARFPN R50 (the quick config) keeping its 6 best boxes."""
    folder = tmp_path_factory.mktemp('detector')
    config = folder / 'detector.py'
    quick = ROOT / 'configs' / 'cs_arfpn' / 'cs_arfpn_r50_bccd_quick.py'
    config.write_text(f"_base_ = [{str(quick)!r}]\n"
                      "model = dict(test_cfg=dict(rcnn=dict(score_thr=0.0, max_per_img=6)))\n")
    return str(config), save_random_checkpoint(config, folder / 'csarfpn.pth',
                                               ('RBC', 'WBC', 'Platelets'))


SLOW_TIER = ('trains', 'distributed', 'demo', 'benchmark', 'kill_resume', 'subprocess',
             'every_config')


def pytest_collection_modifyitems(items):
    """Put every test marked with what makes it slow (setup.cfg's markers) in the slow tier."""
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_TIER):
            item.add_marker(pytest.mark.slow)
