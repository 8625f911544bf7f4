# CellViT trained from scratch on synthetic single-cell crops (no download), 96 px, a few epochs:
# the quick start's classification run (`make demo`), a couple of minutes on 2 CPU cores.
_base_ = [
    './_base_/models/cellvit.py',
    './_base_/datasets/synthetic_cells.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmcell'], allow_failed_imports=False)

model = dict(head=dict(num_classes=5))

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     clip_grad=dict(max_norm=5.0))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=6)
train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=2)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=2, max_keep_ckpts=2))
randomness = dict(seed=0)
