# TXL-PBC (YOLO boxes of WBC, RBC and Platelets on images of four sources: Raabin-WBC and PBC
# single-cell crops, BCCD and Kaggle BCD smear fields) with its own splits: train 1,008, val 288,
# test 144 images. Put the dataset (TXL_PBC/ and sources.csv) at $MMCELL_DATA/txl_pbc (default
# data/). TXLPBCDataset names bad label lines (file and line) at build time, skips and logs images
# without a label file, and gives each image its `source`, which the test pipeline packs into the
# data samples for the per-source report (SourceDetectionReport: AP50 per class, WBC recall).
dataset_type = 'TXLPBCDataset'
data_root = '{{$MMCELL_DATA:data}}/txl_pbc/'
metainfo = dict(classes=('WBC', 'RBC', 'Platelets'),
                palette=[(106, 0, 228), (220, 20, 60), (0, 182, 0)])  # bccd.py's, by class
image_scale = (640, 480)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),  # after Resize: boxes stay in image pixels
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'source',
                    'bccd_image')),
]


def _split(name, pipeline, **kwargs):
    return dict(type=dataset_type, data_root=data_root, metainfo=metainfo, split=name,
                pipeline=pipeline, **kwargs)


train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=_split('train', train_pipeline, filter_cfg=dict(filter_empty_gt=True, min_size=8)),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=_split('val', test_pipeline, test_mode=True),
)
test_dataloader = dict(val_dataloader, dataset=_split('test', test_pipeline, test_mode=True))
val_evaluator = dict(type='VOCMetric', metric='mAP', eval_mode='area')  # AP at IoU 0.5
# The per-source table (source_report.json/.csv written when its out_dir is set).
test_evaluator = [val_evaluator, dict(type='SourceDetectionReport', score_thr=0.5, iou_thr=0.5)]
