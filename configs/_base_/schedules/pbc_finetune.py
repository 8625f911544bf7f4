# Fine-tuning an ImageNet-pretrained classifier on PBC in minutes on 2 cores: 6 epochs, AdamW
# lr 1e-3 at batch 32 with one warm-up epoch and cosine decay; validation and one checkpoint at
# the end. Brings mmpretrain's default runtime along.
_base_ = 'mmpretrain::_base_/default_runtime.py'

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
                     clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=6, T_max=5, eta_min=1e-5,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=6)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=6, max_keep_ckpts=1, save_best=None))
auto_scale_lr = dict(base_batch_size=32)
randomness = dict(seed=0)
