"""Seeded stratified splits: determinism, stratification, groups, and the tool's files."""
import collections
import json

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

from mmcell.datasets import assign_stratified, split_indices

from ..conftest import DATA, ROOT, run_tool

PBC = DATA / 'pbc'


def test_k_fold_is_stratified_and_partitions_the_items():
    labels = np.repeat(np.arange(4), [50, 23, 7, 120])
    bins = assign_stratified(labels, [0.2] * 5, seed=3)
    for c, n in zip(range(4), [50, 23, 7, 120]):
        per_fold = np.bincount(bins[labels == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1 and per_fold.sum() == n
    folds = [set(split_indices(labels, 'val', num_folds=5, fold=k, seed=3)) for k in range(5)]
    assert set().union(*folds) == set(range(len(labels)))
    assert sum(map(len, folds)) == len(labels)
    train = set(split_indices(labels, 'train', num_folds=5, fold=2, seed=3))
    assert train == set(range(len(labels))) - folds[2]


def test_same_seed_same_split_other_seed_other_split():
    labels = np.arange(300) % 3
    first = assign_stratified(labels, [0.7, 0.1, 0.2], seed=5)
    assert (assign_stratified(labels, [0.7, 0.1, 0.2], seed=5) == first).all()
    assert (assign_stratified(labels, [0.7, 0.1, 0.2], seed=6) != first).any()
    # Fixed numbers: the generator is numpy's PCG64, the same on every machine.
    assert np.flatnonzero(first == 2)[:8].tolist() == [4, 8, 10, 13, 17, 29, 38, 45]
    assert np.bincount(first).tolist() == [210, 30, 60]


def test_groups_stay_whole():
    rng = np.random.default_rng(0)
    groups = np.repeat([f'patient{i}' for i in range(40)], 10)
    labels = rng.integers(0, 3, 400)
    bins = assign_stratified(labels, [0.2] * 5, seed=0, groups=groups)
    for g in set(groups):
        assert len(set(bins[groups == g])) == 1
    assert all(60 <= n <= 100 for n in np.bincount(bins))


def test_groups_file_giving_one_image_two_groups_is_an_error(tmp_path):
    from mmcell.datasets.splits import read_groups
    path = tmp_path / 'patients.csv'
    path.write_text('image,group\nMON/MON_0001.tiff,p1\nMON/MON_0002.tiff,p2\n'
                    'MON/MON_0001.tiff,p1\nMON/MON_0001.tiff,p3\n')
    with pytest.raises(ValueError, match=r'patients.csv, line 5: MON/MON_0001.tiff is in group '
                                         r'p3, but line 2 put it in group p1'):
        read_groups(path)
    path.write_text('MON/MON_0001.tiff,p1\nMON/MON_0001.tiff,p1\n')  # repeated, same group
    assert read_groups(path) == {'MON/MON_0001.tiff': 'p1'}


@pytest.mark.parametrize('kwargs, message', [
    (dict(part='val'), 'either num_folds'),
    (dict(part='test', num_folds=5), "'train' or 'val'"),
    (dict(part='val', num_folds=5, fold=5), r'fold must be in \[0, 5\)'),
    (dict(part='train', ratios=(0.5, 0.6, 0.1)), 'sum to 1'),
])
def test_bad_split_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        split_indices([0, 1, 0, 1], **kwargs)


@pytest.mark.subprocess
@pytest.mark.skipif(not PBC.is_dir(), reason=f'no PBC data at {PBC}')
def test_tool_files_match_the_datasets_own_split(tmp_path):
    config = tmp_path / 'pbc.py'
    config.write_text(f"_base_ = '{ROOT / 'configs' / 'cellvit' / 'cellvit_pbc.py'}'\n"
                      f"train_dataloader = dict(dataset=dict(data_root='{PBC}'))\n")
    run_tool('tools/dataset_converters/make_splits.py', config, '--folds', '5', '--out',
             tmp_path / 'splits')
    summary = json.loads((tmp_path / 'splits' / 'summary.json').read_text())
    assert summary['files']['fold_1/val.txt'] == {c: 60 for c in summary['classes']}
    base = dict(type='PBCDataset', data_root=str(PBC))
    listed = DATASETS.build(dict(base, ann_file=str(tmp_path / 'splits' / 'fold_1' / 'val.txt')))
    own = DATASETS.build(dict(base, split=dict(part='val', num_folds=5, fold=1, seed=0)))
    assert [listed.get_data_info(i)['img_path'] for i in range(len(listed))] == \
        [own.get_data_info(i)['img_path'] for i in range(len(own))]
    assert collections.Counter(own.get_gt_labels().tolist()) == {c: 60 for c in range(8)}
