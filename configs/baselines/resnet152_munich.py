# Baseline (paper Table 7): ResNet-152 on Munich AML with CellViT's data pipeline and schedule
# (../cellvit/cellvit_munich.py), cross-entropy only, no mixup/cutmix. From scratch unless you set
# load_from or model.backbone.init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone').
_base_ = [
    'mmpretrain::_base_/models/resnet152.py',
    '../_base_/datasets/munich_aml.py',
    '../_base_/schedules/paper_sgd_100e.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(
    head=dict(num_classes=10, loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=None,
)
