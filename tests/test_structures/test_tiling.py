"""Tiling whole fields: windows, boxes per tile, merging tiled detections, the tool."""
import numpy as np
import pytest
from mmdet.registry import DATASETS
from PIL import Image

import mmcell  # noqa: F401
from mmcell.apis import inference_detector_tiled
from mmcell.structures.tiling import boxes_in_tile, tile_windows

from ..conftest import run_tool
from ..test_datasets.test_rbc14 import write_voc


def random_cells(rng, n, h, w, size=(18, 30)):
    centre = rng.uniform([0, 0], [w, h], (n, 2))
    half = rng.uniform(*size, (n, 1)) / 2
    boxes = np.hstack([centre - half, centre + half]).clip(0, [w, h, w, h])
    return boxes.astype(np.float32)


def test_windows_cover_the_field_with_the_overlap():
    windows = tile_windows(1420, 1418, (375, 500), 0.3)
    covered = np.zeros((1420, 1418), bool)
    for x1, y1, x2, y2 in windows:
        assert (y2 - y1, x2 - x1) == (375, 500)
        covered[y1:y2, x1:x2] = True
    assert covered.all()
    xs = sorted({w[0] for w in windows})
    assert xs[1] - xs[0] == 350 and xs[-1] == 1418 - 500  # step 70% of 500; last at the border
    assert tile_windows(300, 400, (375, 500)) == [(0, 0, 400, 300)]
    with pytest.raises(ValueError, match='overlap'):
        tile_windows(100, 100, (50, 50), 1.0)


def test_tile_boxes_map_back_onto_the_original_boxes():
    rng = np.random.default_rng(0)
    boxes = random_cells(rng, 300, 1420, 1418)
    labels = np.arange(300) % 5
    found_whole = set()
    for window in tile_windows(1420, 1418, (375, 500), 0.3):
        tile_boxes, tile_labels, index = boxes_in_tile(boxes, labels, window, 'clip', 0.0)
        back = tile_boxes + [window[0], window[1]] * 2
        original = boxes[index]
        # Every piece lies inside its source box and carries its label ...
        assert (back[:, :2] >= original[:, :2] - 1e-4).all()
        assert (back[:, 2:] <= original[:, 2:] + 1e-4).all()
        assert (tile_labels == labels[index]).all()
        whole = np.isclose(back, original, atol=1e-4).all(1)
        found_whole |= set(index[whole].tolist())
    # ... and with 30% overlap every cell is whole in some tile.
    assert found_whole == set(range(300))


def test_border_modes():
    boxes = np.array([[10, 10, 30, 30], [90, 10, 130, 30], [118, 10, 140, 30]], np.float32)
    window = (0, 0, 120, 100)
    b, lab, idx = boxes_in_tile(boxes, [1, 1, 1], window, 'drop')
    assert idx.tolist() == [0]
    b, lab, idx = boxes_in_tile(boxes, [1, 1, 1], window, 'clip', min_visible=0.5)
    assert idx.tolist() == [0, 1] and b[1].tolist() == [90, 10, 120, 30]
    b, lab, idx = boxes_in_tile(boxes, [1, 1, 1], window, 'edge', edge_label=13)
    assert idx.tolist() == [0, 1, 2] and lab.tolist() == [1, 13, 13]
    with pytest.raises(ValueError, match='edge_label'):
        boxes_in_tile(boxes, [1, 1, 1], window, 'edge')


def test_tiled_inference_finds_each_cell_once():
    rng = np.random.default_rng(1)
    h, w = 1420, 1418
    # Cells on a jittered 60 px grid: no two overlap (as NMS within one tile would also merge).
    grid = np.stack(np.meshgrid(np.arange(20, w - 20, 60), np.arange(20, h - 20, 60)), -1)
    centre = grid.reshape(-1, 2) + rng.uniform(-10, 10, (grid.size // 2, 2))
    half = rng.uniform(9, 15, (len(centre), 1))
    boxes = np.hstack([centre - half, centre + half]).clip(0, [w, h, w, h]).astype(np.float32)
    labels = np.arange(len(boxes)) % 3
    offset = {}

    def detector(tile):
        # A perfect detector: every cell visible in the tile, cut ones as cut boxes.
        window = offset['window']
        b, lab, _ = boxes_in_tile(boxes, labels, window, 'clip', min_visible=0.05)
        return b, np.full(len(b), 0.9), lab

    windows = iter(tile_windows(h, w, (375, 500), 0.3))

    def tracking_detector(tile):
        offset['window'] = next(windows)
        return detector(tile)

    pred = inference_detector_tiled(tracking_detector, np.zeros((h, w, 3), np.uint8))
    assert len(pred) == len(boxes) > 500
    order = np.lexsort(pred.bboxes.numpy().T[::-1])
    expected = np.lexsort(boxes.T[::-1])
    np.testing.assert_allclose(pred.bboxes.numpy()[order], boxes[expected], atol=1e-3)
    assert (pred.labels.numpy()[order] == labels[expected]).all()


@pytest.mark.subprocess
@pytest.mark.parametrize('fmt', ['voc', 'coco'])
def test_tool_writes_tiles_that_load(tmp_path, fmt):
    fields = tmp_path / 'fields'
    write_voc(fields, {'field1': [('normal', (100, 100, 125, 124)), ('teardrop', (480, 40, 515, 70)),
                                  ('normal', (40, 300, 64, 330))]})
    voc = fields / 'RBC'
    Image.fromarray(np.full((700, 800, 3), 180, np.uint8)).save(voc / 'JPEGImages' / 'field1.jpg')
    out = tmp_path / 'tiles'
    run_tool('tools/dataset_converters/tile_smears.py', '--voc-dir', voc, '--out', out,
                    '--format', fmt, '--border', 'edge', '--flip-classes', 'teardrop',
                    '--denoise', '1')
    windows = tile_windows(700, 800, (375, 500), 0.3)
    if fmt == 'voc':
        dataset = DATASETS.build(dict(type='RBC14Dataset', data_root=str(out),
                                      ann_file='ImageSets/Main/all.txt',
                                      data_prefix=dict(sub_data_root=''), pipeline=[]))
        classes = dataset.metainfo['classes']
    else:
        dataset = DATASETS.build(dict(type='CocoDataset', data_root=str(out),
                                      ann_file='annotations.json',
                                      data_prefix=dict(img='images/'), pipeline=[],
                                      metainfo=dict(classes=('edge cell', 'normal', 'teardrop'))))
        classes = ('edge cell', 'normal', 'teardrop')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    flipped = [i for i in infos if i['img_path'].endswith('_flip.jpg')]
    assert flipped and len(infos) > len(windows)
    first = infos[0]  # tile (0, 0): the first normal cell whole, 1-pixel VOC rounding aside
    names = [classes[i['bbox_label']] for i in first['instances']]
    assert 'normal' in names
    box = first['instances'][names.index('normal')]['bbox']
    assert np.allclose(box, [100, 100, 125, 124], atol=1)


def test_tiled_inference_with_an_mmdet_detector(tmp_path, tiny_coco):
    from mmdet.apis import init_detector

    from ..test_tools.tiny_config import tiny_detector_config
    config = tmp_path / 'tiny_det.py'
    config.write_text(tiny_detector_config(tiny_coco))
    model = init_detector(str(config), checkpoint=None, device='cpu')
    model.test_cfg.rcnn.score_thr = 0.0  # random weights: keep whatever comes out
    img = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    pred = inference_detector_tiled(model, img, tile_size=(96, 96), overlap=0.3)
    boxes = pred.bboxes.numpy()
    assert boxes.shape[1] == 4 and len(boxes) == len(pred.scores) == len(pred.labels) > 0
    assert (boxes >= -1e-3).all() and (boxes[:, [0, 2]] <= 300 + 1e-3).all()
    assert (boxes[:, [1, 3]] <= 200 + 1e-3).all() and set(pred.labels.tolist()) <= {0, 1}
