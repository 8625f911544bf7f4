# ViT-S/16 (mmpretrain's DeiT-small layout) from scratch at 128x128 for PBC's 8 classes, cross-entropy
# only: the transformer reference of the PBC runs (baselines/vit-s16_pbc*.py).
_base_ = ['mmpretrain::_base_/models/vit-base-p16.py']

model = dict(
    backbone=dict(arch='deit-small', img_size=128, init_cfg=None),
    head=dict(num_classes=8, in_channels=384,
              loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=None,
)
