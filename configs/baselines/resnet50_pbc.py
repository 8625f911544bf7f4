# Baseline: ResNet-50 on PBC with CellViT's data pipeline and CPU-budget schedule
# (../cellvit/cellvit_pbc.py: 128x128, 25 epochs, AdamW + cosine), cross-entropy only, no
# mixup/cutmix, from scratch.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/datasets/pbc.py',
    '../_base_/schedules/pbc_cpu_budget.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(
    head=dict(num_classes=8, loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=None,
)
