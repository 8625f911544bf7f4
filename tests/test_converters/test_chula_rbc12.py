"""Chula-RBC-12 points to COCO boxes, on the real files."""
import json

import numpy as np
import pytest
from mmdet.registry import DATASETS

from mmcell.converters.chula_rbc12 import CHULA_CLASSES, cell_mask, read_chula_points

from ..conftest import DATA, run_tool

CHULA = DATA / 'chula_rbc12'
pytestmark = pytest.mark.skipif(not CHULA.is_dir(), reason=f'no Chula-RBC-12 at {CHULA}')


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp('chula')
    (root / 'Dataset').mkdir()
    (root / 'Label').mkdir()
    names = sorted(p.stem for p in (CHULA / 'Label').glob('*.txt'))[:20]
    for n in names:
        (root / 'Dataset' / f'{n}.jpg').symlink_to(CHULA / 'Dataset' / f'{n}.jpg')
        (root / 'Label' / f'{n}.txt').symlink_to(CHULA / 'Label' / f'{n}.txt')
    (root / 'Dataset' / 'unlabelled.jpg').symlink_to(CHULA / 'Dataset' / f'{names[0]}.jpg')
    proc = run_tool('tools/dataset_converters/chula_to_coco.py', root, root / 'coco.json')
    return root, names, json.loads((root / 'coco.json').read_text()), proc.stdout


def test_one_box_per_labelled_cell(converted):
    root, names, coco, stdout = converted
    assert len(coco['images']) == 20 and 'skipped 1 image(s)' in stdout
    assert '% hold their labelled centre' in stdout
    expected = sum(len(read_chula_points(root / 'Label' / f'{n}.txt')) for n in names)
    assert len(coco['annotations']) == expected
    assert [c['name'] for c in coco['categories']] == list(CHULA_CLASSES)


def test_boxes_fit_the_cells(converted):
    import cv2
    root, _, coco, _ = converted
    inside, foreground, sides = [], [], []
    files = {i['id']: i['file_name'] for i in coco['images']}
    masks = {i: cell_mask(cv2.imread(str(root / f))) > 0 for i, f in files.items()}
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        px, py = ann['point']
        inside.append(x <= px <= x + w and y <= py <= y + h)
        foreground.append(masks[ann['image_id']][int(y):int(y + h), int(x):int(x + w)].mean())
        sides.append(max(w, h))
    assert np.mean(inside) > 0.99  # each box holds its labelled centre
    assert 25 < np.median(sides) < 50  # red cells at 1000x in 640x480: ~35 px across
    assert np.mean(np.array(foreground) > 0.6) > 0.9  # and covers cell, not background


def test_loads_as_a_coco_dataset(converted):
    root, _, coco, _ = converted
    dataset = DATASETS.build(dict(type='CocoDataset', data_root=str(root), ann_file='coco.json',
                                  data_prefix=dict(img=''), metainfo=dict(classes=CHULA_CLASSES),
                                  pipeline=[]))
    assert len(dataset) == 20
    assert sum(len(dataset.get_data_info(i)['instances']) for i in range(20)) == \
        len(coco['annotations'])


def test_bad_label_line_is_named(tmp_path):
    path = tmp_path / '1.txt'
    path.write_text('10 20 0\n10 20\n')
    with pytest.raises(ValueError, match=r'1.txt, line 2: expected "x y type"'):
        read_chula_points(path)
    path.write_text('10 20 13\n')
    with pytest.raises(ValueError, match='type 13 is not in 0-12'):
        read_chula_points(path)


@pytest.mark.subprocess
def test_truncated_image_stops_the_converter_naming_it(tmp_path):
    name = sorted(p.stem for p in (CHULA / 'Label').glob('*.txt'))[0]
    (tmp_path / 'Dataset').mkdir()
    (tmp_path / 'Label').mkdir()
    data = (CHULA / 'Dataset' / f'{name}.jpg').read_bytes()
    (tmp_path / 'Dataset' / f'{name}.jpg').write_bytes(data[:len(data) // 2])
    (tmp_path / 'Label' / f'{name}.txt').symlink_to(CHULA / 'Label' / f'{name}.txt')
    proc = run_tool('tools/dataset_converters/chula_to_coco.py', tmp_path, tmp_path / 'c.json',
                    check=False)
    assert proc.returncode != 0
    assert f'{name}.jpg: is truncated' in proc.stderr
    assert not (tmp_path / 'c.json').exists()  # nothing half-written


def test_split_is_seeded_disjoint_and_counts_boxes_per_class(converted):
    from mmcell.converters import split_coco
    _, _, coco, _ = converted
    shares = dict(train=0.7, val=0.15, test=0.15)
    parts, counts = split_coco(coco, shares, seed=0)
    ids = [{i['id'] for i in p['images']} for p in parts.values()]
    assert [len(i) for i in ids] == [14, 3, 3] and set.union(*ids) == {
        i['id'] for i in coco['images']}
    assert sum(len(p['annotations']) for p in parts.values()) == len(coco['annotations'])
    for name, part in parts.items():
        assert {a['image_id'] for a in part['annotations']} <= ids[list(parts).index(name)]
        assert sum(counts[name].values()) == len(part['annotations'])
    assert split_coco(coco, shares, seed=0)[0] == parts  # seeded
    assert split_coco(coco, shares, seed=1)[0]['test']['images'] != parts['test']['images']
    with pytest.raises(ValueError, match='must sum to 1'):
        split_coco(coco, dict(train=0.7, val=0.7), seed=0)


def test_a_split_without_training_boxes_of_a_class_is_refused_naming_it(tmp_path):
    from ..conftest import load_tool
    tool = load_tool('tools/dataset_converters/chula_to_coco.py')
    coco = dict(images=[dict(id=i) for i in range(1, 11)],
                categories=[dict(id=0, name='normal cell'), dict(id=1, name='teardrop')],
                annotations=[dict(id=i, image_id=i, category_id=int(i == 10))
                             for i in range(1, 11)])
    seed = next(s for s in range(100)  # one that puts image 10, the only teardrop, in val/test
                if 10 not in [i['id'] for i in tool.split_coco(
                    coco, dict(train=0.6, val=0.2, test=0.2), s)[0]['train']['images']])
    with pytest.raises(SystemExit, match=r"leaves no training box of \['teardrop'\]"):
        tool.write_split(coco, tmp_path / 'a.json', (0.6, 0.2, 0.2), seed)
    assert not list(tmp_path.iterdir())  # nothing written
