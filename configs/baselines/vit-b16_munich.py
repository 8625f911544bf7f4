# Baseline (paper Table 3): mmpretrain's ViT-B/16 on the same data and schedule as
# ../cellvit/cellvit_munich.py, cross-entropy only. From scratch unless you set
# model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...) or load_from.
_base_ = [
    'mmpretrain::_base_/models/vit-base-p16.py',
    '../_base_/datasets/munich_aml.py',
    '../_base_/schedules/paper_sgd_100e.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(
    backbone=dict(img_size=224, drop_path_rate=0.1),
    head=dict(_delete_=True, type='LinearClsHead', num_classes=10, in_channels=768,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=None,
)
