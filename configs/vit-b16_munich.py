# Baseline (paper Table 3): mmpretrain's ViT-B/16 on the same data and schedule as
# cellvit_munich.py, cross-entropy only. From scratch unless you set
# model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...) or load_from.
_base_ = [
    'mmpretrain::_base_/models/vit-base-p16.py',
    './_base_/datasets/munich_aml.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)

model = dict(
    backbone=dict(img_size=224, drop_path_rate=0.1),
    head=dict(_delete_=True, type='LinearClsHead', num_classes=10, in_channels=768,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=None,
)

optim_wrapper = dict(optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[40, 70, 90], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2, save_best='auto'))
auto_scale_lr = dict(base_batch_size=32)
randomness = dict(seed=0)
