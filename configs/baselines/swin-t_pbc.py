# Baseline: Swin-T on PBC with CellViT's data pipeline and CPU-budget schedule
# (../cellvit/cellvit_pbc.py: 128x128, 25 epochs, AdamW + cosine), cross-entropy only, no
# mixup/cutmix, from scratch.
_base_ = [
    'mmpretrain::_base_/models/swin_transformer/tiny_224.py',
    '../_base_/datasets/pbc.py',
    '../_base_/schedules/pbc_cpu_budget.py',
]
custom_imports = dict(imports=['mmcell', 'mmcell.compat.apply'], allow_failed_imports=False)

model = dict(
    # 128 px leaves a 4x4 map in the last stage, smaller than the 7x7 window: pad it.
    backbone=dict(img_size=128, pad_small_map=True),
    head=dict(num_classes=8, loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=None,
)
