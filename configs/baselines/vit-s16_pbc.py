# Baseline: ViT-S/16 (DeiT-S's architecture: 384 channels, 12 layers, 6 heads; 22 M parameters,
# close to CellViT's 20 M) on PBC with CellViT's data pipeline and CPU-budget schedule
# (../cellvit/cellvit_pbc.py: 128x128, 25 epochs, AdamW + cosine), cross-entropy only, no
# mixup/cutmix, from scratch. ViT-B/16 (baselines/vit-b16_munich.py) costs four times this.
_base_ = [
    'mmpretrain::_base_/models/vit-base-p16.py',
    '../_base_/datasets/pbc.py',
    '../_base_/schedules/pbc_cpu_budget.py',
]
custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)

model = dict(
    backbone=dict(arch='deit-small', img_size=128, init_cfg=None),
    head=dict(num_classes=8, in_channels=384,
              loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=None,
)
