# Fine-tuning a detector whose backbone starts from ImageNet weights, within a CPU budget
# (configs/lite_fpn): AdamW, lr 2e-4 for batch 2, weight decay 0.05 (none on norms and biases),
# gradient clipping at 35, a 100-iteration linear warm-up, then mmdet's 1x shape: 12 epochs with
# the lr divided by 10 at epochs 8 and 11. Validation at epochs 6 and 12, one checkpoint kept.
# Brings mmdet's default runtime along (cells_sgd_1x.py).
_base_ = ['./cells_sgd_1x.py']

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=12, milestones=[8, 11], gamma=0.1),
]
train_cfg = dict(max_epochs=12, val_interval=6)
default_hooks = dict(checkpoint=dict(interval=6, max_keep_ckpts=1))
