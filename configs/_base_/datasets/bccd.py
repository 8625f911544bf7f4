# BCCD (Pascal VOC layout, 640x480 smear images; RBC, WBC, Platelets) with its official splits:
# train 205, val 87, test 72 images. Put the dataset at $MMCELL_DATA/bccd/BCCD (default data/).
# CellVOCDataset is mmdet's VOCDataset with checks: bad files named at build time, boxes outside
# the image clipped and zero-area boxes skipped with a warning (BCCD has two).
dataset_type = 'CellVOCDataset'
data_root = '{{$MMCELL_DATA:data}}/bccd/'
metainfo = dict(classes=('RBC', 'WBC', 'Platelets'),
                palette=[(220, 20, 60), (106, 0, 228), (0, 182, 0)])
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
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]


def _split(name, pipeline, **kwargs):
    return dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                ann_file=f'BCCD/ImageSets/Main/{name}.txt',
                data_prefix=dict(sub_data_root='BCCD/'), pipeline=pipeline, **kwargs)


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
val_evaluator = dict(type='VOCMetric', metric='mAP', eval_mode='area')
test_evaluator = val_evaluator
