"""Each picture is a non-empty PNG of the size its figure asks for, with the right content."""
import mmcv
import numpy as np
import pytest
from mmdet.apis import init_detector

from mmcell.apis import CellClassificationInferencer
from mmcell.compat import safe_checkpoint_loading
from mmcell.visualization import (class_activation, detector_feature_maps, draw_class_activation,
                                  draw_feature_maps, draw_sparse_attention, sparse_attention)

from ..conftest import PBC_CLASSES, ROOT, run_tool, save_random_checkpoint


def png_size(path):
    img = mmcv.imread(str(path))
    assert img is not None and img.std() > 0  # a real picture, not a blank canvas
    return img.shape[1], img.shape[0]


@pytest.fixture(scope='module')
def cell(synthetic_data):
    return mmcv.imread(sorted((synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB' /
                               'neutrophil').iterdir())[0])


def test_sparse_attention_view(cell_classifier, cell, tmp_path):
    view = sparse_attention(CellClassificationInferencer(*cell_classifier), cell)
    assert view['attention'].shape == cell.shape[:2]  # 48x48: back in the image's pixels
    assert view['attention'].min() == 0 and view['attention'].max() == pytest.approx(1)
    assert view['tokens'].shape == (6, 2)  # one per head of the last stage
    assert ((view['tokens'] > 0) & (view['tokens'] < 48)).all()
    # 128 px input, stride 16: an 8x8 token grid, so token centres sit on 48/8 = 6 px steps.
    np.testing.assert_allclose((view['tokens'] / 6 - 0.5) % 1, 0, atol=1e-6)
    assert view['layer_weights'].shape == (9, ) and view['layer_weights'].sum() == \
        pytest.approx(1, abs=1e-5)
    assert view['pred_class'] in PBC_CLASSES
    out = tmp_path / 'attention.png'
    draw_sparse_attention(cell, view, str(out))
    assert png_size(out) == (1320, 456)  # figsize (11, 3.8) at 120 dpi


def test_sparse_attention_needs_the_sparse_head(tmp_path):
    config = ROOT / 'configs' / 'cellvit' / 'cellvit_munich_cls-head.py'
    checkpoint = save_random_checkpoint(config, tmp_path / 'cls.pth', [f'c{i}' for i in range(10)])
    with pytest.raises(TypeError, match='LinearClsHead, not a SparseAttentionHead'):
        sparse_attention(CellClassificationInferencer(str(config), checkpoint), np.zeros((8, 8, 3), np.uint8))


def test_class_activation_map(lite_classifier, cell, tmp_path):
    import torch
    classifier = CellClassificationInferencer(*lite_classifier)
    view = class_activation(classifier, cell)
    assert view['activation'].shape == cell.shape[:2]  # 48x48: back in the image's pixels
    assert view['activation'].min() == 0 and view['activation'].max() == pytest.approx(1)
    # the map is the predicted class's logit, position by position: its mean is that logit
    with torch.no_grad():
        data = classifier.model.data_preprocessor(
            next(iter(classifier.preprocess([cell], batch_size=1))), False)
        probs = classifier.model(data['inputs'], mode='tensor').softmax(1)[0]
    assert view['pred_class'] == PBC_CLASSES[int(probs.argmax())]
    assert view['pred_score'] == pytest.approx(float(probs.max()), abs=1e-5)
    out = tmp_path / 'cam.png'
    draw_class_activation(cell, view, str(out))
    assert png_size(out) == (840, 456)  # figsize (7, 3.8) at 120 dpi


def test_class_activation_needs_pooled_features_and_a_linear_head(cell_classifier):
    with pytest.raises(TypeError, match='NoneType neck and a SparseAttentionHead'):
        class_activation(CellClassificationInferencer(*cell_classifier), np.zeros((8, 8, 3), np.uint8))


def test_feature_maps(cell_detector, synthetic_data, tmp_path):
    smear = mmcv.imread(synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages' / 'Smear_00006.jpg')
    with safe_checkpoint_loading():
        detector = init_detector(*cell_detector, device='cpu')
    maps = detector_feature_maps(detector, smear)
    assert sorted(maps) == ['C2', 'C3', 'C4', 'C5', 'P2', 'P3', 'P4', 'P5', 'P6']
    # 320x240 padded to 320x256 at the input: padding cropped off at every level.
    assert maps['C2'].shape == maps['P2'].shape == (60, 80)
    assert maps['C4'].shape == (15, 20) and maps['P6'].shape == (4, 5)
    assert all((m >= 0).all() and m.std() > 0 for m in maps.values())
    out = tmp_path / 'features.png'
    draw_feature_maps(smear, maps, str(out))
    assert png_size(out) == (1536, 624)  # 2 rows x 4 panels: figsize (12.8, 5.2) at 120 dpi
    with pytest.raises(KeyError, match=r"no feature maps \['C9'\]"):
        draw_feature_maps(smear, maps, str(out), levels=('C9', ))


@pytest.mark.subprocess
def test_visualization_tools(cell_classifier, lite_classifier, cell_detector, synthetic_data,
                             tmp_path):
    cell = sorted((synthetic_data / 'pbc' / 'PBC_dataset_normal_DIB' / 'ig').iterdir())[0]
    smear = synthetic_data / 'bccd' / 'BCCD' / 'JPEGImages' / 'Smear_00007.jpg'
    run_tool('tools/visualization/vis_sparse_attention.py', *cell_classifier, cell,
             '--out-dir', tmp_path)
    run_tool('tools/visualization/vis_feature_maps.py', *cell_detector, smear, '--levels', 'C3',
             'P3', '--out-dir', tmp_path)
    run_tool('tools/visualization/vis_class_activation.py', *lite_classifier, cell,
             '--out-dir', tmp_path)
    assert png_size(tmp_path / f'{cell.stem}_attention.png') == (1320, 456)
    assert png_size(tmp_path / f'{cell.stem}_cam.png') == (840, 456)
    assert png_size(tmp_path / 'Smear_00007_features.png') == (768, 624)  # 2 rows x 2 panels
