# The classification paper's schedule (Wang et al., 2023, Sect. 4.2), shared by CellViT and every
# baseline on Munich AML: SGD momentum 0.9, weight decay 5e-4, lr 1e-3 divided by 10 at epochs
# 40/70/90, 100 epochs (batch 32, set by the dataset base). Brings mmpretrain's default runtime.
_base_ = 'mmpretrain::_base_/default_runtime.py'

optim_wrapper = dict(optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[40, 70, 90], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=5, max_keep_ckpts=2, save_best='auto'))
auto_scale_lr = dict(base_batch_size=32)
randomness = dict(seed=0)
