# resnet50_pbc.py with the cross-lab training recipe (../_base_/datasets/pbc_stain.py: scale
# and crop jitter, Romanowsky stain and LAB-statistics augmentation, photometric jitter, blur, JPEG).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/datasets/pbc_stain.py',
    '../_base_/schedules/pbc_cpu_budget.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(
    head=dict(num_classes=8, loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=None,
)
