# Munich AML Morphology (TCIA AML-Cytomorphology_LMU): 400x400 RGBA TIFFs in 15 code folders.
# Put it at $MMCELL_DATA/munich_aml/AML-Cytomorphology/<CODE>/<CODE>_NNNN.tiff (default data/).
# The paper's 10 classes, 224x224, seeded stratified 5-fold cross-validation (fold 0 here;
# tools/cross_validate.py runs all five). Validation and test use the held-out fold.
dataset_type = 'MunichAMLDataset'
data_root = '{{$MMCELL_DATA:data}}/munich_aml/'
classes = ('NGS', 'NGB', 'LYT', 'MON', 'EOS', 'BAS', 'MYO', 'PMO', 'MYB', 'EBO')
image_size = 224
split = dict(num_folds=5, fold=0, seed=0)

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
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='SingleLabelMetric', average='macro'),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator
