import hashlib

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

from mmcell.datasets import CELL_STYLES, render_cell_crop, write_cell_crops


def digest(paths):
    return [hashlib.sha256(open(p, 'rb').read()).hexdigest() for p in paths]


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a = write_cell_crops(tmp_path / 'a', 2, size=48, seed=3)
    b = write_cell_crops(tmp_path / 'b', 2, size=48, seed=3)
    c = write_cell_crops(tmp_path / 'c', 2, size=48, seed=4)
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)


def test_files_load_through_custom_dataset_in_pbc_layout(cell_crops):
    dataset = DATASETS.build(dict(type='CustomDataset', data_root=str(cell_crops),
                                  pipeline=[dict(type='LoadImageFromFile')]))
    assert dataset.CLASSES == tuple(sorted(CELL_STYLES))
    assert len(dataset) == 4 * len(CELL_STYLES)
    sample = dataset[0]
    assert sample['img'].shape == (32, 32, 3)
    assert (cell_crops / 'basophil' / 'BA_00000.jpg').is_file()


def test_classes_differ_in_appearance():
    rng = np.random.default_rng(0)
    # Mean colour of the centre: eosinophil granules are red-orange, basophil ones dark purple.
    def centre_mean(cls):
        return np.mean([render_cell_crop(cls, rng)[38:58, 38:58].mean(axis=(0, 1))
                        for _ in range(8)], axis=0)
    eos, baso = centre_mean('eosinophil'), centre_mean('basophil')
    assert eos[2] > baso[2] + 20  # more red (BGR)


def test_unknown_class_is_refused(tmp_path):
    with pytest.raises(ValueError, match='unknown cell classes'):
        write_cell_crops(tmp_path, 1, classes=['erythroblast_x'])
