# The CPU-budget schedule shared by CellViT and its baselines on PBC (about an hour each on
# 2 cores with _base_/datasets/pbc.py's 128x128 inputs): 25 epochs, AdamW lr 1e-3 with 2 warm-up
# epochs and cosine decay. Brings mmpretrain's default runtime along.
_base_ = 'mmpretrain::_base_/default_runtime.py'

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=2, T_max=23, eta_min=1e-5),
]
train_cfg = dict(by_epoch=True, max_epochs=25, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=5, max_keep_ckpts=2, save_best='auto'))
auto_scale_lr = dict(base_batch_size=32)
randomness = dict(seed=0)
