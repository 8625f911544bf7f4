"""TXLPBCDataset: YOLO files read with checks (bad lines named by file and line), boxes in pixels,
sources from sources.csv, BCCD frames of given BCCD splits left out; and the real TXL-PBC."""
import csv
import re
from collections import Counter

import numpy as np
import pytest
from mmdet.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

from mmcell.datasets import DatasetError, TXLPBCDataset

from ..conftest import DATA, ROOT

TXL = DATA / 'txl_pbc'
needs_txl_pbc = pytest.mark.skipif(not (TXL / 'TXL_PBC').is_dir(),
                                   reason=f'TXL-PBC not found under {DATA}')
GOOD = '0 0.5 0.5 0.5 0.5\n'


def write(root, split='train', images=None, labels=None, sources=None):
    """TXL-PBC's layout under ``root``: ``images`` name -> (width, height) of a JPEG written,
    ``labels`` name -> label text, ``sources`` a list of sources.csv rows (dicts); a
    ``classes.txt`` beside the labels, as the release has."""
    image_dir = root / 'TXL_PBC' / 'images' / split
    label_dir = root / 'TXL_PBC' / 'labels' / split
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    (label_dir / 'classes.txt').write_text('WBC\nRBC\nPC\n')
    for name, (width, height) in (images or {}).items():
        Image.fromarray(np.full((height, width, 3), 200, np.uint8)).save(image_dir / f'{name}.jpg')
    for name, text in (labels or {}).items():
        (label_dir / f'{name}.txt').write_text(text)
    if sources is not None:
        with open(root / 'sources.csv', 'w', newline='') as f:
            writer = csv.DictWriter(f, ['split', 'file', 'source', 'size', 'bccd_image',
                                        'bccd_split'])
            writer.writeheader()
            writer.writerows(sources)
    return label_dir


def row(name, source, size, bccd_image='', bccd_split='', split='train'):
    return dict(split=split, file=f'{name}.jpg', source=source, size=size,
                bccd_image=bccd_image, bccd_split=bccd_split)


def build(root, **kwargs):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(dict(type='TXLPBCDataset', data_root=str(root), **kwargs))


def infos(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


@pytest.fixture
def logged(monkeypatch):
    """The messages TXLPBCDataset logs."""
    messages = []
    monkeypatch.setattr('mmcell.datasets.txl_pbc.print_log',
                        lambda msg, logger=None, level=None: messages.append(msg))
    return messages


def test_boxes_in_pixels_by_hand_and_labels_by_class_name(tmp_path, logged):
    # A 40x20 image: a WBC in the middle, a platelet, an RBC reaching 4 px past the right edge.
    write(tmp_path, images=dict(a=(40, 20)), sources=[row('a', 'raabin', '40x20')],
          labels=dict(a='0 0.5 0.5 0.5 0.5\n\n2 0.25 0.75 0.1 0.2\n1 0.9 0.5 0.4 0.2\n'))
    info, = infos(build(tmp_path, test_mode=True))
    assert (info['width'], info['height'], info['source'], info['bccd_image']) == (40, 20,
                                                                                   'raabin', '')
    assert info['img_id'] == 'a' and info['img_path'].endswith('TXL_PBC/images/train/a.jpg')
    boxes = [inst['bbox'] for inst in info['instances']]
    # WBC: cx 20, cy 10, w 20, h 10; platelet: cx 10, cy 15, w 4, h 4; RBC: cx 36, cy 10, w 16,
    # h 4 -> x2 = 44, clipped to 40.
    np.testing.assert_allclose(boxes, [[10, 5, 30, 15], [8, 13, 12, 17], [28, 8, 40, 12]])
    assert [inst['bbox_label'] for inst in info['instances']] == [0, 2, 1]
    assert any('line 4' in m and 'clipped' in m for m in logged)
    assert any('1 boxes clipped to their image' in m for m in logged)
    # BCCD's class order: the same boxes, labels by name.
    bccd_order = build(tmp_path, test_mode=True,
                       metainfo=dict(classes=('RBC', 'WBC', 'Platelets')))
    assert [inst['bbox_label'] for inst in infos(bccd_order)[0]['instances']] == [1, 2, 0]
    with pytest.raises(ValueError, match='in some order'):
        build(tmp_path, metainfo=dict(classes=('WBC', 'RBC')))


def test_sides_a_rounding_error_past_the_edge_are_clipped_quietly(tmp_path, logged):
    # 0.912260 + 0.175481 / 2 = 1.0000005: 0.0002 px past a 416 px edge, as the release has.
    write(tmp_path, images=dict(a=(416, 416)), sources=[row('a', 'bcd', '416x416')],
          labels=dict(a='1 0.912260 0.528846 0.175481 0.197115\n'))
    info, = infos(build(tmp_path, test_mode=True))
    assert info['instances'][0]['bbox'][2] == 416
    assert not any('clipped' in m for m in logged)


def test_exact_duplicate_lines_are_skipped_with_a_count_or_kept(tmp_path, logged):
    write(tmp_path, images=dict(a=(40, 20)), sources=[row('a', 'pbc', '40x20')],
          labels=dict(a=GOOD + '1 0.5 0.5 0.5 0.5\n' + GOOD + '0 0.5 0.5 0.5 0.50\n'))
    info, = infos(build(tmp_path, test_mode=True))
    # Line 3 repeats line 1; line 4 too (0.50 is 0.5); line 2 is another class at the same place.
    assert [inst['bbox_label'] for inst in info['instances']] == [0, 1]
    assert any('line 3: skipped: the same box as line 1' in m for m in logged)
    assert any('2 exact duplicate boxes skipped' in m for m in logged)
    kept, = infos(build(tmp_path, test_mode=True, duplicates='keep'))
    assert [inst['bbox_label'] for inst in kept['instances']] == [0, 1, 0, 0]


@pytest.mark.parametrize('line, problem', [
    ('3 0.5 0.5 0.1 0.1', 'class 3 is not one of 0-2'),
    ('-1 0.5 0.5 0.1 0.1', 'class -1 is not one of 0-2'),
    ('WBC 0.5 0.5 0.1 0.1', "class 'WBC' is not an integer"),
    ('0 1.5 0.5 0.1 0.1', 'cx 1.5 is outside [0, 1]'),
    ('0 0.5 -0.1 0.1 0.1', 'cy -0.1 is outside [0, 1]'),
    ('0 0.5 0.5 0.1 1.01', 'h 1.01 is outside [0, 1]'),
    ('0 0.5 0.5 nan 0.1', 'w nan is outside [0, 1]'),
    ('0 0.5 0.5 x 0.1', "w 'x' is not a number"),
    ('0 0.5 0.5 0.1', '4 fields'),
    ('0 0.5 0.5 0.1 0.1 0.9', '6 fields'),
])
def test_a_bad_line_stops_the_build_naming_file_and_line(tmp_path, line, problem):
    label_dir = write(tmp_path, images=dict(a=(40, 20), b=(40, 20)),
                      sources=[row('a', 'pbc', '40x20'), row('b', 'pbc', '40x20')],
                      labels=dict(a=GOOD, b=f'{GOOD}\n{line}\n{GOOD}'))
    with pytest.raises(DatasetError, match=re.escape(f'{label_dir / "b.txt"}, line 3: {problem}')):
        build(tmp_path)


def test_a_label_file_without_its_image_is_named(tmp_path):
    label_dir = write(tmp_path, images=dict(a=(40, 20)), sources=[row('a', 'pbc', '40x20')],
                      labels=dict(a=GOOD, ghost=GOOD))
    with pytest.raises(DatasetError, match=re.escape(f'{label_dir / "ghost.txt"}: label file '
                                                     'without an image')):
        build(tmp_path)


def test_images_without_a_label_file_are_skipped_counted_and_named(tmp_path, logged):
    names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
    write(tmp_path, images={n: (40, 20) for n in names},
          sources=[row(n, 'pbc', '40x20') for n in names], labels=dict(a=GOOD))
    dataset = build(tmp_path, test_mode=True)
    assert [info['img_id'] for info in infos(dataset)] == ['a']  # not taken as empty images
    assert dataset.unlabelled_images == [f'{n}.jpg' for n in names[1:]]
    message, = [m for m in logged if 'image(s) without a label file' in m]
    assert '7 image(s) without a label file' in message and 'skipped' in message
    assert 'b.jpg, c.jpg, d.jpg, e.jpg, f.jpg, ...' in message and 'g.jpg' not in message
    assert any('1 images (pbc 1); left out 7 images without a label file' in m for m in logged)


def test_an_empty_label_file_is_an_image_without_boxes(tmp_path):
    write(tmp_path, images=dict(a=(40, 20), b=(40, 40)),
          sources=[row('a', 'pbc', '40x20'), row('b', 'pbc', '40x40')],
          labels=dict(a=GOOD, b=''))
    assert [len(i['instances']) for i in infos(build(tmp_path, test_mode=True))] == [1, 0]
    training = build(tmp_path, filter_cfg=dict(filter_empty_gt=True, min_size=8))
    assert [i['img_id'] for i in infos(training)] == ['a']
    small_left_out = build(tmp_path, filter_cfg=dict(filter_empty_gt=False, min_size=32))
    assert [i['img_id'] for i in infos(small_left_out)] == ['b']


def test_nothing_left_is_said(tmp_path):
    write(tmp_path, images=dict(a=(40, 20)), labels=dict(a=GOOD),
          sources=[row('a', 'bccd', '40x20', 'BloodImage_00001', 'test')])
    with pytest.raises(DatasetError, match=r"no labelled image left of 1 image.*BCCD's test"):
        build(tmp_path, exclude_bccd_splits=('test', ))


FRAMES = dict(r=('raabin', '', ''), tr=('bccd', 'BloodImage_00001', 'train'),
              te=('bccd', 'BloodImage_00002', 'test'), va=('bccd', 'BloodImage_00003', 'val'),
              k=('bcd', '', ''))


@pytest.fixture
def frames(tmp_path):
    write(tmp_path, images={n: (40, 20) for n in FRAMES}, labels={n: GOOD for n in FRAMES},
          sources=[row(n, source, '40x20', image, split)
                   for n, (source, image, split) in FRAMES.items()]
          + [row('other', 'bccd', '40x20', 'BloodImage_00009', 'test', split='val')])
    return tmp_path


@pytest.mark.parametrize('kwargs, kept', [
    (dict(), ['k', 'r', 'te', 'tr', 'va']),
    (dict(exclude_bccd_splits=('test', )), ['k', 'r', 'tr', 'va']),
    (dict(exclude_bccd_splits=('val', 'test')), ['k', 'r', 'tr']),
    (dict(sources=('bccd', )), ['te', 'tr', 'va']),
    (dict(sources=('bccd', 'raabin'), exclude_bccd_splits='test'), ['r', 'tr', 'va']),
])
def test_sources_and_bccd_splits_left_out(frames, logged, kwargs, kept):
    dataset = build(frames, test_mode=True, **kwargs)
    got = infos(dataset)
    assert [info['img_id'] for info in got] == kept
    for info in got:
        source, image, split = FRAMES[info['img_id']]
        assert (info['source'], info['bccd_image'], info['bccd_split']) == (source, image, split)
    if 'exclude_bccd_splits' in kwargs:
        assert any("BCCD frames in BCCD's test split" in m for m in logged)


def test_sources_csv_problems_are_named(tmp_path):
    write(tmp_path, images=dict(a=(40, 20), b=(40, 20)), labels=dict(a=GOOD, b=GOOD),
          sources=[row('a', 'pbc', '40x20')])
    with pytest.raises(DatasetError, match=r'b\.jpg: not listed in .*sources\.csv'):
        build(tmp_path)
    write(tmp_path, sources=[row('a', 'pbc', '40x20'), row('b', 'pbc', '575x575')])
    with pytest.raises(DatasetError, match=r'b\.jpg: 40x20 pixels, but .*sources\.csv line 3 '
                                           'says 575x575'):
        build(tmp_path)
    write(tmp_path, sources=[row('a', 'pbc', '40x20'), row('b', 'kaggle', '40x20')])
    with pytest.raises(DatasetError, match=r"sources\.csv, line 3: source 'kaggle'"):
        build(tmp_path)
    (tmp_path / 'sources.csv').unlink()
    with pytest.raises(DatasetError, match=r'sources\.csv: not found'):
        build(tmp_path)


def test_without_sources_csv_the_source_is_told_by_size(tmp_path):
    write(tmp_path, images=dict(a=(640, 480), b=(575, 575), c=(40, 20)),
          labels=dict(a=GOOD, b=GOOD, c=GOOD))
    got = infos(build(tmp_path, sources_file=None, test_mode=True))
    assert [i['source'] for i in got] == ['bccd', 'raabin', 'unknown']
    with pytest.raises(ValueError, match='needs sources_file'):
        build(tmp_path, sources_file=None, exclude_bccd_splits=('test', ))


@pytest.mark.parametrize('kwargs, problem', [
    (dict(split='training'), 'split must be one of'),
    (dict(sources=('raabin', 'cellavision')), 'sources must be some of'),
    (dict(exclude_bccd_splits=('tests', )), 'exclude_bccd_splits must be some of'),
    (dict(duplicates='merge'), 'duplicates must be one of'),
])
def test_bad_arguments(tmp_path, kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        build(tmp_path, **kwargs)


def test_a_missing_split_folder_is_named(tmp_path):
    write(tmp_path, split='train', images=dict(a=(40, 20)), labels=dict(a=GOOD))
    with pytest.raises(DatasetError, match=r'TXL_PBC/images/val: no such folder'):
        build(tmp_path, split='val')


def test_the_test_pipeline_packs_the_source(tmp_path):
    write(tmp_path, split='test', images=dict(a=(40, 20)), labels=dict(a=GOOD),
          sources=[row('a', 'bccd', '40x20', 'BloodImage_00005', 'test', split='test')])
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/datasets/txl_pbc.py'))
    dataset = build(tmp_path, split='test', test_mode=True,
                    pipeline=cfg.test_dataloader.dataset.pipeline)
    sample = dataset[0]['data_samples']
    assert (sample.source, sample.bccd_image) == ('bccd', 'BloodImage_00005')
    np.testing.assert_allclose(sample.gt_instances.bboxes.numpy(), [[10, 5, 30, 15]])


# ---------------------------------------------------------------------------- the real data
@pytest.fixture(scope='module')
def real_splits():
    return {split: build(TXL, split=split, test_mode=True) for split in TXLPBCDataset.SPLITS}


@needs_txl_pbc
def test_real_split_sizes_sources_and_boxes(real_splits):
    assert {split: len(d) for split, d in real_splits.items()} == dict(train=1008, val=288,
                                                                       test=144)
    with open(TXL / 'sources.csv', newline='') as f:
        expected = Counter((r['split'], r['source']) for r in csv.DictReader(f))
    got = Counter((split, info['source']) for split, d in real_splits.items() for info in infos(d))
    assert got == expected
    # The dataset README's box counts (WBC, RBC, platelets per split) less the exact duplicate
    # lines skipped: 2 RBC lines in training, 5 WBC and 31 RBC lines in test (one PBC image has
    # its white cell six times).
    boxes = {split: Counter(inst['bbox_label'] for info in infos(d) for inst in info['instances'])
             for split, d in real_splits.items()}
    assert boxes['train'] == {0: 1055, 1: 16965 - 2, 2: 596}
    assert boxes['val'] == {0: 305, 1: 4850, 2: 179}
    assert boxes['test'] == {0: 155 - 5, 1: 2456 - 31, 2: 76}


@needs_txl_pbc
@pytest.mark.skipif(not (DATA / 'bccd' / 'BCCD').is_dir(), reason=f'BCCD not found under {DATA}')
def test_no_bccd_test_frame_is_in_the_bccd_txl_pbc_training_set():
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/datasets/bccd_txl_pbc.py'))
    with DefaultScope.overwrite_default_scope('mmdet'):
        concat = DATASETS.build(cfg.train_dataloader.dataset)
    bccd, txl = concat.datasets
    assert type(txl) is TXLPBCDataset and concat.metainfo['classes'] == ('RBC', 'WBC',
                                                                         'Platelets')
    assert len(concat) == len(bccd) + len(txl) and len(bccd) == 205
    frames = [info for info in infos(txl) if info['source'] == 'bccd']
    assert frames and not [f for f in frames if f['bccd_split'] in ('test', 'val')]
    # Cross-checked against BCCD's own split files: none of its test (or val) images trains.
    main = DATA / 'bccd' / 'BCCD' / 'ImageSets' / 'Main'
    held_out = set((main / 'test.txt').read_text().split()) | set(
        (main / 'val.txt').read_text().split())
    assert not {f['bccd_image'] for f in frames} & held_out
    # 26 TXL-PBC training frames are BCCD test images, 38 BCCD val images: all left out.
    assert len(txl) == 1008 - 26 - 38
    assert cfg.test_dataloader.dataset.ann_file == 'BCCD/ImageSets/Main/test.txt'
    assert cfg.val_dataloader.dataset.ann_file == 'BCCD/ImageSets/Main/val.txt'


@needs_txl_pbc
def test_the_txl_pbc_config_builds_and_packs_sources():
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/datasets/txl_pbc.py'))
    assert cfg.test_dataloader.dataset.data_root == f'{DATA}/txl_pbc/'
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) == 144
    sample = dataset[0]['data_samples']
    assert sample.source in TXLPBCDataset.SOURCES and len(sample.gt_instances) > 0
