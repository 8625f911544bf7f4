# Training on BCCD's training split and TXL-PBC's; validated and tested on BCCD as bccd.py (val:
# BCCD's val split, 87 images; test: BCCD's test split, 72 images). TXL-PBC re-annotates 221 BCCD
# frames; those of its training split that are BCCD test (26) or BCCD val (38) images
# (sources.csv's bccd_split) are left out (exclude_bccd_splits), so that no image the detector is
# tested on, nor one a checkpoint is chosen on (save_best), is trained on: 944 TXL-PBC images
# stay. TXL-PBC's labels follow BCCD's class order here (its YOLO ids are mapped by name), so
# the two datasets concatenate.
_base_ = ['./bccd.py']

txl_pbc_root = '{{$MMCELL_DATA:data}}/txl_pbc/'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        ignore_keys=['dataset_type'],  # CellVOCDataset's metainfo has it (None), TXL-PBC's not
        datasets=[
            dict(type={{_base_.dataset_type}}, data_root={{_base_.data_root}},
                 metainfo={{_base_.metainfo}}, ann_file='BCCD/ImageSets/Main/train.txt',
                 data_prefix=dict(sub_data_root='BCCD/'), pipeline={{_base_.train_pipeline}},
                 filter_cfg=dict(filter_empty_gt=True, min_size=8)),
            dict(type='TXLPBCDataset', data_root=txl_pbc_root, split='train',
                 exclude_bccd_splits=('val', 'test'), metainfo={{_base_.metainfo}},
                 pipeline={{_base_.train_pipeline}},
                 filter_cfg=dict(filter_empty_gt=True, min_size=8)),
        ]))
