import json

import pytest
from mmdet.registry import DATASETS

import mmcell  # noqa: F401  (registers CellCocoDataset)
from mmcell.datasets import DatasetError

CLASSES = ('normal cell', 'macrocyte', 'schistocyte')


def write_coco(path, categories, boxes):
    """A COCO file of one 64x64 image per entry of ``boxes`` (a list of category ids)."""
    images = [dict(id=i, file_name=f'{i}.jpg', width=64, height=64) for i in range(len(boxes))]
    anns = [dict(id=n, image_id=i, category_id=c, bbox=[4 + 8 * n % 40, 4, 10, 10], area=100,
                 iscrowd=0)
            for n, (i, c) in enumerate((i, c) for i, ids in enumerate(boxes) for c in ids)]
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=[
        dict(id=cid, name=name) for cid, name in categories])))
    return path


def build(path, classes=CLASSES, test_mode=False, type='CellCocoDataset'):
    return DATASETS.build(dict(type=type, data_root='', ann_file=str(path),
                               data_prefix=dict(img=''), metainfo=dict(classes=classes),
                               pipeline=[], test_mode=test_mode))


def labels_by_category(dataset):
    """The label each category id got, read off the parsed instances."""
    return {inst['bbox_label'] for i in range(len(dataset))
            for inst in dataset.get_data_info(i)['instances']}


def test_labels_follow_the_class_names_not_the_file_order(tmp_path):
    # the file lists schistocyte first with id 7; each image holds one box of one category
    path = write_coco(tmp_path / 'ann.json', [(7, 'schistocyte'), (1, 'normal cell'),
                                              (2, 'macrocyte')], [[1], [2], [7]])
    ours, mmdet = build(path), build(path, type='CocoDataset')
    assert [ours.get_data_info(i)['instances'][0]['bbox_label'] for i in range(3)] == [0, 1, 2]
    # mmdet's own dataset gives the file's order: normal cell boxes become label 1 (macrocyte)
    assert [mmdet.get_data_info(i)['instances'][0]['bbox_label'] for i in range(3)] == [1, 2, 0]
    assert ours.cat_ids == [1, 2, 7]


def test_same_order_gives_mmdets_labels(tmp_path):
    path = write_coco(tmp_path / 'ann.json', [(1, 'normal cell'), (2, 'macrocyte'),
                                              (3, 'schistocyte'), (4, 'teardrop')],
                      [[1, 2], [3, 4, 1]])
    ours, mmdet = build(path), build(path, type='CocoDataset')
    for i in range(2):
        assert ours.get_data_info(i)['instances'] == mmdet.get_data_info(i)['instances']
    assert labels_by_category(ours) == {0, 1, 2}  # the teardrop box is not a class here


def test_class_missing_from_the_file_is_named(tmp_path):
    path = write_coco(tmp_path / 'ann.json', [(1, 'normal cell'), (3, 'schistocyte')], [[1, 3]])
    with pytest.raises(DatasetError, match=r"ann\.json has no category \['macrocyte'\]; its "
                                           r"categories are \['normal cell', 'schistocyte'\]"):
        build(path)


def test_category_listed_twice_is_named(tmp_path):
    path = write_coco(tmp_path / 'ann.json', [(1, 'normal cell'), (2, 'macrocyte'),
                                              (3, 'schistocyte'), (4, 'macrocyte')], [[1, 2, 3]])
    with pytest.raises(DatasetError, match=r"ann\.json: category 'macrocyte' is listed twice "
                                           r'\(ids 2 and 4\)'):
        build(path)


def test_training_split_without_a_class_is_named_at_build_time(tmp_path):
    path = write_coco(tmp_path / 'ann.json', [(1, 'normal cell'), (2, 'macrocyte'),
                                              (3, 'schistocyte')], [[1, 1], [2]])
    with pytest.raises(DatasetError, match=r"ann\.json has no box of \['schistocyte'\]"):
        build(path)
    # a test split may lack a class: it is reported, not learnt
    assert len(build(path, test_mode=True)) == 2

