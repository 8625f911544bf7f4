# ViT-S/16 (DeiT-small layout) from scratch on PBC at the quick budget (8 epochs): the
# transformer reference of the CellViT ablation at the same data, input size and schedule.
_base_ = [
    'mmpretrain::_base_/models/vit-base-p16.py',
    '../_base_/datasets/pbc.py',
    '../_base_/schedules/pbc_quick.py',
]
custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)

model = dict(
    backbone=dict(arch='deit-small', img_size=128, init_cfg=None),
    head=dict(num_classes=8, in_channels=384,
              loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=None,
)
