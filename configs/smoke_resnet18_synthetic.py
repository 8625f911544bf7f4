# A short smoke training on synthetic cells (no download): ResNet-18 from scratch, 5 classes, 96 px.
# Run by `make demo`; about a minute on 2 CPU cores.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    './_base_/datasets/synthetic_cells.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)

model = dict(head=dict(num_classes=5, topk=(1, )))

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=4)
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=2)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=2, max_keep_ckpts=2))
randomness = dict(seed=0)
