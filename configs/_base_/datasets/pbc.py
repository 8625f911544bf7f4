# PBC (Acevedo et al. 2020): 360x363 JPEGs in 8 class folders. Put it at
# $MMCELL_DATA/pbc/PBC_dataset_normal_DIB/<class>/<PREFIX>_<id>.jpg (default data/).
# Seeded stratified train/val/test split 70/10/20 (tools/cross_validate.py swaps in k folds).
# 128x128 inputs: the CPU budget of the *_pbc.py configs (set image_size and the pipelines'
# Resize for other sizes).
dataset_type = 'PBCDataset'
data_root = '{{$MMCELL_DATA:data}}/pbc/'
classes = ('basophil', 'eosinophil', 'erythroblast', 'ig', 'lymphocyte', 'monocyte',
           'neutrophil', 'platelet')
image_size = 128
split = dict(ratios=(0.7, 0.1, 0.2), seed=0)

data_preprocessor = dict(
    num_classes=len(classes),
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, classes=classes,
                 split=dict(split, part='train'), pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, classes=classes,
                 split=dict(split, part='val'), pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, classes=classes,
                 split=dict(split, part='test'), pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='SingleLabelMetric', average='macro'),
]
test_evaluator = val_evaluator
