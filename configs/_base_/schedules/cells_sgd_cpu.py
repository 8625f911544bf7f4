# The detectors' CPU budget, from scratch: cells_sgd_1x.py cut to 6 epochs with steps at 4 and 5,
# lr 0.005 for batch 2 after a 100-iteration warm-up, validation at the end only.
_base_ = ['./cells_sgd_1x.py']

optim_wrapper = dict(optimizer=dict(lr=0.005))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=6, milestones=[4, 5], gamma=0.1),
]
train_cfg = dict(max_epochs=6, val_interval=6)
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=2))
