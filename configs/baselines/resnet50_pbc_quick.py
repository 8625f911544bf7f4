# ResNet-50 on PBC at the quick budget of ../cellvit/cellvit_pbc_quick.py (8 epochs, cosine decay,
# 128x128, from scratch): the reference for the cross-lab runs at that budget.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/datasets/pbc.py',
    '../_base_/schedules/pbc_quick.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(
    head=dict(num_classes=8, loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=None,
)
